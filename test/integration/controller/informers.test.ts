// Informers that survive errors: client-node stops an informer for good on any error but 410, so ours restart with
// backoff, and a watchdog restarts a stream that went silent. A failed LIST must never look like "no workloads":
// until the cache has synced, the controller changes nothing.
import { RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slimWorkload } from "../../../src/kube/cached-fields.js";
import type { RunningController } from "../../../src/kube/controller.js";
import { type ListPage, ResilientInformer } from "../../../src/kube/informer.js";
import type { WorkloadObject } from "../../../src/kube/objects.js";
import { serviceAccountKubeConfig } from "../../support/cluster.js";
import {
  type Cluster,
  CONTROLLER_NAMESPACE,
  cluster,
  converged,
  createApp,
  createNamespace,
  type Database,
  database,
  deploymentOf,
  eventually2,
  getDeployment,
  mergePatch,
  metricValue,
  poolOf,
  rolledOut,
  runController,
  seedApp,
  sleep,
} from "./harness.js";

let c: Cluster;
let db: Database;
const running: RunningController[] = [];

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-informers", 60);
});

afterAll(async () => {
  for (const r of running) await r.stop();
  await db?.db.stop();
});

describe("informers", () => {
  it("keep retrying a LIST the API refuses, change nothing meanwhile, and recover when it is allowed", async () => {
    const ns = await createNamespace(c, "informers-rbac");
    await createApp(c, seedApp("web", ns, "main"));
    await rolledOut(c, ns, "web");
    // A ServiceAccount that has no rights yet: every LIST gets 403.
    const sa = `flaky-${ns}`;
    const kubeConfig = await serviceAccountKubeConfig(c.admin, { namespace: CONTROLLER_NAMESPACE, name: sa });
    const ctl = await runController(
      { ...c, controllerKubeConfig: kubeConfig },
      {
        databases: [{ name: "main", url: db.monitorUrl }],
        namespaces: [ns],
      },
    );
    running.push(ctl);
    await eventually2("informer restarts after 403", async () => {
      const n = await metricValue(ctl, "pooltuner_informer_restarts_total", { reason: "error" });
      return n !== undefined && n >= 1 ? n : undefined;
    });
    await sleep(2_000);
    expect(ctl.ready()).toBe(false);
    expect(ctl.reconciler.lastReport.get("main")?.outcome).toBe("not-synced");
    expect(poolOf(await getDeployment(c, ns, "web"))).toEqual({ poolSize: 2, maxOverflow: 3 });

    // Grant the manifests' ClusterRole: the informers recover by themselves and the controller acts.
    await c.admin.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
      body: {
        metadata: { name: sa },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "pooltuner-controller" },
        subjects: [{ kind: "ServiceAccount", name: sa, namespace: CONTROLLER_NAMESPACE }],
      },
    });
    await eventually2("controller ready", async () => (ctl.ready() ? true : undefined), 60_000);
    const d = await converged(c, ns, "web", 60_000);
    expect(poolOf(d)).toEqual({ poolSize: 1, maxOverflow: 2 });
    await ctl.stop();
  });

  it("restart a silent stream through the watchdog and keep seeing changes", async () => {
    const ns = await createNamespace(c, "informers-quiet");
    await createApp(c, seedApp("web", ns, "main"));
    const ctl = await runController(c, {
      databases: [{ name: "main", url: db.monitorUrl }],
      namespaces: [ns],
      watchdogMs: 1_500,
    });
    running.push(ctl);
    await converged(c, ns, "web");
    await eventually2("watchdog restarts", async () => {
      const n = await metricValue(ctl, "pooltuner_informer_restarts_total", {
        informer: `deployments/${ns}`,
        reason: "watchdog",
      });
      return n !== undefined && n >= 2 ? n : undefined;
    });
    // A change after the restarts is still seen: a smaller server makes the controller lower the values.
    await c.apps.patchNamespacedDeployment(
      { name: "web", namespace: ns, body: { metadata: { annotations: { "pooltuner.io/workers": "16" } } } },
      mergePatch,
    );
    // (2 + 1) pods x 16 workers = 48 processes: only 1 per process fits 56.
    await eventually2("change seen after watchdog restarts", async () => {
      const x = await getDeployment(c, ns, "web");
      return poolOf(x).maxOverflow === 0 ? x : undefined;
    });
    expect(ctl.cache.restarts()).toBeGreaterThanOrEqual(2);
    await ctl.stop();
  });

  it("read a LIST in pages and keep only the identity of a workload that is not opted in", async () => {
    const ns = await createNamespace(c, "informers-pages");
    const plain = ["plain-0", "plain-1", "plain-2", "plain-3", "plain-4"];
    for (const name of plain) {
      await c.apps.createNamespacedDeployment({ namespace: ns, body: deploymentOf({ name, namespace: ns }) });
    }
    await createApp(c, seedApp("web", ns, "main"));
    const pages: ListPage[] = [];
    const informer = new ResilientInformer<WorkloadObject>({
      name: `deployments/${ns}`,
      kubeConfig: c.admin,
      path: `/apis/apps/v1/namespaces/${ns}/deployments`,
      list: (page) => {
        pages.push(page);
        return c.apps.listNamespacedDeployment({ namespace: ns, ...page });
      },
      pageSize: 2,
      kind: "Deployment",
      apiVersion: "apps/v1",
      transform: slimWorkload,
      onEvent: () => undefined,
    });
    informer.start();
    try {
      await eventually2("synced", async () => (informer.hasSynced() ? true : undefined));
      // 6 objects, 2 a page: 3 LISTs, the later ones continuing the first.
      expect(pages.map((p) => [p.limit, p._continue !== undefined])).toEqual([
        [2, false],
        [2, true],
        [2, true],
      ]);
      expect(
        informer
          .list()
          .map((o) => o.metadata?.name)
          .sort(),
      ).toEqual([...plain, "web"]);
      const stored = await c.apps.readNamespacedDeployment({ name: "plain-0", namespace: ns });
      expect(informer.get("plain-0", ns)).toEqual({
        kind: "Deployment",
        apiVersion: "apps/v1",
        metadata: {
          name: "plain-0",
          namespace: ns,
          uid: stored.metadata?.uid,
          resourceVersion: stored.metadata?.resourceVersion,
          generation: 1,
        },
      });
      const web = informer.get("web", ns);
      expect(web?.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === "GUNICORN_WORKERS")?.value).toBe("4");
      expect(web?.metadata?.managedFields).toBeUndefined();
    } finally {
      await informer.stop();
    }
  });

  it("opt in by label: with the selector pooltuner.io/enabled=true only labelled workloads are listed and planned", async () => {
    const ns = await createNamespace(c, "informers-label");
    // Opted in by the label alone (the admission policy must let the patch through for it too).
    const labelled = deploymentOf(seedApp("labelled", ns, "main"));
    delete labelled.metadata?.annotations?.["pooltuner.io/enabled"];
    labelled.metadata = { ...labelled.metadata, labels: { "pooltuner.io/enabled": "true" } };
    await c.apps.createNamespacedDeployment({ namespace: ns, body: labelled });
    // Annotated but not labelled: outside the selector, so never seen.
    await createApp(c, seedApp("annotated", ns, "main"));
    await rolledOut(c, ns, "labelled");
    await rolledOut(c, ns, "annotated");
    const annotatedBefore = await getDeployment(c, ns, "annotated");
    const ctl = await runController(c, {
      databases: [{ name: "main", url: db.monitorUrl }],
      namespaces: [ns],
      labelSelector: "pooltuner.io/enabled=true",
    });
    running.push(ctl);
    // (2 + 1) pods x 4 workers x (2 + 3) = 60 connections do not fit a server of 60: the pool must shrink.
    await eventually2("the labelled workload patched", async () => {
      const d = await getDeployment(c, ns, "labelled");
      const p = poolOf(d);
      return p.poolSize + p.maxOverflow < 5 ? d : undefined;
    });
    expect(ctl.cache.getWorkload("Deployment", ns, "annotated")).toBeUndefined();
    const annotatedAfter = await getDeployment(c, ns, "annotated");
    expect(annotatedAfter.metadata?.resourceVersion).toBe(annotatedBefore.metadata?.resourceVersion);
    await ctl.stop();
  });
});
