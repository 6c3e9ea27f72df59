// Pure parts of the Kubernetes controller: rollout progress, selectors, the one patch per workload, the status
// annotation, reading a live object through the shared manifest mapping, and the draining-pods rule in decide().
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY, decide, plan, type WorkloadSnapshot } from "../../src/core/index.js";
import {
  drainsDuringRollout,
  hpaTargetKey,
  isEnabled,
  rolloutProgress,
  selects,
  type WorkloadObject,
} from "../../src/kube/objects.js";
import { buildPatch } from "../../src/kube/patch.js";
import { parseStatus, statusKey, type WorkloadStatus } from "../../src/kube/status.js";
import { podLists, selectorString } from "../../src/kube/terminating-pods.js";
import { readWorkload } from "../../src/kube/workloads.js";

function deployment(extra: Partial<V1Deployment> = {}, annotations: Record<string, string> = {}): WorkloadObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      namespace: "shop",
      generation: 3,
      resourceVersion: "42",
      annotations: {
        "pooltuner.io/enabled": "true",
        "pooltuner.io/database": "main",
        "pooltuner.io/workers": "4",
        ...annotations,
      },
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          containers: [
            {
              name: "web",
              image: "x",
              env: [
                { name: "DB_POOL_SIZE", value: "2" },
                { name: "DB_MAX_OVERFLOW", valueFrom: { configMapKeyRef: { name: "cm", key: "k" } } },
              ],
            },
          ],
        },
      },
    },
    status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
    ...extra,
  } as WorkloadObject;
}

describe("rolloutProgress", () => {
  it("is complete when every replica is updated and available and the generation is observed", () => {
    expect(rolloutProgress(deployment(), "Deployment")).toEqual({ state: "complete" });
  });

  it("waits for the controller, for updated replicas, for old replicas to go and for availability", () => {
    const d = deployment();
    const with_ = (status: object) => ({ ...d, status: { ...d.status, ...status } }) as WorkloadObject;
    expect(rolloutProgress(with_({ observedGeneration: 2 }), "Deployment").state).toBe("progressing");
    expect(rolloutProgress(with_({ updatedReplicas: 1 }), "Deployment").state).toBe("progressing");
    expect(rolloutProgress(with_({ replicas: 3 }), "Deployment")).toEqual({
      state: "progressing",
      detail: "1 old replicas pending termination",
    });
    expect(rolloutProgress(with_({ availableReplicas: 1 }), "Deployment").state).toBe("progressing");
  });

  it("reports a Deployment past its progress deadline as stuck", () => {
    const d = deployment();
    const stuck = {
      ...d,
      status: {
        ...d.status,
        updatedReplicas: 1,
        conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }],
      },
    } as WorkloadObject;
    expect(rolloutProgress(stuck, "Deployment").state).toBe("stuck");
  });

  it("follows StatefulSet revisions and never waits on OnDelete", () => {
    const s = {
      metadata: { generation: 2 },
      spec: { replicas: 3, selector: {}, serviceName: "db", template: {} },
      status: { observedGeneration: 2, replicas: 3, updatedReplicas: 1, currentRevision: "a", updateRevision: "b" },
    } as unknown as V1StatefulSet as WorkloadObject;
    expect(rolloutProgress(s, "StatefulSet").state).toBe("progressing");
    const onDelete = { ...s, spec: { ...s.spec, updateStrategy: { type: "OnDelete" } } } as WorkloadObject;
    expect(rolloutProgress(onDelete, "StatefulSet").state).toBe("complete");
  });
});

