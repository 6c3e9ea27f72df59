// The seed on a real control plane: an annotated Deployment with an HPA at 4 workers x (2 + 3), a MariaDB with a
// small max_connections. The controller (as the manifests' ServiceAccount) patches the env, a new ReplicaSet rolls
// out with the new values, and the plan's peak fits; raising the HPA's maxReplicas lowers the values; scaling inside
// the HPA's bounds changes nothing; SET GLOBAL max_connections lowered is applied within one poll.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import {
  type Cluster,
  cluster,
  createApp,
  createHpa,
  createNamespace,
  type Database,
  database,
  eventsFor,
  eventually2,
  getDeployment,
  mergePatch,
  metricValue,
  poolOf,
  replicaSets,
  rolledOut,
  runController,
  runningPods,
  seedApp,
  sleep,
  statusOf,
} from "./harness.js";

const POLL_MS = 2_000;
let c: Cluster;
let db: Database;
let ns: string;
let controller: RunningController;

beforeAll(async () => {
  c = await cluster();
  // usable = 60 - reserve max(2, 5% = 3) - other clients (the test's root connection) = 56
  db = await database("ctl-rollout", 60);
  await db.db.query("SELECT 1");
  ns = await createNamespace(c, "rollout");
  await createApp(c, seedApp("lineage", ns, "main"));
  await createHpa(c, ns, "lineage", 2, 3);
  await rolledOut(c, ns, "lineage");
  controller = await runController(c, {
    databases: [{ name: "main", url: db.monitorUrl }],
    namespaces: [ns],
    pollIntervalMs: POLL_MS,
  });
});

afterAll(async () => {
  await controller?.stop();
  await db?.db.stop();
});

describe("controller on the seed's settings", () => {
  it("patches the env, rolls a new ReplicaSet whose pods carry the values, and the peak fits", async () => {
    // (3 HPA max + 1 surge) pods x 4 workers = 16 processes; 16 x 3 (the table's 1 + 2) = 48 <= 56; 2 + 3 is 80.
    const d = await eventually2("the pool env patched", async () => {
      const x = await getDeployment(c, ns, "lineage");
      return poolOf(x).poolSize === 1 ? x : undefined;
    });
    expect(poolOf(d)).toEqual({ poolSize: 1, maxOverflow: 2 });
    const status = statusOf(d) as {
      applied: { from: { poolSize: number; maxOverflow: number }; change: string };
      plan: { processes: number; podsPeak: number; usable: number; maxConnections: number };
      recommended: { peak: number };
      pending: boolean;
    };
    expect(status.applied.from).toEqual({ poolSize: 2, maxOverflow: 3 });
    expect(status.applied.change).toBe("decrease");
    expect(status.plan.podsPeak).toBe(4);
    expect(status.plan.processes).toBe(16);
    expect(status.plan.maxConnections).toBe(60);
    expect(status.recommended.peak).toBe(48);
    expect(status.recommended.peak).toBeLessThanOrEqual(status.plan.usable);
    expect(status.pending).toBe(false);

    await rolledOut(c, ns, "lineage");
    const sets = await replicaSets(c, ns, "lineage");
    expect(sets.length).toBe(2);
    const current = sets.find((rs) => (rs.spec?.replicas ?? 0) > 0);
    const env = Object.fromEntries(
      (current?.spec?.template?.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({ DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "2" });
    const pods = await eventually2("only new pods running", async () => {
      const p = await runningPods(c, ns, "lineage");
      return p.length === 2 &&
        p.every((x) => x.spec?.containers[0]?.env?.find((e) => e.name === "DB_POOL_SIZE")?.value === "1")
        ? p
        : undefined;
    });
    for (const p of pods) {
      const penv = Object.fromEntries((p.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
      expect(penv).toMatchObject({ DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "2" });
    }
    const applied = (await eventsFor(c, ns, "lineage")).filter((e) => e.reason === "Applied");
    expect(applied.length).toBe(1);
    expect(applied[0]?.type).toBe("Normal");
    expect(applied[0]?.message).toContain("DB_POOL_SIZE 2→1");
    expect(applied[0]?.message).toContain("DB_MAX_OVERFLOW 3→2");
    expect(await metricValue(controller, "pooltuner_database_allocated_connections", { database: "main" })).toBe(48);
  });

  it("applies a lowered max_connections within one poll interval", async () => {
    await rolledOut(c, ns, "lineage");
    await sleep(500);
    // usable = 44 - 3 - 1 = 40: 16 processes x 3 = 48 no longer fits, x 2 = 32 does.
    const started = Date.now();
    await db.setMaxConnections(44);
    const d = await eventually2(
      "values lowered after SET GLOBAL max_connections",
      async () => {
        const x = await getDeployment(c, ns, "lineage");
        return poolOf(x).maxOverflow === 1 ? x : undefined;
      },
      10_000,
    );
    const tookMs = Date.now() - started;
    expect(poolOf(d)).toEqual({ poolSize: 1, maxOverflow: 1 });
    // One poll interval, plus the debounce and the patch round trip.
    expect(tookMs).toBeLessThan(POLL_MS + 1_000);
    const status = statusOf(d) as { plan: { maxConnections: number } };
    expect(status.plan.maxConnections).toBe(44);
  });

  it("lowers the values when the HPA's maxReplicas is raised", async () => {
    await rolledOut(c, ns, "lineage");
    // (8 + 1) pods x 4 workers = 36 processes: 36 x 2 = 72 > 40, 36 x 1 fits.
    await c.autoscaling.patchNamespacedHorizontalPodAutoscaler(
      { name: "lineage", namespace: ns, body: { spec: { maxReplicas: 8 } } },
      mergePatch,
    );
    const d = await eventually2("values lowered for the larger HPA", async () => {
      const x = await getDeployment(c, ns, "lineage");
      return poolOf(x).maxOverflow === 0 ? x : undefined;
    });
    expect(poolOf(d)).toEqual({ poolSize: 1, maxOverflow: 0 });
    const status = statusOf(d) as { plan: { plannedReplicas: number; processes: number; usable: number } };
    expect(status.plan.plannedReplicas).toBe(8);
    expect(status.plan.processes).toBe(36);
    expect(36).toBeLessThanOrEqual(status.plan.usable);
  });

  it("changes nothing when replicas scale inside the HPA's bounds", async () => {
    await rolledOut(c, ns, "lineage");
    await sleep(1_000);
    const before = await getDeployment(c, ns, "lineage");
    const writesBefore = controller.writes();
    const setsBefore = (await replicaSets(c, ns, "lineage")).length;
    await c.apps.patchNamespacedDeployment(
      { name: "lineage", namespace: ns, body: { spec: { replicas: 6 } } },
      mergePatch,
    );
    await rolledOut(c, ns, "lineage");
    // Several polls and reconciles of the scaled workload.
    await sleep(3 * POLL_MS);
    await controller.idle();
    const after = await getDeployment(c, ns, "lineage");
    expect(after.status?.replicas).toBe(6);
    expect(poolOf(after)).toEqual(poolOf(before));
    expect(after.metadata?.annotations?.["pooltuner.io/status"]).toBe(
      before.metadata?.annotations?.["pooltuner.io/status"],
    );
    expect((await replicaSets(c, ns, "lineage")).length).toBe(setsBefore);
    expect(controller.writes()).toBe(writesBefore);
  });
});
