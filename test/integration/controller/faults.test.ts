// Fault injection on real parts. (1) The leader's traffic to the API server stalls (a proxy between them stops
// passing anything on: its lease renewals hang): it must make no write after its renew deadline, and exit, while the
// standby takes over and carries on. (2) The API server is stopped in the middle of the controller's watches and
// started again: the controller recovers by itself, and neither a change made while it was down (the database) nor
// one made right after it came back (a workload) is missed. The figures are printed.
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import { eventually } from "../../support/cluster.js";
import { clusterProcess, revive } from "../../support/cluster-process.js";
import { type StallProxy, startStallProxy } from "../../support/stall-proxy.js";
import {
  type Cluster,
  CONTROLLER_NAMESPACE,
  cluster,
  converged,
  createApp,
  createNamespace,
  type Database,
  database,
  eventsFor,
  eventually2,
  getDeployment,
  mergePatch,
  metricValue,
  poolOf,
  runController,
  seedApp,
  sleep,
} from "./harness.js";

let c: Cluster;
let db: Database;
const running: RunningController[] = [];
let proxy: StallProxy | undefined;

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-faults", 60);
});

afterAll(async () => {
  for (const r of running) await r.stop();
  await proxy?.close();
  await db?.db.stop();
});

function figure(line: string): void {
  process.stderr.write(`[faults] ${line}\n`);
}

