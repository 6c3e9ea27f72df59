// Worked examples: the seed incident and the edges of DESIGN §3 that a property cannot name.
import { describe, expect, it } from "vitest";
import {
  type DatabaseSnapshot,
  DEFAULT_POLICY,
  pickRow,
  plan,
  podsPeak,
  SEED_SIZING_TABLE,
  splitCap,
  type WorkloadSnapshot,
} from "../../src/core/index.js";
import { pairEnv } from "./pair-env.js";

const GiB = 1024 ** 3;
const db = (over: Partial<DatabaseSnapshot> = {}): DatabaseSnapshot => ({
  name: "lineage",
  maxConnections: 20,
  unmanaged: 0,
  ...over,
});
const app = (over: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot => ({
  id: "compose:lineage/app",
  kind: "ComposeService",
  database: "lineage",
  replicas: 2,
  rollout: { type: "StopFirst" },
  workers: 4,
  current: { poolSize: 2, maxOverflow: 3 },
  ...over,
});
const deployment = (replicas: number, surge: string | number, over: Partial<WorkloadSnapshot> = {}) =>
  app({
    id: "kube:default/Deployment/web",
    kind: "Deployment",
    replicas,
    rollout: {
      type: "RollingUpdate",
      maxSurge:
        typeof surge === "number"
          ? { kind: "int", value: surge }
          : { kind: "percent", value: Number.parseInt(surge, 10) },
      maxUnavailable: { kind: "percent", value: 25 },
    },
    ...over,
  });

describe("the seed incident", () => {
  it("flags 2 instances x 4 workers x (2+3) against max_connections=20 and recommends 1+1", () => {
    const p = plan({ databases: [db()], workloads: [app()] }, DEFAULT_POLICY);
    const w = p.workloads[0];
    expect(p.currentSafe).toBe(false);
    expect(w?.current.peak).toBe(40);
    expect(p.findings.find((f) => f.kind === "current-exceeds")?.message).toContain(
      "40 connections at peak, 18 available",
    );
    expect(w?.recommended).toEqual({ poolSize: 1, maxOverflow: 1, cap: 2, peak: 16, env: pairEnv(1, 1) });
    expect(w?.change).toBe("decrease");
    expect(p.databases[0]).toMatchObject({ limit: 20, reserve: 2, usable: 18, allocated: 16, free: 2, feasible: true });
  });

  it("gives each row of the seed table its 1+2 when the server is large enough", () => {
    const rows = [
      { cpuMillis: 2000, memoryBytes: 2 * GiB, workers: 2, total: 6, row: "small" },
      { cpuMillis: 4000, memoryBytes: 4 * GiB, workers: 4, total: 12, row: "medium" },
      { cpuMillis: 8000, memoryBytes: 8 * GiB, workers: 6, total: 18, row: "large" },
    ];
    for (const r of rows) {
      const w = app({
        replicas: 1,
        workers: r.workers,
        resources: { cpuMillis: r.cpuMillis, memoryBytes: r.memoryBytes },
      });
      const p = plan({ databases: [db({ maxConnections: 151 })], workloads: [w] }, DEFAULT_POLICY);
      expect(p.workloads[0]?.row).toBe(r.row);
      expect(p.workloads[0]?.recommended).toEqual({
        poolSize: 1,
        maxOverflow: 2,
        cap: 3,
        peak: r.total,
        env: pairEnv(1, 2),
      });
    }
  });
});

const SURGE = DEFAULT_POLICY.defaultMaxSurge;

describe("peak pods", () => {
  it("rounds a percentage surge up and counts HPA maxReplicas", () => {
    expect(podsPeak(deployment(3, "25%"), SURGE)).toBe(4); // ceil(0.75) = 1
    expect(podsPeak(deployment(5, "25%"), SURGE)).toBe(7); // ceil(1.25) = 2
    expect(podsPeak(deployment(4, "25%"), SURGE)).toBe(5);
    expect(podsPeak(deployment(10, "0%"), SURGE)).toBe(10);
    expect(podsPeak(deployment(3, 2), SURGE)).toBe(5);
    expect(podsPeak(deployment(3, "25%", { hpa: { minReplicas: 2, maxReplicas: 10 } }), SURGE)).toBe(13); // 10 + ceil(2.5)
    // Never below what runs now, even when spec.replicas is above the HPA's max for a moment.
    expect(podsPeak(deployment(12, "25%", { hpa: { minReplicas: 2, maxReplicas: 10 } }), SURGE)).toBe(15);
  });

  it("adds no surge for Recreate, StatefulSets and stop-first compose; one for start-first; terminating pods on top", () => {
    expect(podsPeak(app({ replicas: 3, rollout: { type: "Recreate" } }), SURGE)).toBe(3);
    expect(podsPeak(app({ replicas: 3, rollout: { type: "Ordered" } }), SURGE)).toBe(3);
    expect(podsPeak(app({ replicas: 3, rollout: { type: "StopFirst" } }), SURGE)).toBe(3);
    expect(podsPeak(app({ replicas: 3, rollout: { type: "StartFirst" } }), SURGE)).toBe(4);
    expect(podsPeak(deployment(4, "25%", { terminatingPods: 2 }), SURGE)).toBe(7);
  });
});

describe("budget", () => {
  it("never plans into the SUPER slot and keeps the larger of absolute and percent reserve", () => {
    const p = plan(
      { databases: [db({ maxConnections: 100, unmanaged: 7, reserve: { absolute: 3, percent: 10 } })], workloads: [] },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]).toMatchObject({ limit: 100, reserve: 10, unmanaged: 7, usable: 83 });
  });

  it("assumes other clients when they cannot be seen, and says so", () => {
    const p = plan(
      { databases: [db({ maxConnections: 100, unmanaged: undefined })], workloads: [app()] },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]).toMatchObject({ unmanaged: 10, unmanagedAssumed: true, usable: 85 });
    expect(p.findings.some((f) => f.kind === "unseen-unmanaged")).toBe(true);
  });
});