describe("objects", () => {
  it("matches label selectors with matchLabels and matchExpressions, never an empty one", () => {
    const sel = {
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "tier", operator: "In", values: ["front", "edge"] },
        { key: "canary", operator: "DoesNotExist" },
      ],
    };
    expect(selects(sel, { app: "web", tier: "front" })).toBe(true);
    expect(selects(sel, { app: "web", tier: "back" })).toBe(false);
    expect(selects(sel, { app: "web", tier: "edge", canary: "1" })).toBe(false);
    expect(selects({}, { app: "web" })).toBe(false);
  });

  it("knows which workloads drain old pods while new ones run, HPA targets and opt-in", () => {
    expect(drainsDuringRollout(deployment(), "Deployment")).toBe(true);
    const recreate = deployment();
    (recreate.spec as { strategy?: object }).strategy = { type: "Recreate" };
    expect(drainsDuringRollout(recreate, "Deployment")).toBe(false);
    expect(drainsDuringRollout(deployment(), "StatefulSet")).toBe(false);
    expect(
      hpaTargetKey({
        metadata: { namespace: "shop" },
        spec: { scaleTargetRef: { kind: "Deployment", name: "web" } },
      } as never),
    ).toBe("shop/Deployment/web");
    expect(isEnabled(deployment({}, { "pooltuner.io/enabled": " TRUE " }))).toBe(true);
    expect(isEnabled(deployment({}, { "pooltuner.io/enabled": "yes" }))).toBe(false);
  });
});

describe("buildPatch", () => {
  const target = "web";
  const pair = (poolSize: number, maxOverflow: number) => [
    { name: "DB_POOL_SIZE", value: String(poolSize) },
    { name: "DB_MAX_OVERFLOW", value: String(maxOverflow) },
  ];

  it("sets only the values that change, replaces valueFrom by a literal, and guards with resourceVersion", () => {
    const p = buildPatch(deployment(), target, pair(2, 1), undefined);
    expect(p.envChanges).toEqual([{ name: "DB_MAX_OVERFLOW", from: "(valueFrom)", to: "1" }]);
    expect(p.body).toEqual({
      metadata: { resourceVersion: "42" },
      spec: {
        template: {
          spec: { containers: [{ name: "web", env: [{ name: "DB_MAX_OVERFLOW", value: "1", valueFrom: null }] }] },
        },
      },
    });
  });

  it("writes nothing when the values are already there and no status is due", () => {
    const d = deployment();
    const env = d.spec?.template?.spec?.containers[0]?.env ?? [];
    env[1] = { name: "DB_MAX_OVERFLOW", value: "1" };
    expect(buildPatch(d, target, pair(2, 1), undefined).body).toBeUndefined();
  });

  it("adds a missing env var and carries the status annotation in the same patch", () => {
    const d = deployment();
    (d.spec?.template?.spec?.containers[0] as { env: unknown[] }).env = [];
    const status = { v: 1, database: "main" } as WorkloadStatus;
    const p = buildPatch(d, target, pair(1, 2), status);
    expect(p.envChanges.map((c) => c.name)).toEqual(["DB_POOL_SIZE", "DB_MAX_OVERFLOW"]);
    const metadata = p.body?.metadata as { annotations?: Record<string, string> } | undefined;
    expect(metadata?.annotations?.["pooltuner.io/status"]).toBe(JSON.stringify(status));
  });
});

