// Smoke suite of the Kubernetes test bed: proves the control plane is real (controllers roll Deployments out, the
// scheduler binds pods, kwok runs them, autoscaling/v2 is served, RBAC refuses what it was not asked to allow).
import { randomBytes } from "node:crypto";
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  VersionApi,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  adminKubeConfig,
  applyManifest,
  eventually,
  isApiError,
  serviceAccountKubeConfig,
} from "../../support/cluster.js";

// client-node 2.x sends JSON Patch unless told otherwise; these patches are merge patches.
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const namespace = `smoke-${randomBytes(3).toString("hex")}`;
const app = "web";

let admin: KubeConfig;
let apps: AppsV1Api;
let core: CoreV1Api;

function deployment(replicas: number): V1Deployment {
  return {
    metadata: { name: app, namespace, labels: { app } },
    spec: {
      replicas,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app } },
        spec: {
          containers: [
            {
              name: "app",
              image: "pooltuner.invalid/example-app:1",
              env: [{ name: "DB_POOL_SIZE", value: "5" }],
              resources: { requests: { cpu: "100m", memory: "64Mi" } },
            },
          ],
        },
      },
    },
  };
}

async function runningPods(): Promise<string[]> {
  const pods = await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return pods.items
    .filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp)
    .map((p) => p.metadata?.name ?? "");
}

/** Resolves once exactly `n` pods run and the Deployment reports every replica updated and available. */
async function rolledOut(n: number): Promise<V1Deployment> {
  return eventually(`${n} running, updated pods of ${namespace}/${app}`, async () => {
    const d = await apps.readNamespacedDeployment({ namespace, name: app });
    const s = d.status;
    const done =
      s?.observedGeneration === d.metadata?.generation &&
      s?.updatedReplicas === n &&
      s?.availableReplicas === n &&
      s?.replicas === n;
    return done && (await runningPods()).length === n ? d : undefined;
  });
}

beforeAll(async () => {
  admin = adminKubeConfig(inject("kube").kubeconfigPath);
  apps = admin.makeApiClient(AppsV1Api);
  core = admin.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // Admission is on: pods need the namespace's default ServiceAccount, which the controller-manager creates.
  await eventually("the default ServiceAccount", async () =>
    core.readNamespacedServiceAccount({ namespace, name: "default" }),
  );
});

afterAll(async () => {
  await core?.deleteNamespace({ name: namespace });
});

describe("kube test bed", () => {
  it("serves the pinned Kubernetes version with a Ready fake node", async () => {
    const version = await admin.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe("v1.34.4");
    const nodes = await core.listNode();
    const ready = nodes.items.filter((n) =>
      n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
    expect(ready.map((n) => n.metadata?.name)).toContain("kwok-node-0");
    // Code under test that reads the environment finds the same cluster as inject().
    expect(process.env.KUBECONFIG_POOLTUNER_TEST).toBe(inject("kube").kubeconfigPath);
  });

  it("runs a Deployment's 3 replicas", async () => {
    await apps.createNamespacedDeployment({ namespace, body: deployment(3) });
    await rolledOut(3);
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
    expect(pods.items.filter((p) => p.status?.phase === "Running")).toHaveLength(3);
    expect(new Set(pods.items.map((p) => p.spec?.nodeName))).toEqual(new Set(["kwok-node-0"]));
  });

  it("scales to 5", async () => {
    await apps.patchNamespacedDeploymentScale(
      {
        namespace,
        name: app,
        body: { spec: { replicas: 5 } },
      },
      mergePatch,
    );
    const d = await rolledOut(5);
    expect(d.spec?.replicas).toBe(5);
  });

  it("rolls out a new ReplicaSet when an env var in the template changes", async () => {
    const before = await apps.listNamespacedReplicaSet({ namespace, labelSelector: `app=${app}` });
    expect(before.items).toHaveLength(1);
    const oldHash = before.items[0]?.metadata?.labels?.["pod-template-hash"];

    const d = await apps.readNamespacedDeployment({ namespace, name: app });
    const container = d.spec?.template.spec?.containers[0];
    if (!container) throw new Error("deployment has no container");
    container.env = [{ name: "DB_POOL_SIZE", value: "3" }];
    await apps.replaceNamespacedDeployment({ namespace, name: app, body: d });
    await rolledOut(5);

    const after = await eventually("the old ReplicaSet scaled to 0", async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace, labelSelector: `app=${app}` });
      return list.items.every((rs) => rs.metadata?.labels?.["pod-template-hash"] !== oldHash || rs.spec?.replicas === 0)
        ? list
        : undefined;
    });
    expect(after.items).toHaveLength(2);
    const current = after.items.find((rs) => rs.metadata?.labels?.["pod-template-hash"] !== oldHash);
    expect(current?.status?.readyReplicas).toBe(5);
    expect(current?.spec?.template?.spec?.containers[0]?.env).toEqual([{ name: "DB_POOL_SIZE", value: "3" }]);
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
    const live = pods.items.filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp);
    expect(live.map((p) => p.spec?.containers[0]?.env?.[0]?.value)).toEqual(["3", "3", "3", "3", "3"]);
  });

  it("stores an autoscaling/v2 HorizontalPodAutoscaler and reads it back", async () => {
    const hpa = admin.makeApiClient(AutoscalingV2Api);
    await hpa.createNamespacedHorizontalPodAutoscaler({
      namespace,
      body: {
        metadata: { name: app, namespace },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: app },
          minReplicas: 2,
          maxReplicas: 8,
          metrics: [
            { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
          ],
        },
      },
    });
    const read = await hpa.readNamespacedHorizontalPodAutoscaler({ namespace, name: app });
    expect(read.apiVersion).toBe("autoscaling/v2");
    expect(read.spec.maxReplicas).toBe(8);
    expect(read.spec.minReplicas).toBe(2);
    expect(read.spec.metrics?.[0]?.resource?.target.averageUtilization).toBe(70);
  });

  it("refuses (403) what a ServiceAccount's Role does not grant, and allows what it does", async () => {
    await applyManifest(
      admin,
      {
        yaml: `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules:
  - {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
  - {kind: ServiceAccount, name: reader, namespace: ${namespace}}
`,
      },
      namespace,
    );
    const reader = await serviceAccountKubeConfig(admin, { namespace, name: "reader" });

    const pods = await eventually("the RoleBinding to take effect", async () =>
      reader.makeApiClient(CoreV1Api).listNamespacedPod({ namespace }),
    );
    expect(pods.items.length).toBeGreaterThanOrEqual(5);

    const denied = await reader
      .makeApiClient(AppsV1Api)
      .patchNamespacedDeploymentScale({ namespace, name: app, body: { spec: { replicas: 1 } } }, mergePatch)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isApiError(denied, 403)).toBe(true);
    const secrets = await reader
      .makeApiClient(CoreV1Api)
      .listNamespacedSecret({ namespace })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isApiError(secrets, 403)).toBe(true);
    const d = await apps.readNamespacedDeployment({ namespace, name: app });
    expect(d.spec?.replicas).toBe(5);
  });
});