describe("allocation", () => {
  it("is infeasible when even 1 per process does not fit, with the missing count and what would fit", () => {
    const p = plan({ databases: [db()], workloads: [app({ replicas: 6 })] }, DEFAULT_POLICY); // 24 processes > 18
    expect(p.feasible).toBe(false);
    expect(p.workloads[0]?.recommended).toBeUndefined();
    const f = p.findings.find((x) => x.kind === "infeasible");
    expect(f).toMatchObject({ needed: 24, available: 18, missing: 6 });
    if (f?.kind !== "infeasible") throw new Error("no finding");
    expect(f.fits).toEqual([{ workload: "compose:lineage/app", workers: 3, pods: 4 }]);
    expect(f.message).toContain("needs 24 connections at 1 per process, allows 18: 6 missing");
  });

  it("shares a tight budget by weight, rounding caps down", () => {
    const heavy = app({ id: "a-heavy", replicas: 1, workers: 2, weight: 2 });
    const light = app({ id: "b-light", replicas: 1, workers: 2, weight: 1 });
    const p = plan(
      { databases: [db({ maxConnections: 12, reserve: { absolute: 0, percent: 0 } })], workloads: [heavy, light] },
      {
        ...DEFAULT_POLICY,
        sizingTable: [
          { ...SEED_SIZING_TABLE[0], name: "big", poolSize: 3, maxOverflow: 7 } as (typeof SEED_SIZING_TABLE)[0],
        ],
      },
    );
    const caps = Object.fromEntries(p.workloads.map((w) => [w.id, w.recommended?.cap]));
    expect(caps).toEqual({ "a-heavy": 4, "b-light": 2 });
    expect(p.databases[0]?.allocated).toBe(12);
  });

  it("caps the workloads of one account by its MAX_USER_CONNECTIONS, the global limit otherwise", () => {
    const a = app({ id: "a", account: "svc", replicas: 1, workers: 4 });
    const b = app({ id: "b", account: "svc", replicas: 1, workers: 4 });
    const c = app({ id: "c", account: "other", replicas: 1, workers: 4 });
    const p = plan(
      {
        databases: [
          db({
            maxConnections: 200,
            maxUserConnections: 5,
            accounts: { svc: { maxUserConnections: 10, unmanaged: 2 } },
          }),
        ],
        workloads: [a, b, c],
      },
      DEFAULT_POLICY,
    );
    // svc: 10 − 2 held by others = 8 for 8 processes; other: the global 5 for 4 processes; the server has plenty.
    expect(p.feasible).toBe(true);
    const byId = Object.fromEntries(p.workloads.map((w) => [w.id, w.recommended?.cap]));
    expect(byId).toEqual({ a: 1, b: 1, c: 1 });
    expect(p.databases[0]?.accounts).toEqual([
      { account: "other", limit: 5, unmanaged: 0, usable: 5, allocated: 4 },
      { account: "svc", limit: 10, unmanaged: 2, usable: 8, allocated: 8 },
    ]);
    // One more process on svc and it no longer fits, even though the server has room.
    const q = plan(
      {
        databases: p.databases.length
          ? [db({ maxConnections: 200, accounts: { svc: { maxUserConnections: 10, unmanaged: 2 } } })]
          : [],
        workloads: [a, app({ id: "b", account: "svc", replicas: 1, workers: 5 })],
      },
      DEFAULT_POLICY,
    );
    expect(q.feasible).toBe(false);
    expect(q.findings.find((f) => f.kind === "infeasible")?.message).toContain(
      "account svc on lineage: needs 9 connections at 1 per process, allows 8",
    );
  });

  it("reports unbounded current settings and plans bounded ones", () => {
    const p = plan(
      { databases: [db({ maxConnections: 151 })], workloads: [app({ current: { poolSize: 0, maxOverflow: -1 } })] },
      DEFAULT_POLICY,
    );
    expect(p.currentSafe).toBe(false);
    expect(p.databases[0]?.currentPeak).toBeNull();
    expect(p.findings.map((f) => f.kind)).toContain("unbounded-current");
    expect(p.workloads[0]?.change).toBe("decrease");
  });

  it("keeps the current split when the cap is unchanged, so no restart is needed", () => {
    const p = plan(
      { databases: [db({ maxConnections: 151 })], workloads: [app({ current: { poolSize: 2, maxOverflow: 1 } })] },
      DEFAULT_POLICY,
    );
    expect(p.workloads[0]?.recommended).toMatchObject({ poolSize: 2, maxOverflow: 1, cap: 3 });
    expect(p.workloads[0]?.change).toBe("none");
  });
});

describe("sizing table", () => {
  it("picks the smallest row that holds the limits, the smallest when unknown, the largest when bigger", () => {
    expect(pickRow(SEED_SIZING_TABLE, undefined).name).toBe("small");
    expect(pickRow(SEED_SIZING_TABLE, { cpuMillis: 3000 }).name).toBe("medium");
    expect(pickRow(SEED_SIZING_TABLE, { cpuMillis: 1000, memoryBytes: 6 * GiB }).name).toBe("large");
    expect(pickRow(SEED_SIZING_TABLE, { cpuMillis: 64000 }).name).toBe("large");
  });

  it("splits a cap with the row's ratio, pool_size at least 1", () => {
    const row = { poolSize: 1, maxOverflow: 2 };
    expect([1, 2, 3, 4, 6, 9].map((c) => splitCap(c, row))).toEqual([
      { poolSize: 1, maxOverflow: 0 },
      { poolSize: 1, maxOverflow: 1 },
      { poolSize: 1, maxOverflow: 2 },
      { poolSize: 1, maxOverflow: 3 },
      { poolSize: 2, maxOverflow: 4 },
      { poolSize: 3, maxOverflow: 6 },
    ]);
  });
});