describe("status annotation", () => {
  const base: WorkloadStatus = {
    v: 1,
    database: "main",
    mode: "auto",
    recommended: { poolSize: 1, maxOverflow: 2, peak: 48 },
    pending: false,
    plan: {
      replicas: 2,
      plannedReplicas: 3,
      podsPeak: 4,
      workers: 4,
      processes: 16,
      currentPeak: 48,
      maxConnections: 60,
      usable: 56,
      allocated: 48,
      feasible: true,
    },
    updatedAt: "2026-01-01T00:00:00.000Z",
  };

  it("round-trips and ignores what is not ours or not readable", () => {
    expect(parseStatus(JSON.stringify(base))).toEqual(base);
    expect(parseStatus("{not json")).toBeUndefined();
    expect(parseStatus(JSON.stringify({ ...base, v: 99 }))).toBeUndefined();
    expect(parseStatus(undefined)).toBeUndefined();
  });

  it("needs a rewrite for new recommendations or processes, not for drifting numbers", () => {
    const drift = { ...base, plan: { ...base.plan, usable: 51, allocated: 40 }, updatedAt: "2026-01-02T00:00:00Z" };
    expect(statusKey(drift)).toBe(statusKey(base));
    expect(statusKey({ ...base, recommended: { poolSize: 1, maxOverflow: 1, peak: 32 } })).not.toBe(statusKey(base));
    expect(statusKey({ ...base, plan: { ...base.plan, processes: 20 } })).not.toBe(statusKey(base));
    expect(statusKey({ ...base, mode: "off" })).not.toBe(statusKey(base));
    // A pause set or lifted is written (the status says so); an old status without the field reads as not paused.
    expect(statusKey({ ...base, paused: true })).not.toBe(statusKey(base));
    expect(parseStatus(JSON.stringify({ ...base, paused: true }))?.paused).toBe(true);
  });

  it("needs no rewrite when only the surge advice's budget-derived parts drifted (issue 13: a restart)", () => {
    const advice = (connections: number, workers: number, without: string) =>
      `kube:shop/Deployment/web: the rollout surge (1 pod) costs ${connections} connections of the budget: with ` +
      `maxSurge: 0, maxUnavailable: 1 each process would get ${without} instead of 1+0 (3x the connections per ` +
      `process); no pod serves while its only pod is replaced; or, keeping the surge, ${workers} workers per pod ` +
      `would get 1+1 each (${workers * 4} connections at peak instead of 600)`;
    const surge = (workers: number, without = "1+2", connections = 300) => ({
      ...base,
      surge: {
        pods: 1,
        connections,
        withoutSurge: { poolSize: 1, maxOverflow: 2 },
        advice: advice(connections, workers, without),
      },
    });
    expect(statusKey(surge(233))).toBe(statusKey(surge(232)));
    expect(statusKey(surge(232, "1+1"))).toBe(statusKey(surge(232)));
    expect(statusKey(surge(232, "1+2", 150))).not.toBe(statusKey(surge(232)));
    expect(statusKey(surge(232))).not.toBe(statusKey(base));
  });
});

describe("readWorkload", () => {
  const hpa = {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: "web", namespace: "shop" },
    spec: { scaleTargetRef: { kind: "Deployment", name: "web" }, minReplicas: 2, maxReplicas: 6 },
  };

  it("maps a live Deployment and its HPA the way plan maps manifest files", () => {
    const w = readWorkload(deployment(), "Deployment", [hpa as never], ["main"]);
    expect(w.errors).toEqual([]);
    // No account and no readable DATABASE_URL: its own connections would look like other clients'.
    expect(w.warnings.some((x) => x.startsWith("pooltuner.io/account: not set"))).toBe(true);
    const withAccount = readWorkload(deployment({}, { "pooltuner.io/account": "shop" }), "Deployment", [], ["main"]);
    expect(withAccount.warnings.some((x) => x.startsWith("pooltuner.io/account"))).toBe(false);
    expect(w.databaseKnown).toBe(true);
    expect(w.container).toBe("web");
    expect(w.loaded?.workload).toMatchObject({
      id: "kube:shop/Deployment/web",
      database: "main",
      replicas: 2,
      hpa: { minReplicas: 2, maxReplicas: 6 },
      workers: 4,
      current: { poolSize: 2 },
    });
  });

  it("turns each mistake into an error line on its workload", () => {
    expect(
      readWorkload(deployment({}, { "pooltuner.io/database": "nope" }), "Deployment", [], ["main"]).errors,
    ).toEqual(['pooltuner.io/database="nope": unknown database; the controller has main']);
    const noDb = deployment();
    delete noDb.metadata?.annotations?.["pooltuner.io/database"];
    expect(readWorkload(noDb, "Deployment", [], ["main"]).database).toBe("main");
    expect(readWorkload(noDb, "Deployment", [], ["a", "b"]).errors[0]).toContain("pooltuner.io/database: not set");
    const missing = readWorkload(deployment({}, { "pooltuner.io/container": "sidecar" }), "Deployment", [], ["main"]);
    expect(missing.loaded).toBeUndefined();
    expect(missing.errors[0]).toContain('no container named "sidecar"');
  });

  it("a live object without a worker count: planned as unknown, one error line naming the annotation", () => {
    const noWorkers = deployment({}, { "pooltuner.io/max-replicas": "5" });
    delete noWorkers.metadata?.annotations?.["pooltuner.io/workers"];
    const w = readWorkload(noWorkers, "Deployment", [], ["main"]);
    expect(w.loaded?.workload).toMatchObject({ workers: "unknown", maxReplicas: 5 });
    expect(w.errors).toEqual([
      expect.stringMatching(
        /^pooltuner\.io\/workers: worker processes per container unknown: .*set pooltuner\.io\/workers /,
      ),
    ]);
  });
});

