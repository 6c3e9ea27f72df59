// What the informer cache keeps (src/kube/cached-fields.ts): a workload not opted in shrinks to its identity, an
// opted-in one loses only fields the controller never reads — so the planner's view of it, and the patch built from
// it, are the same as from the object the API server sent. The `pooltuner.io/enabled` label opts in like the
// annotation.
import type { V1Deployment } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { slimHpa, slimNamespace, slimWorkload } from "../../src/kube/cached-fields.js";
import { type HpaObject, hasPooltunerKeys, isEnabled, type WorkloadObject } from "../../src/kube/objects.js";
import { buildPatch } from "../../src/kube/patch.js";
import { readWorkload } from "../../src/kube/workloads.js";

const managedFields = [{ manager: "kubectl", operation: "Apply", fieldsV1: { "f:spec": { "f:replicas": {} } } }];

function full(annotations: Record<string, string>, labels: Record<string, string> = {}): WorkloadObject {
  const d: V1Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      namespace: "shop",
      uid: "u-1",
      generation: 4,
      resourceVersion: "77",
      creationTimestamp: new Date("2026-01-01T00:00:00Z"),
      labels: { app: "web", ...labels },
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ big: "x".repeat(5000) }),
        "example.com/owner": "team-a",
        ...annotations,
      },
      managedFields: managedFields as never,
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "50%" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          containers: [
            {
              name: "web",
              image: "x",
              command: ["gunicorn", "--workers", "3"],
              env: [
                { name: "DB_POOL_SIZE", value: "2" },
                { name: "DB_MAX_OVERFLOW", value: "3" },
              ],
              resources: { limits: { cpu: "2", memory: "2Gi" } },
            },
          ],
        },
      },
    },
    status: {
      observedGeneration: 4,
      replicas: 3,
      updatedReplicas: 3,
      availableReplicas: 3,
      conditions: [
        { type: "Available", status: "True" },
        { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" },
      ],
    },
  };
  return d as WorkloadObject;
}

const optedIn = { "pooltuner.io/enabled": "true", "pooltuner.io/database": "main" };

describe("slimWorkload", () => {
  it("keeps only the identity and our keys of a workload that is not opted in", () => {
    const o = full({}, {});
    expect(slimWorkload(o)).toBe(o);
    expect(o).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "shop", uid: "u-1", generation: 4, resourceVersion: "77" },
    });
    expect(JSON.stringify(o).length).toBeLessThan(200);
  });

  it("keeps a status annotation left from an earlier opt-in, and nothing else of ours is lost", () => {
    const o = slimWorkload(full({ "pooltuner.io/status": '{"v":1}' }));
    expect(o.metadata?.annotations).toEqual({ "pooltuner.io/status": '{"v":1}' });
    expect(hasPooltunerKeys(o)).toBe(false);
  });

  it("gives the planner the same view of an opted-in workload, and the same patch", () => {
    const before = full(optedIn);
    const after = slimWorkload(full(optedIn));
    const view = (o: WorkloadObject) => {
      const w = readWorkload(o, "Deployment", [], ["main"]);
      return { loaded: w.loaded, options: w.options, errors: w.errors, warnings: w.warnings, container: w.container };
    };
    expect(view(after)).toEqual(view(before));
    const to = [
      { name: "DB_POOL_SIZE", value: "1" },
      { name: "DB_MAX_OVERFLOW", value: "1" },
    ];
    expect(buildPatch(after, "web", to, undefined)).toEqual(buildPatch(before, "web", to, undefined));
    // What was shed: managedFields, kubectl's copy of the object, conditions other than Progressing.
    expect(after.metadata?.managedFields).toBeUndefined();
    expect(Object.keys(after.metadata?.annotations ?? {})).not.toContain(
      "kubectl.kubernetes.io/last-applied-configuration",
    );
    expect(after.status?.conditions?.map((c) => c.type)).toEqual(["Progressing"]);
  });
});

describe("the pooltuner.io/enabled label", () => {
  it("opts a workload in like the annotation, and keeps it whole in the cache", () => {
    const o = full({ "pooltuner.io/database": "main" }, { "pooltuner.io/enabled": "true" });
    expect(isEnabled(o)).toBe(true);
    const w = readWorkload(slimWorkload(o), "Deployment", [], ["main"]);
    expect(w.enabled).toBe(true);
    expect(w.loaded?.workload.replicas).toBe(3);
  });

  it("is overridden by an annotation that says otherwise", () => {
    const o = full({ "pooltuner.io/enabled": "false" }, { "pooltuner.io/enabled": "true" });
    expect(isEnabled(o)).toBe(false);
  });

  it("alone keeps a workload worth a look", () => {
    expect(hasPooltunerKeys(full({}, { "pooltuner.io/enabled": "true" }))).toBe(true);
  });
});

describe("slimHpa and slimNamespace", () => {
  it("keep an HPA's target and bounds, and a Namespace's own annotations", () => {
    const h = slimHpa({
      metadata: {
        name: "web",
        namespace: "shop",
        uid: "h",
        resourceVersion: "9",
        managedFields: managedFields as never,
      },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization" } } }],
      },
      status: { currentReplicas: 2, desiredReplicas: 2 },
    } as HpaObject);
    expect(h).toEqual({
      metadata: { name: "web", namespace: "shop", uid: "h", resourceVersion: "9" },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
        minReplicas: 2,
        maxReplicas: 10,
      },
    });
    const n = slimNamespace({
      metadata: { name: "shop", annotations: { "pooltuner.io/paused": "true", other: "x" }, labels: { a: "b" } },
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    });
    expect(n).toEqual({ metadata: { name: "shop", annotations: { "pooltuner.io/paused": "true" } } });
  });
});