describe("fault injection", () => {
  it("a leader whose renewals stall writes nothing after its renew deadline and exits; the standby takes over", async () => {
    const ns = await createNamespace(c, "stall");
    await createApp(c, seedApp("web", ns, "main"));
    // The Role of manifests/rbac.yaml allows exactly this Lease name.
    const renewDeadlineMs = 3_000;
    const leaderElection = {
      enabled: true,
      namespace: CONTROLLER_NAMESPACE,
      name: "pooltuner",
      leaseDurationMs: 4_000,
      renewDeadlineMs,
      retryPeriodMs: 500,
    };
    const databases = [{ name: "main", url: db.monitorUrl }];
    proxy = await startStallProxy(c.controllerKubeConfig);
    const viaProxy = { ...c, controllerKubeConfig: proxy.kubeConfigFrom(c.controllerKubeConfig) };
    const a = await runController(viaProxy, { databases, namespaces: [ns], leaderElection, identity: "stalled-a" });
    running.push(a);
    await eventually2("a leads", async () => (a.isLeader() ? true : undefined));
    const b = await runController(c, { databases, namespaces: [ns], leaderElection, identity: "direct-b" });
    running.push(b);
    await eventually2("b synced", async () => (b.ready() ? true : undefined));
    // 3 pods x 4 workers = 12 processes on about 55 usable: the table's 1+2 (36). a applied it through the proxy.
    expect(poolOf(await converged(c, ns, "web"))).toEqual({ poolSize: 1, maxOverflow: 2 });
    expect(proxy.requests.some((r) => r.method === "PATCH")).toBe(true);
    expect(b.writes()).toBe(0);
    await a.idle();

    const heldAt = Date.now();
    proxy.hold();
    let lostAt: number | undefined;
    void a.done.then(() => {
      lostAt = Date.now();
    });
    // a's deadline counts from its last renewal, sent before heldAt: from heldAt + renewDeadline on it may not write.
    const deadline = heldAt + renewDeadlineMs;
    // Past the deadline (a point in time the test needs, not a wait for nothing to happen: what a sends is on the wire).
    await sleep(renewDeadlineMs + 500);
    // Now something a would write about at once (it probes the database directly, not through the proxy): a server
    // too small for 12 processes even at 1 each is an Infeasible Warning event, sent before anything else of a pass.
    await db.setMaxConnections(10);
    const takeoverAt = await eventually2("b leads", async () => (b.isLeader() ? Date.now() : undefined), 30_000);
    await eventually2("b reported the infeasible plan", async () => {
      const ev = await eventsFor(c, ns, "web");
      return ev.some((e) => e.reason === "Infeasible" && e.reportingInstance === "direct-b") ? true : undefined;
    });
    // Then a change b acts on: 12 x 2 = 24 fits about 26 usable, 12 x 3 = 36 does not: 1+1.
    const changedAt = Date.now();
    await db.setMaxConnections(30);
    const d = await eventually2("b applied the decrease", async () => {
      const x = await getDeployment(c, ns, "web");
      return poolOf(x).maxOverflow === 1 ? x : undefined;
    });
    const appliedAt = Date.now();
    expect(poolOf(d)).toEqual({ poolSize: 1, maxOverflow: 1 });
    await eventually("a exited", async () => (lostAt !== undefined ? true : undefined), { timeoutMs: 30_000 });
    // What a sent, as the wire saw it: no write (anything but a read) after its deadline.
    const late = proxy.requests.filter((r) => r.method !== "GET" && r.at >= deadline);
    expect(late).toEqual([]);
    expect(await a.done).toBe("lost");
    expect(lostAt as number).toBeLessThan(takeoverAt);
    expect(b.writes()).toBeGreaterThan(0);
    const lease = await c.admin
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "pooltuner", namespace: CONTROLLER_NAMESPACE });
    expect(lease.spec?.holderIdentity).toBe("direct-b");
    figure(
      `renew stalled: old leader stopped writing and exited ${(lostAt as number) - heldAt} ms after the stall ` +
        `(renew deadline ${renewDeadlineMs} ms, lease ${leaderElection.leaseDurationMs} ms); standby leading after ` +
        `${takeoverAt - heldAt} ms; decrease applied by the standby ${appliedAt - changedAt} ms after ` +
        `max_connections changed; writes of the old leader after its deadline: ${late.length}`,
    );
    await b.stop();
  });

  it("the API server stopped mid-watch and started again: the controller recovers and misses no change", async () => {
    const ns = await createNamespace(c, "apiserver");
    await db.setMaxConnections(60);
    await createApp(c, seedApp("web", ns, "main"));
    const ctl = await runController(c, { databases: [{ name: "main", url: db.monitorUrl }], namespaces: [ns] });
    running.push(ctl);
    expect(poolOf(await converged(c, ns, "web"))).toEqual({ poolSize: 1, maxOverflow: 2 });
    await ctl.idle();

    const name = inject("kube").name;
    const apiServer = clusterProcess(name, "kube-apiserver");
    // They exit when they cannot renew their own leases meanwhile: captured now, started again below if they did.
    const others = ["kube-controller-manager", "kube-scheduler"].map((n) => clusterProcess(name, n));
    const stoppedAt = Date.now();
    await apiServer.stop();
    const downAt = Date.now();
    // While it is down: the database shrinks (12 processes x 2 = 24 fits about 26 usable: 1+1). The controller sees
    // it and cannot write.
    await db.setMaxConnections(30);
    await eventually2("the controller read the new limit while the API server was down", async () =>
      (await metricValue(ctl, "pooltuner_database_max_connections", { database: "main" })) === 30 ? true : undefined,
    );
    apiServer.start();
    const core = c.admin.makeApiClient(CoreV1Api);
    const upAt = await eventually(
      "the API server answers again",
      async () => {
        await core.listNamespace({ limit: 1 });
        return Date.now();
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const revived = new Set<string>();
    // Right after it is back, before the controller's watches have necessarily resumed: 3 pods x 6 workers = 18
    // processes; 18 x 2 = 36 does not fit about 26 usable, 18 x 1 does: 1+0. Only seeing this change gives 1+0.
    await c.apps.patchNamespacedDeployment(
      { name: "web", namespace: ns, body: { metadata: { annotations: { "pooltuner.io/workers": "6" } } } },
      mergePatch,
    );
    const d = await eventually2(
      "both changes applied",
      async () => {
        // The rollout of the first change must complete before the second: the Deployment controller must run.
        for (const n of revive(others)) revived.add(n);
        const x = await getDeployment(c, ns, "web");
        return poolOf(x).maxOverflow === 0 ? x : undefined;
      },
      120_000,
    );
    const recoveredAt = Date.now();
    expect(poolOf(d)).toEqual({ poolSize: 1, maxOverflow: 0 });
    const restarts = (await metricValue(ctl, "pooltuner_informer_restarts_total", { reason: "error" })) ?? 0;
    figure(
      `API server restart: stopped in ${downAt - stoppedAt} ms, down ${upAt - downAt} ms in all; the controller ` +
        `applied both changes ${recoveredAt - upAt} ms after it answered again (informer restarts: ${restarts}; ` +
        `started again: ${[...revived].join(", ") || "none"})`,
    );
    expect(ctl.isLeader()).toBe(true);
    await ctl.stop();
  });
});