describe("decide with draining pods", () => {
  // 10 usable; "a" runs 1 process at cap 1 and could have 3. With its old pod still holding 1 while the new one
  // runs at 3, the increase needs 4 on top of the others.
  const ws = (others: number): WorkloadSnapshot[] => [
    {
      id: "a",
      kind: "Deployment",
      database: "db",
      replicas: 1,
      rollout: { type: "Recreate" },
      workers: 1,
      current: { poolSize: 1, maxOverflow: 0 },
    },
    {
      id: "b",
      kind: "Deployment",
      database: "db",
      replicas: 1,
      rollout: { type: "Recreate" },
      workers: others,
      current: { poolSize: 1, maxOverflow: 0 },
    },
  ];
  const snap = (others: number) => ({
    databases: [{ name: "db", maxConnections: 10, unmanaged: 0, reserve: { absolute: 0, percent: 0 } }],
    workloads: ws(others),
  });
  const damping = { cooldownMs: 0, minGain: 1 };

  it("holds an increase whose old pods would not fit alongside the new ones", () => {
    const p = plan(snap(6), DEFAULT_POLICY);
    expect(p.workloads.find((w) => w.id === "a")?.recommended?.cap).toBe(3);
    const states = new Map([["a", { updateMode: "auto" as const, drainingPeak: 1 }]]);
    // b holds 6 now: 6 + 3 + 1 draining = 10 fits; with b at 7 it would not.
    expect(decide(p, states, 0, damping).apply.map((x) => x.workload)).toContain("a");
    const tight = plan(snap(7), DEFAULT_POLICY);
    const d = decide(tight, states, 0, damping);
    expect(tight.workloads.find((w) => w.id === "a")?.recommended?.cap).toBe(3);
    expect(d.apply.map((x) => x.workload)).not.toContain("a");
    expect(d.deferred).toContainEqual({ workload: "a", reason: "would-exceed-now" });
  });
});

describe("selectorString", () => {
  it("writes label selectors in the API's syntax", () => {
    expect(
      selectorString({
        matchLabels: { app: "web" },
        matchExpressions: [
          { key: "tier", operator: "In", values: ["a", "b"] },
          { key: "canary", operator: "DoesNotExist" },
          { key: "zone", operator: "Exists" },
          { key: "env", operator: "NotIn", values: ["dev"] },
        ],
      }),
    ).toBe("app=web,tier in (a,b),!canary,zone,env notin (dev)");
    expect(selectorString({})).toBeUndefined();
  });
});

describe("podLists", () => {
  const w = (name: string, namespace: string, selector: object) => ({
    key: `${namespace}/Deployment/${name}`,
    namespace,
    object: { spec: { selector } } as WorkloadObject,
  });
  it("covers the workloads of a namespace with one-label selectors by one LIST, any other selector by its own", () => {
    const lists = podLists([
      w("a", "shop", { matchLabels: { app: "a" } }),
      w("x", "shop", { matchLabels: { app: "x", tier: "web" } }),
      w("b", "shop", { matchLabels: { app: "b" } }),
      w("c", "blog", { matchLabels: { app: "c" } }),
      w("d", "shop", { matchLabels: { name: "d" } }),
      w("e", "shop", { matchLabels: { app: "" } }),
    ]);
    expect(lists.map((l) => [l.namespace, l.labelSelector, l.members.map((m) => m.key.split("/")[2])])).toEqual([
      ["shop", "app in (a,b)", ["a", "b"]],
      ["shop", "app=x,tier=web", ["x"]],
      ["blog", "app in (c)", ["c"]],
      ["shop", "name in (d)", ["d"]],
      ["shop", "app=", ["e"]],
    ]);
  });
});
