// Issue 12 on a real control plane. Pause: a paused workload is planned and counted but never patched, neither for a
// decrease (which raises Warning Paused again every poll interval) nor for an increase; lifting the pause (on the
// workload, or on its Namespace) lets each change go. Freeze: a rollout pooltuner started that never completes (its
// new pods cannot be scheduled: the node lost the label the pods select) freezes its database: another workload's
// decrease waits, and goes once the stuck rollout completes (the label is back, the pods start).
//
// Numbers (default table row for 2 CPUs / 2 GiB: 1 + 2): each app is 1 replica + 1 surge pod x 4 workers = 8
// processes; two apps on a database = 16 processes. max_connections 40: usable = 40 - reserve 2 - the few
// connections of other clients, so 16 x 3 = 48 does not fit and 16 x 2 = 32 does: each gets 1 + 1 (peak 16).
import type { V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import {
  type Cluster,
  cluster,
  createApp,
  createNamespace,
  type Database,
  database,
  deploymentOf,
  eventsFor,
  eventually2,
  getDeployment,
  mergePatch,
  metricValue,
  poolOf,
  rolledOut,
  runController,
  seedApp,
  statusOf,
} from "./harness.js";

const POLL_MS = 1_000;
let c: Cluster;
let pauseDb: Database;
let freezeDb: Database;
let nsA: string;
let nsB: string;
let nsF: string;
let controller: RunningController;
let node: V1Node;
const LABEL = `pooltuner-test/freeze-${process.pid}`;

const one = { replicas: 1, env: env(2, 3) };
function env(poolSize: number, maxOverflow: number) {
  return [
    { name: "GUNICORN_WORKERS", value: "4" },
    { name: "DB_POOL_SIZE", value: String(poolSize) },
    { name: "DB_MAX_OVERFLOW", value: String(maxOverflow) },
  ];
}

async function labelNode(value: string | null): Promise<void> {
  await c.core.patchNode(
    { name: node.metadata?.name ?? "", body: { metadata: { labels: { [LABEL]: value } } } },
    mergePatch,
  );
}

beforeAll(async () => {
  c = await cluster();
  [pauseDb, freezeDb] = await Promise.all([database("ctl-pause", 40), database("ctl-freeze", 40)]);
  nsA = await createNamespace(c, "pause-a");
  nsB = await createNamespace(c, "pause-b");
  nsF = await createNamespace(c, "freeze");
  // nsB is paused as a whole; p1 in nsA by its own annotation.
  await c.core.patchNamespace(
    { name: nsB, body: { metadata: { annotations: { "pooltuner.io/paused": "true" } } } },
    mergePatch,
  );
  await createApp(c, seedApp("p1", nsA, "pause", { ...one, annotations: { "pooltuner.io/paused": "true" } }));
  await createApp(c, seedApp("p2", nsB, "pause", { replicas: 1, env: env(1, 0) }));
  // The freeze apps' pods select a node label that is there now, and taken away before pooltuner's rollout.
  const nodes = (await c.core.listNode()).items.filter((n) => !n.spec?.unschedulable);
  node = nodes[0] as V1Node;
  await labelNode("yes");
  for (const [name, pool] of [
    ["stuck", env(2, 3)],
    ["other", env(1, 2)],
  ] as const) {
    const d = deploymentOf(seedApp(name, nsF, "freeze", { replicas: 1, env: [...pool] }));
    const pod = d.spec?.template.spec;
    if (pod) pod.nodeSelector = { [LABEL]: "yes" };
    await c.apps.createNamespacedDeployment({ namespace: nsF, body: d });
  }
  await Promise.all([
    rolledOut(c, nsA, "p1"),
    rolledOut(c, nsB, "p2"),
    rolledOut(c, nsF, "stuck"),
    rolledOut(c, nsF, "other"),
  ]);
  // The running pods stay; any new one (pooltuner's rollout of "stuck") cannot be scheduled until the label is back.
  await labelNode(null);
}, 120_000);

afterAll(async () => {
  await controller?.stop();
  if (node) await labelNode(null).catch(() => undefined);
  await Promise.all([pauseDb?.db.stop(), freezeDb?.db.stop()]);
});

describe("pause", () => {
  it("holds a decrease (Warning Paused, repeated) and an increase; lifting each pause lets its change go", async () => {
    controller = await runController(c, {
      databases: [
        { name: "pause", url: pauseDb.monitorUrl },
        { name: "freeze", url: freezeDb.monitorUrl },
      ],
      namespaces: [nsA, nsB, nsF],
      pollIntervalMs: POLL_MS,
      rolloutTimeoutMs: 3_000,
    });
    // p1 needs 2+3 -> 1+1 and is paused: two Paused events (one per poll interval), the status says so.
    const paused = await eventually2("two Warning Paused events on p1", async () => {
      const evs = (await eventsFor(c, nsA, "p1")).filter((e) => e.reason === "Paused");
      return evs.length >= 2 ? evs : undefined;
    });
    expect(paused[0]?.type).toBe("Warning");
    expect(paused[0]?.message).toContain("pooltuner.io/paused annotation of Deployment");
    expect(paused[0]?.message).toContain("2+3 -> 1+1");
    const p1 = await getDeployment(c, nsA, "p1");
    expect(poolOf(p1)).toEqual({ poolSize: 2, maxOverflow: 3 });
    expect(statusOf(p1)).toMatchObject({ paused: true, pending: true, recommended: { poolSize: 1, maxOverflow: 1 } });
    expect(await metricValue(controller, "pooltuner_workload_paused", { workload: `kube:${nsA}/Deployment/p1` })).toBe(
      1,
    );
    // p2 (paused by its Namespace) would increase 1+0 -> 1+1, but never a Paused event: it is not a decrease.
    const p2 = await getDeployment(c, nsB, "p2");
    expect(poolOf(p2)).toEqual({ poolSize: 1, maxOverflow: 0 });
    expect((await eventsFor(c, nsB, "p2")).filter((e) => e.reason === "Paused")).toEqual([]);

    // Lift p1's pause: its decrease goes at once.
    await c.apps.patchNamespacedDeployment(
      { name: "p1", namespace: nsA, body: { metadata: { annotations: { "pooltuner.io/paused": null } } } },
      mergePatch,
    );
    await eventually2("p1 decreased", async () =>
      poolOf(await getDeployment(c, nsA, "p1")).poolSize === 1 ? true : undefined,
    );
    expect(poolOf(await getDeployment(c, nsA, "p1"))).toEqual({ poolSize: 1, maxOverflow: 1 });
    await rolledOut(c, nsA, "p1");
    // p2's increase now fits (16 + 16 <= usable) and is past its cooldown (2 s): only its Namespace's pause holds it.
    const held = await eventually2("p2's increase held as paused", async () => {
      const r = controller.reconciler.lastReport.get("pause");
      const d = r?.deferred.find((x) => x.workload === `kube:${nsB}/Deployment/p2`);
      return d?.reason === "paused" && r?.plan?.workloads.find((w) => w.id.endsWith("/p2"))?.change === "increase"
        ? d
        : undefined;
    });
    expect(held).toEqual({ workload: `kube:${nsB}/Deployment/p2`, reason: "paused" });
    expect(poolOf(await getDeployment(c, nsB, "p2"))).toEqual({ poolSize: 1, maxOverflow: 0 });

    await c.core.patchNamespace(
      { name: nsB, body: { metadata: { annotations: { "pooltuner.io/paused": null } } } },
      mergePatch,
    );
    await eventually2("p2 increased", async () =>
      poolOf(await getDeployment(c, nsB, "p2")).maxOverflow === 1 ? true : undefined,
    );
    expect(poolOf(await getDeployment(c, nsB, "p2"))).toEqual({ poolSize: 1, maxOverflow: 1 });
  }, 120_000);
});

describe("freeze", () => {
  it("a stuck rollout pooltuner started freezes its database until it completes", async () => {
    // "stuck" (excess 40 - 16) goes before "other" (24 - 16); its new pod cannot be scheduled (no labelled node).
    await eventually2("stuck patched", async () =>
      poolOf(await getDeployment(c, nsF, "stuck")).poolSize === 1 ? true : undefined,
    );
    const frozen = await eventually2("the database frozen", async () =>
      (await metricValue(controller, "pooltuner_database_frozen", { database: "freeze" })) === 1 ? true : undefined,
    );
    expect(frozen).toBe(true);
    const stuckEvent = (await eventsFor(c, nsF, "stuck")).find((e) => e.reason === "RolloutStuck");
    expect(stuckEvent?.type).toBe("Warning");
    expect(stuckEvent?.message).toContain("the rollout pooltuner started");
    expect(stuckEvent?.message).toContain("nothing else on freeze changes");
    // Several passes while frozen: other's decrease is deferred as database-frozen each time, never applied.
    // (reports keeps the last 100 passes of all databases: distinct last reports of this one are counted instead)
    const frozenPasses = new Set<object>();
    await eventually2("three frozen passes", async () => {
      const r = controller.reconciler.lastReport.get("freeze");
      if (r?.deferred.some((d) => d.reason === "database-frozen" && d.workload.endsWith("/other"))) frozenPasses.add(r);
      return frozenPasses.size >= 3 ? true : undefined;
    });
    expect(poolOf(await getDeployment(c, nsF, "other"))).toEqual({ poolSize: 1, maxOverflow: 2 });
    expect(controller.reconciler.reports.filter((r) => r.applied.some((a) => a.workload.endsWith("/other")))).toEqual(
      [],
    );

    // The label is back: the pending pod starts, the rollout completes (same generation), and other's decrease goes.
    await labelNode("yes");
    await rolledOut(c, nsF, "stuck");
    await eventually2("other decreased", async () =>
      poolOf(await getDeployment(c, nsF, "other")).maxOverflow === 1 ? true : undefined,
    );
    expect(poolOf(await getDeployment(c, nsF, "other"))).toEqual({ poolSize: 1, maxOverflow: 1 });
    expect(await metricValue(controller, "pooltuner_database_frozen", { database: "freeze" })).toBe(0);
  }, 120_000);
});
