// Terminating pods keep their connections until their processes exit, and a Deployment reports its rollout complete
// without counting them (KEP-3973). pooltuner bounds them: it restarts the next workload of the same database only
// once no pod of that database's workloads is still terminating. Here the old pods are held in Terminating by a
// finalizer (kwok deletes a terminating pod only when it has none), so the wait is observable.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import {
  type Cluster,
  cluster,
  createApp,
  createNamespace,
  type Database,
  database,
  eventually2,
  getDeployment,
  mergePatch,
  poolOf,
  rolledOut,
  runController,
  seedApp,
  sleep,
} from "./harness.js";

const HOLD = "pooltuner.io/test-hold";
let c: Cluster;
let db: Database;
let ns: string;
let controller: RunningController;

async function terminatingPods(app: string) {
  const pods = await c.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
  return pods.items.filter((p) => p.metadata?.deletionTimestamp);
}

async function release(app: string) {
  for (const p of (await c.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items) {
    if (!p.metadata?.finalizers?.includes(HOLD)) continue;
    await c.core.patchNamespacedPod(
      { name: p.metadata.name as string, namespace: ns, body: { metadata: { finalizers: null } } },
      mergePatch,
    );
  }
}

beforeAll(async () => {
  c = await cluster();
  // Two workloads of (2 + 1 surge) pods x 4 workers = 12 processes at 2 + 3 (60 each) on 56 usable: both must shrink.
  db = await database("ctl-terminating", 60);
  await db.db.query("SELECT 1");
  ns = await createNamespace(c, "terminating");
  for (const name of ["alpha", "beta"]) {
    await createApp(c, seedApp(name, ns, "main", { podFinalizers: [HOLD] }));
    await rolledOut(c, ns, name);
  }
  controller = await runController(c, { databases: [{ name: "main", url: db.monitorUrl }], namespaces: [ns] });
});

afterAll(async () => {
  await controller?.stop();
  for (const app of ["alpha", "beta"]) await release(app).catch(() => undefined);
  await db?.db.stop();
});

describe("terminating pods", () => {
  it("waits for the first workload's old pods to finish terminating before restarting the next", async () => {
    // The larger excess goes first; both are equal here, so the first by name: alpha.
    await eventually2("alpha patched", async () =>
      poolOf(await getDeployment(c, ns, "alpha")).poolSize === 1 ? true : undefined,
    );
    await rolledOut(c, ns, "alpha");
    // The Deployment says complete while its old pods still hold connections.
    const held = await eventually2("alpha's old pods terminating", async () => {
      const t = await terminatingPods("alpha");
      return t.length === 2 ? t : undefined;
    });
    expect(held.every((p) => p.spec?.containers[0]?.env?.find((e) => e.name === "DB_POOL_SIZE")?.value === "2")).toBe(
      true,
    );

    // Several reconciles later, beta is still untouched, and the controller says why.
    await sleep(4_000);
    expect(poolOf(await getDeployment(c, ns, "beta"))).toEqual({ poolSize: 2, maxOverflow: 3 });
    const report = controller.reconciler.lastReport.get("main");
    expect(report?.deferred).toContainEqual({ workload: `kube:${ns}/Deployment/beta`, reason: "pods-terminating" });

    // Once they are gone, beta goes.
    await release("alpha");
    await eventually2("alpha's old pods gone", async () =>
      (await terminatingPods("alpha")).length === 0 ? true : undefined,
    );
    const started = Date.now();
    await eventually2(
      "beta patched",
      async () => (poolOf(await getDeployment(c, ns, "beta")).poolSize === 1 ? true : undefined),
      20_000,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
