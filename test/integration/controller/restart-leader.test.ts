// Restarts cost more than arithmetic (DESIGN §3): a restarted controller or a new leader derives everything from the
// workloads (the values in the template, the status annotation) and writes nothing. Two replicas with a Lease:
// only the leader writes; when it dies without releasing the Lease, the standby takes over after the lease
// duration and carries on.
import { CoordinationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import {
  type Cluster,
  CONTROLLER_NAMESPACE,
  cluster,
  converged,
  createApp,
  createHpa,
  createNamespace,
  type Database,
  database,
  eventually2,
  getDeployment,
  poolOf,
  runController,
  seedApp,
  sleep,
} from "./harness.js";

let c: Cluster;
let db: Database;
let ns: string;
const running: RunningController[] = [];

async function start(extra: Parameters<typeof runController>[1] extends infer T ? Partial<T> : never = {}) {
  const ctl = await runController(c, {
    databases: [{ name: "main", url: db.monitorUrl }],
    namespaces: [ns],
    ...extra,
  });
  running.push(ctl);
  return ctl;
}

type Pool = { poolSize: number; maxOverflow: number };
const cap = (p: Pool) => p.poolSize + p.maxOverflow;

/** Waits until api and worker carry these per-process caps, the controller agrees (status) and both rolled out. */
async function settledAt(apiCap: number, workerCap: number, timeoutMs = 60_000): Promise<void> {
  await eventually2(
    `caps api=${apiCap} worker=${workerCap}`,
    async () => {
      const [a, w] = await Promise.all([getDeployment(c, ns, "api"), getDeployment(c, ns, "worker")]);
      return cap(poolOf(a)) === apiCap && cap(poolOf(w)) === workerCap ? true : undefined;
    },
    timeoutMs,
  );
  await converged(c, ns, "api");
  await converged(c, ns, "worker");
}

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-restart", 60);
  await db.db.query("SELECT 1");
  ns = await createNamespace(c, "restart");
  for (const name of ["api", "worker"]) {
    await createApp(c, seedApp(name, ns, "main"));
    await createHpa(c, ns, name, 2, 3);
  }
});

afterAll(async () => {
  for (const r of running) await r.stop();
  await db?.db.stop();
});

describe("restart and leader election", () => {
  it("a restarted controller writes nothing to workloads that are already right", async () => {
    const first = await start();
    // 2 x (3 + 1) pods x 4 workers = 32 processes on 56 usable: caps 2 and 1 (48 connections).
    await settledAt(2, 1);
    await sleep(1_500);
    await first.idle();
    await first.stop();

    const before = await Promise.all(["api", "worker"].map((n) => getDeployment(c, ns, n)));
    const second = await start();
    await eventually2("second controller reconciled", async () =>
      second.reconciler.lastReport.get("main")?.outcome === "planned" ? true : undefined,
    );
    // Several polls and a full reconcile of the database.
    await sleep(4_000);
    await second.idle();
    const report = second.reconciler.lastReport.get("main");
    expect(report?.applied).toEqual([]);
    expect(second.writes()).toBe(0);
    const after = await Promise.all(["api", "worker"].map((n) => getDeployment(c, ns, n)));
    for (const [i, d] of after.entries()) {
      expect(d.metadata?.resourceVersion).toBe(before[i]?.metadata?.resourceVersion);
      expect(d.metadata?.generation).toBe(before[i]?.metadata?.generation);
    }
    await second.stop();
  });

  it("two replicas: only the leader writes; when it dies the standby takes over", async () => {
    // The Role of manifests/rbac.yaml allows exactly this Lease name.
    const lease = { enabled: true, namespace: CONTROLLER_NAMESPACE, name: "pooltuner" };
    const leaderElection = {
      ...lease,
      leaseDurationMs: 4_000,
      renewDeadlineMs: 3_000,
      retryPeriodMs: 500,
    };
    const a = await start({ leaderElection, identity: "replica-a" });
    await eventually2("replica a leads", async () => (a.isLeader() ? true : undefined));
    const b = await start({ leaderElection, identity: "replica-b" });
    await eventually2("replica b synced", async () => (b.ready() ? true : undefined));
    await sleep(1_500);
    expect(b.isLeader()).toBe(false);

    // A change while a leads: a applies it, b writes nothing.
    // usable 120 - 6 - 1 = 113: 32 processes x 3 = 96 fits, an increase once the cooldown has passed.
    await db.setMaxConnections(120);
    await settledAt(3, 3);
    expect(b.writes()).toBe(0);
    expect(a.writes()).toBeGreaterThan(0);

    // The leader dies without releasing the Lease.
    const diedAt = Date.now();
    await a.kill();
    await eventually2("replica b leads", async () => (b.isLeader() ? true : undefined), 20_000);
    const tookMs = Date.now() - diedAt;
    // It must wait out the lease (4 s) and then acquire within a few retry periods.
    expect(tookMs).toBeGreaterThanOrEqual(3_000);
    expect(tookMs).toBeLessThan(10_000);
    const l = await c.admin.makeApiClient(CoordinationV1Api).readNamespacedLease({
      name: lease.name,
      namespace: CONTROLLER_NAMESPACE,
    });
    expect(l.spec?.holderIdentity).toBe("replica-b");
    expect(l.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);

    // The new leader changes nothing that is right...
    await sleep(2_000);
    await b.idle();
    expect(b.writes()).toBe(0);
    // ...and acts on the next change.
    await db.setMaxConnections(60);
    await settledAt(2, 1);
    expect(b.writes()).toBeGreaterThan(0);
  });
});
