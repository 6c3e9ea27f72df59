// Tests written against mutants that survived StrykerJS on src/core (`npm run mutation`, docs/mutation.md).
// Each expectation is worked out by hand in the comment next to it, never copied from the planner's output.
import { describe, expect, it } from "vitest";
import {
  allocate,
  type Damping,
  type DatabaseSnapshot,
  DEFAULT_DAMPING,
  DEFAULT_POLICY,
  decide,
  InvalidSnapshotError,
  type Plan,
  type Policy,
  pickRow,
  plan,
  plannedReplicas,
  podsPeak,
  reserveFor,
  resolveUp,
  SEED_SIZING_TABLE,
  type SizingRow,
  type Snapshot,
  smoothedUnmanaged,
  surgePods,
  validateSizingTable,
  validateSnapshot,
  type WorkloadSnapshot,
  type WorkloadState,
} from "../../src/core/index.js";
import { pairEnv } from "./pair-env.js";

const GiB = 1024 ** 3;
const SURGE = DEFAULT_POLICY.defaultMaxSurge;
/** Default table: every row is 1+2, so the desired cap is 3. */
const db = (over: Partial<DatabaseSnapshot> = {}): DatabaseSnapshot => ({
  name: "db",
  maxConnections: 20,
  unmanaged: 0,
  reserve: { absolute: 2, percent: 0 },
  ...over,
});
const w = (id: string, over: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot => ({
  id,
  kind: "Deployment",
  database: "db",
  replicas: 1,
  rollout: { type: "StopFirst" },
  workers: 2,
  current: { poolSize: 1, maxOverflow: 2 },
  ...over,
});
const row = (name: string, cpuMillis: number, memoryBytes: number, poolSize = 1, maxOverflow = 2): SizingRow => ({
  name,
  cpuMillis,
  memoryBytes,
  workers: 1,
  poolSize,
  maxOverflow,
});
const now0: Damping = { cooldownMs: 0, minGain: 1 };
const auto = (extra: Partial<WorkloadState> = {}): WorkloadState => ({ updateMode: "auto", ...extra });
const messages = (p: Plan, kind: string): string[] => p.findings.filter((f) => f.kind === kind).map((f) => f.message);

describe("smoothedUnmanaged", () => {
  it("takes the highest sample in (now - window, now], none when nothing is that recent", () => {
    const s = (at: number, value: number) => ({ at, value });
    // Window (100, 200]: 100 is out (too old), 201 is out (future); 3, 9, 2 are in: 9.
    expect(smoothedUnmanaged([s(100, 70), s(150, 3), s(160, 9), s(170, 2), s(201, 50)], 200, 100)).toBe(9);
    // A sample exactly at `now` counts.
    expect(smoothedUnmanaged([s(200, 4)], 200, 100)).toBe(4);
    expect(smoothedUnmanaged([s(100, 4)], 200, 100)).toBeUndefined();
    expect(smoothedUnmanaged([], 200, 100)).toBeUndefined();
  });
});

describe("validation", () => {
  it("names every field of a bad snapshot, one line each", () => {
    const snapshot: Snapshot = {
      databases: [
        db({ name: "x", maxConnections: -1, maxUserConnections: 1.5, unmanaged: -1, unattributed: [1, -1] }),
        db({ name: "x", accounts: { app: { maxUserConnections: -1, unmanaged: 0.5 } } }),
      ],
      workloads: [
        w("a", { replicas: -1, workers: 0, maxReplicas: -1, weight: 0, terminatingPods: -1 }),
        w("a", { workers: 1.5, weight: Number.POSITIVE_INFINITY, hpa: { minReplicas: -1, maxReplicas: 2 } }),
        w("b", {
          hpa: { minReplicas: 1, maxReplicas: -2 },
          rollout: {
            type: "RollingUpdate",
            maxSurge: { kind: "int", value: -1 },
            maxUnavailable: { kind: "percent", value: 1.5 },
          },
          current: { poolSize: 1.5, maxOverflow: 0.5 },
        }),
        // maxSurge absent is Kubernetes' 25 % whatever the policy's default: valid with maxUnavailable 0.
        w("c", { rollout: { type: "RollingUpdate", maxUnavailable: { kind: "int", value: 0 } } }),
        w("d", {
          rollout: {
            type: "RollingUpdate",
            maxSurge: { kind: "percent", value: 0 },
            maxUnavailable: { kind: "int", value: 0 },
          },
        }),
      ],
    };
    expect(validateSnapshot(snapshot, { ...DEFAULT_POLICY, defaultMaxSurge: { kind: "percent", value: 0 } })).toEqual([
      "database x: maxConnections must be an integer >= 0",
      "database x: maxUserConnections must be an integer >= 0",
      "database x: unmanaged must be an integer >= 0",
      "database x: unattributed must be integers >= 0",
      "database x: defined twice",
      "database x account app: maxUserConnections must be >= 0",
      "database x account app: unmanaged must be an integer >= 0",
      "workload a: replicas must be an integer >= 0",
      'workload a: workers must be an integer >= 1 or "unknown"',
      "workload a: maxReplicas must be an integer >= 0",
      "workload a: weight must be > 0",
      "workload a: terminatingPods must be an integer >= 0",
      "workload a: defined twice",
      'workload a: workers must be an integer >= 1 or "unknown"',
      "workload a: weight must be > 0",
      "workload a: HPA replicas must be integers >= 0",
      "workload b: HPA replicas must be integers >= 0",
      "workload b: maxSurge must be a whole number or percentage >= 0",
      "workload b: maxUnavailable must be a whole number or percentage >= 0",
      "workload b: current poolSize must be an integer",
      "workload b: current maxOverflow must be an integer",
      // d: maxSurge 0 % and maxUnavailable 0 in the manifest: nothing could be replaced.
      "workload d: maxSurge and maxUnavailable cannot both be 0 (Kubernetes rejects it: no pod could be replaced)",
    ]);
  });

  it("accepts the smallest valid values (0 counts, 1 worker, fractional weight, negative overflow)", () => {
    const snapshot: Snapshot = {
      databases: [
        db({
          maxConnections: 0,
          maxUserConnections: 0,
          unmanaged: 0,
          unattributed: [0],
          accounts: { a: { maxUserConnections: 0, unmanaged: 0 } },
        }),
      ],
      workloads: [
        w("a", {
          replicas: 0,
          workers: 1,
          maxReplicas: 0,
          weight: 0.5,
          terminatingPods: 0,
          hpa: { minReplicas: 0, maxReplicas: 0 },
          current: { poolSize: 0, maxOverflow: -1 },
          rollout: {
            type: "RollingUpdate",
            maxSurge: { kind: "int", value: 1 },
            maxUnavailable: { kind: "int", value: 0 },
          },
        }),
        w("b", { workers: "unknown", rollout: { type: "RollingUpdate", maxSurge: { kind: "int", value: 0 } } }),
        // A database and a workload may share a name.
        w("db", {
          rollout: {
            type: "RollingUpdate",
            maxSurge: { kind: "int", value: 0 },
            maxUnavailable: { kind: "int", value: 1 },
          },
        }),
      ],
    };
    expect(validateSnapshot(snapshot, DEFAULT_POLICY)).toEqual([]);
  });

  it("checks the sizing table row by row, and plan() refuses a bad input with every problem", () => {
    expect(validateSizingTable([])).toEqual(["sizing table has no rows"]);
    expect(
      validateSizingTable([
        row("ok", 1000, GiB, 1, 0),
        row("zero", 0, 0, 0, -1),
        row("frac", Number.NaN, Number.NaN, 1.5, 0.5),
      ]),
    ).toEqual([
      "sizing table row 2 (zero): poolSize must be an integer >= 1",
      "sizing table row 2 (zero): maxOverflow must be an integer >= 0",
      "sizing table row 2 (zero): cpu must be > 0",
      "sizing table row 2 (zero): memory must be > 0",
      "sizing table row 3 (frac): poolSize must be an integer >= 1",
      "sizing table row 3 (frac): maxOverflow must be an integer >= 0",
      "sizing table row 3 (frac): cpu must be > 0",
      "sizing table row 3 (frac): memory must be > 0",
    ]);
    let error: unknown;
    try {
      plan({ databases: [db({ maxConnections: -1 })], workloads: [] }, { ...DEFAULT_POLICY, sizingTable: [] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidSnapshotError);
    const e = error as InvalidSnapshotError;
    expect(e.name).toBe("InvalidSnapshotError");
    expect(e.problems).toEqual(["sizing table has no rows", "database db: maxConnections must be an integer >= 0"]);
    expect(e.message).toBe(
      "invalid snapshot: sizing table has no rows; database db: maxConnections must be an integer >= 0",
    );
  });
});

describe("sizing table and small helpers", () => {
  it("keeps the documented defaults", () => {
    // FIX_TOO_MANY_CONNECTIONS.md rows; Kubernetes' 25 % maxSurge; a 10-minute cooldown and a gain of 1.
    expect(
      SEED_SIZING_TABLE.map((r) => [r.name, r.cpuMillis, r.memoryBytes / GiB, r.workers, r.poolSize, r.maxOverflow]),
    ).toEqual([
      ["small", 2000, 2, 2, 1, 2],
      ["medium", 4000, 4, 4, 1, 2],
      ["large", 8000, 8, 6, 1, 2],
    ]);
    expect(DEFAULT_POLICY.defaultMaxSurge).toEqual({ kind: "percent", value: 25 });
    expect(DEFAULT_DAMPING).toEqual({ cooldownMs: 600_000, minGain: 1 });
  });

  it("sorts rows by cpu then memory before picking, whatever the table's order", () => {
    const table = [row("big", 2000, 8 * GiB), row("x", 1000, 4 * GiB), row("y", 1000, 2 * GiB)];
    expect(pickRow(table, { cpuMillis: 500, memoryBytes: GiB }).name).toBe("y"); // (1000, 2G) comes first
    expect(pickRow(table, { memoryBytes: 3 * GiB }).name).toBe("x");
    expect(pickRow(table, { cpuMillis: 1000 }).name).toBe("y");
    expect(pickRow(table, { cpuMillis: 3000 }).name).toBe("big"); // larger than every row: the largest
    expect(() => pickRow([], undefined)).toThrow("sizing table has no rows");
  });

  it("rounds percentages up (surge, reserve) and plans R = max(HPA max, replicas) or max(replicas, maxReplicas, 1)", () => {
    expect(resolveUp({ kind: "percent", value: 10 }, 5)).toBe(1); // ceil(0.5)
    expect(resolveUp({ kind: "int", value: 7 }, 5)).toBe(7);
    expect(reserveFor({ absolute: 0, percent: 5 }, 21)).toBe(2); // ceil(1.05)
    expect(reserveFor({ absolute: 3, percent: 5 }, 21)).toBe(3);
    expect(plannedReplicas(w("a", { replicas: 0 }))).toBe(1);
    expect(plannedReplicas(w("a", { replicas: 0, hpa: { minReplicas: 0, maxReplicas: 0 } }))).toBe(0);
    expect(plannedReplicas(w("a", { replicas: 2, maxReplicas: 5, hpa: { minReplicas: 1, maxReplicas: 3 } }))).toBe(3);
  });

  it("adds no start-first or rolling surge to a workload planned at 0 pods", () => {
    const zero = { replicas: 0, hpa: { minReplicas: 0, maxReplicas: 0 } };
    expect(surgePods(w("a", { ...zero, rollout: { type: "StartFirst" } }), SURGE)).toBe(0);
    expect(
      surgePods(w("a", { ...zero, rollout: { type: "RollingUpdate", maxSurge: { kind: "int", value: 2 } } }), SURGE),
    ).toBe(0);
    expect(surgePods(w("a", { replicas: 1, rollout: { type: "StartFirst" } }), SURGE)).toBe(1);
    expect(podsPeak(w("a", { ...zero, rollout: { type: "StartFirst" }, terminatingPods: 2 }), SURGE)).toBe(2);
  });
});

describe("allocate", () => {
  const d = (id: string, processes: number, desiredCap: number, bounds: number[], weight = 1) => ({
    id,
    processes,
    desiredCap,
    weight,
    bounds,
  });

  it("reports every bound that 1 per process already overruns, and only those", () => {
    // bound 0: 5 + 4 = 9 <= 9 fits exactly; bound 1: 5 > 4.
    expect(allocate([d("a", 5, 3, [0, 1]), d("b", 4, 3, [0])], [9, 4])).toEqual({
      feasible: false,
      overBounds: [{ bound: 1, needed: 5 }],
    });
  });

  it("fills by the lowest (cap + 1) / weight, ties by id", () => {
    // 3 processes at 1 = 3 used, 9 increments left. Key (cap + 1) / weight, lowest first, ties by id; step by step
    // (the raised workload, then its new key): c2 (1), b2 (1.5), c3 (1.33), c4 (1.67), b3 (2), c5 (2), a2 (3),
    // b4 (2.5), c6 (2.33): 12 used; every next step overruns.
    const r = allocate([d("a", 1, 20, [0], 1), d("b", 1, 20, [0], 2), d("c", 1, 20, [0], 3)], [12]);
    expect(r).toEqual({
      feasible: true,
      caps: new Map([
        ["a", 2],
        ["b", 4],
        ["c", 6],
      ]),
      used: [12],
    });
  });

  it("levels seven equal workloads and gives the remainder to the lowest ids (a heap of seven)", () => {
    // 7 at 1 = 7; two full rounds to 3 = 21; 3 left for a, b, c.
    const ids = ["g", "e", "c", "a", "f", "d", "b"];
    const r = allocate(
      ids.map((id) => d(id, 1, 10, [0])),
      [24],
    );
    if (!r.feasible) throw new Error("infeasible");
    expect(Object.fromEntries([...r.caps].sort())).toEqual({ a: 4, b: 4, c: 4, d: 3, e: 3, f: 3, g: 3 });
  });

  it("raises the lowest key first, wherever it sits in the heap", () => {
    // 5 at 1 = 5 of 7: two steps. Keys 2 / weight: a 1, b 0.67, c 0.67, d 1, e 1: b then c (each stops at 2).
    const r = allocate(
      [d("a", 1, 2, [0], 2), d("b", 1, 2, [0], 3), d("c", 1, 2, [0], 3), d("d", 1, 2, [0], 2), d("e", 1, 2, [0], 2)],
      [7],
    );
    if (!r.feasible) throw new Error("infeasible");
    expect(Object.fromEntries(r.caps)).toEqual({ a: 1, b: 2, c: 2, d: 1, e: 1 });
  });

  it("drops a workload that does not fit once, keeps filling the others, and stops at the desired cap", () => {
    // a (4 processes) and b (1): used 5 of 8. a first (tie, id): 9 > 8, dropped. b: 6, 7, 8 -> cap 4.
    expect(allocate([d("a", 4, 10, [0]), d("b", 1, 10, [0])], [8])).toEqual({
      feasible: true,
      caps: new Map([
        ["a", 1],
        ["b", 4],
      ]),
      used: [8],
    });
    // Plenty of room: b stops at its desired 3; c wants 1 and is never raised; d has no processes: its cap outright.
    expect(allocate([d("b", 1, 3, [0]), d("c", 2, 1, [0]), d("d", 0, 5, [0]), d("e", 0, 0, [0])], [100])).toEqual({
      feasible: true,
      caps: new Map([
        ["b", 3],
        ["c", 1],
        ["d", 5],
        ["e", 1],
      ]),
      used: [5],
    });
  });

  it("checks every bound of a workload, not only the first", () => {
    // Server 100, account bound 6: a (2 processes, server + account) stops at 3 (6); b (2, server only) goes to 5.
    expect(allocate([d("a", 2, 5, [0, 1]), d("b", 2, 5, [0])], [100, 6])).toEqual({
      feasible: true,
      caps: new Map([
        ["a", 3],
        ["b", 5],
      ]),
      used: [16, 6],
    });
  });
});

describe("plan: what each workload and database reports", () => {
  it("sorts databases and workloads, and reports unknown databases and unknown workers by name", () => {
    const p = plan(
      {
        databases: [db({ name: "z" }), db({ name: "a" })],
        workloads: [
          w("y", { database: "z", workers: "unknown", current: { poolSize: 5, maxOverflow: 10 }, account: "app" }),
          w("x", { database: "nope" }),
          w("v", { database: "nope", workers: "unknown" }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases.map((x) => x.name)).toEqual(["a", "z"]);
    expect(p.workloads.map((x) => x.id)).toEqual(["v", "x", "y"]);
    expect(p.findings.map((f) => f.message)).toEqual([
      'v: database "nope" is not defined; nothing is planned for it',
      'x: database "nope" is not defined; nothing is planned for it',
      "y: worker processes per pod cannot be known (the server may read them from a config file); it is not planned and not changed: set its workers annotation/label or workers-env",
    ]);
    expect(p.findings.map((f) => [f.kind, f.severity])).toEqual([
      ["unknown-database", "error"],
      ["unknown-database", "error"],
      ["unknown-workers", "error"],
    ]);
    expect(p.feasible).toBe(false); // every database fits, but x has none
    expect(p.currentSafe).toBe(true);
    // y: 1 pod of unknown workers: planned for display only, nothing to change.
    expect(p.workloads[2]).toEqual({
      id: "y",
      database: "z",
      account: "app",
      replicas: 1,
      plannedReplicas: 1,
      podsPeak: 1,
      workers: "unknown",
      processes: null,
      row: "small",
      desiredCap: 3,
      current: { settings: { poolSize: 5, maxOverflow: 10 }, assumed: false, unbounded: false, peak: null },
      change: "none",
      writes: {
        kind: "pool-overflow",
        profile: "sqlalchemy",
        poolSizeEnv: "DB_POOL_SIZE",
        maxOverflowEnv: "DB_MAX_OVERFLOW",
      },
    });
    // x: sized (2 processes at 1+2 = 6) but no database: no recommendation.
    expect(p.workloads[1]).toMatchObject({ processes: 2, current: { peak: 6 }, change: "none" });
    expect(p.workloads[1]?.recommended).toBeUndefined();
    expect(p.workloads[1]).not.toHaveProperty("account");
    expect(p.databases[1]).toMatchObject({ workloads: [], allocated: 0, currentPeak: 0, currentSafe: true });
  });

  it("fills in every database field of a feasible plan", () => {
    // usable 20 - 2 - 0 = 18; global max_user_connections 7. a: account svc (own limit 0 -> the global 7),
    // 2 processes; b: no account, 2 processes, bounded alone by 7. Caps: a 3 (6 <= 7), b 3 (6 <= 7); server 12 <= 18.
    const p = plan(
      {
        databases: [db({ maxUserConnections: 7, accounts: { svc: { maxUserConnections: 0 } } })],
        workloads: [w("a", { account: "svc" }), w("b")],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]).toEqual({
      name: "db",
      limit: 20,
      reserve: 2,
      unmanaged: 0,
      unmanagedAssumed: false,
      usable: 18,
      possiblyOwn: 0,
      maxUserConnections: 7,
      allocated: 12,
      free: 6,
      feasible: true,
      currentPeak: 12,
      currentSafe: true,
      accounts: [{ account: "svc", limit: 7, unmanaged: 0, usable: 7, allocated: 6 }],
      workloads: ["a", "b"],
    });
  });

  it("puts no bound on an account without any limit", () => {
    // usable 98, no per-user limit anywhere: a gets its table cap.
    const p = plan(
      {
        databases: [db({ maxConnections: 100, accounts: { svc: { maxUserConnections: 0, unmanaged: 50 } } })],
        workloads: [w("a", { account: "svc" })],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]?.accounts).toEqual([]);
    expect(p.workloads[0]?.recommended?.cap).toBe(3);
  });

  it("reports zeros for an infeasible database", () => {
    // 4 processes of account svc against its 3: infeasible; nothing allocated anywhere.
    const p = plan(
      {
        databases: [db({ maxConnections: 100, accounts: { svc: { maxUserConnections: 3 } } })],
        workloads: [w("a", { account: "svc", replicas: 2 })],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]).toMatchObject({ feasible: false, allocated: 0, free: 98 });
    expect(p.databases[0]?.accounts).toEqual([{ account: "svc", limit: 3, unmanaged: 0, usable: 3, allocated: 0 }]);
    expect(p.workloads[0]?.change).toBe("none");
  });

  it("says when other clients are assumed, only when something is planned on the database", () => {
    const seen = plan(
      { databases: [db({ maxConnections: 100, unmanaged: undefined })], workloads: [w("a")] },
      DEFAULT_POLICY,
    );
    // policy.unseenUnmanaged: max(2, ceil(10 % of 100)) = 10.
    expect(seen.findings.filter((f) => f.kind === "unseen-unmanaged")).toEqual([
      {
        kind: "unseen-unmanaged",
        severity: "warning",
        database: "db",
        assumed: 10,
        message: "db: other clients' connections cannot be seen (grant PROCESS to the monitoring account); assuming 10",
      },
    ]);
    const empty = plan(
      { databases: [db({ maxConnections: 100, unmanaged: undefined })], workloads: [] },
      DEFAULT_POLICY,
    );
    expect(empty.findings).toEqual([]);
  });

  it("reports unbounded and assumed current settings by name", () => {
    const p = plan(
      {
        databases: [db({ maxConnections: 200 })],
        workloads: [
          w("a", { current: { poolSize: 0, maxOverflow: 3 } }),
          w("b", { current: { poolSize: 1, maxOverflow: -1 } }),
          w("c", { current: { poolSize: 2 } }),
          w("d", { current: undefined }),
          w("e", { current: { poolSize: 1, maxOverflow: 0 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.findings.filter((f) => f.kind !== "current-exceeds").map((f) => [f.kind, f.severity, f.message])).toEqual([
      [
        "unbounded-current",
        "error",
        "a: pool_size=0 max_overflow=3 is unbounded (0 pool_size or negative overflow lets each process open any number of connections)",
      ],
      [
        "unbounded-current",
        "error",
        "b: pool_size=1 max_overflow=-1 is unbounded (0 pool_size or negative overflow lets each process open any number of connections)",
      ],
      ["assumed-current", "warning", "c: pool settings not set; assuming SQLAlchemy's defaults 2+10"],
      ["assumed-current", "warning", "d: pool settings not set; assuming SQLAlchemy's defaults 5+10"],
    ]);
    expect(messages(p, "current-exceeds")).toEqual([
      "database db: current settings can open an unbounded number of connections at peak, 198 available",
    ]);
    // a runs 0+3, the same cap 3 as the table: its unbounded split is not kept.
    expect(p.workloads[0]?.recommended).toEqual({ poolSize: 1, maxOverflow: 2, cap: 3, peak: 6, env: pairEnv(1, 2) });
    const byId = Object.fromEntries(p.workloads.map((x) => [x.id, x.current]));
    expect(byId.c).toEqual({ settings: { poolSize: 2, maxOverflow: 10 }, assumed: true, unbounded: false, peak: 24 });
    expect(byId.e).toEqual({ settings: { poolSize: 1, maxOverflow: 0 }, assumed: false, unbounded: false, peak: 2 });
    expect(p.databases[0]?.currentPeak).toBeNull();
  });

  it("pins unset settings even when the cap is the same, and keeps a bounded split with the same cap", () => {
    const table: Policy = { ...DEFAULT_POLICY, sizingTable: [row("wide", 1000, GiB, 5, 10)] };
    // Row cap 15 = SQLAlchemy's default 5+10: same cap, but unset env vars must be written.
    const unset = plan(
      { databases: [db({ maxConnections: 200 })], workloads: [w("a", { current: undefined })] },
      table,
    );
    expect(unset.workloads[0]?.recommended).toEqual({
      poolSize: 5,
      maxOverflow: 10,
      cap: 15,
      peak: 30,
      env: pairEnv(5, 10),
    });
    expect(unset.workloads[0]?.change).toBe("decrease");
    const set = plan(
      { databases: [db({ maxConnections: 200 })], workloads: [w("a", { current: { poolSize: 7, maxOverflow: 8 } })] },
      table,
    );
    expect(set.workloads[0]?.recommended).toEqual({
      poolSize: 7,
      maxOverflow: 8,
      cap: 15,
      peak: 30,
      env: pairEnv(7, 8),
    });
    expect(set.workloads[0]?.change).toBe("none");
    // Unbounded now and the plan's cap is larger than its numbers: still a decrease.
    const unbounded = plan(
      { databases: [db({ maxConnections: 200 })], workloads: [w("a", { current: { poolSize: 0, maxOverflow: 0 } })] },
      table,
    );
    expect(unbounded.workloads[0]?.change).toBe("decrease");
    expect(unbounded.workloads[0]?.recommended).toEqual({
      poolSize: 5,
      maxOverflow: 10,
      cap: 15,
      peak: 30,
      env: pairEnv(5, 10),
    });
  });
});

describe("plan: current settings and splits", () => {
  it("does not keep an assumed split with the table's cap", () => {
    // Row 1+11 (cap 12); pool_size 2 set, max_overflow unset: 2 + SQLAlchemy's 10 = 12, the same cap, but assumed.
    const table: Policy = { ...DEFAULT_POLICY, sizingTable: [row("r", 1000, GiB, 1, 11)] };
    const p = plan(
      { databases: [db({ maxConnections: 200 })], workloads: [w("a", { current: { poolSize: 2 } })] },
      table,
    );
    expect(p.workloads[0]?.recommended).toEqual({
      poolSize: 1,
      maxOverflow: 11,
      cap: 12,
      peak: 24,
      env: pairEnv(1, 11),
    });
    expect(p.workloads[0]?.change).toBe("decrease");
  });

  it("calls current settings that exactly fill a bound safe", () => {
    // usable 18; 3 pods x 2 workers x (1+2) = 18. Account svc: 10 - 4 = 6 = 1 pod x 2 x 3.
    const p = plan({ databases: [db()], workloads: [w("a", { replicas: 3 })] }, DEFAULT_POLICY);
    expect(p.databases[0]).toMatchObject({ usable: 18, currentPeak: 18, currentSafe: true });
    expect(p.currentSafe).toBe(true);
    const q = plan(
      {
        databases: [db({ maxConnections: 100, accounts: { svc: { maxUserConnections: 10, unmanaged: 4 } } })],
        workloads: [w("a", { account: "svc" })],
      },
      DEFAULT_POLICY,
    );
    expect(q.findings).toEqual([]);
    expect(q.currentSafe).toBe(true);
  });
});

describe("plan: several databases", () => {
  it("is feasible and safe only when every database is", () => {
    // ok: 2 processes at 1+2 = 6 of 18. tight: usable 0 (20 - 2 - 18): 2 processes cannot fit, 6 > 0 now.
    const p = plan(
      {
        databases: [db({ name: "ok" }), db({ name: "tight", unmanaged: 18 })],
        workloads: [w("a", { database: "ok" }), w("b", { database: "tight" })],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases.map((x) => [x.name, x.feasible, x.currentSafe])).toEqual([
      ["ok", true, true],
      ["tight", false, false],
    ]);
    expect(p.feasible).toBe(false);
    expect(p.currentSafe).toBe(false);
  });

  it("treats a set max_overflow without pool_size as assumed", () => {
    // pool_size unset -> SQLAlchemy's 5; 5 + 2 = 7 per process, 2 processes: 14.
    const p = plan({ databases: [db()], workloads: [w("a", { current: { maxOverflow: 2 } })] }, DEFAULT_POLICY);
    expect(p.workloads[0]?.current).toEqual({
      settings: { poolSize: 5, maxOverflow: 2 },
      assumed: true,
      unbounded: false,
      peak: 14,
    });
    expect(messages(p, "assumed-current")).toEqual(["a: pool settings not set; assuming SQLAlchemy's defaults 5+2"]);
  });

  it("explains a negative budget only for the server, not for an account", () => {
    // Account svc: 3 - 5 held by others = -2; the server has 98.
    const p = plan(
      {
        databases: [db({ maxConnections: 100, accounts: { svc: { maxUserConnections: 3, unmanaged: 5 } } })],
        workloads: [w("a", { account: "svc" })],
      },
      DEFAULT_POLICY,
    );
    expect(messages(p, "infeasible")).toEqual([
      "account svc on db: needs 2 connections at 1 per process, allows -2: 4 missing; reduce workers or replicas, or add a pooler",
    ]);
  });
});

describe("plan: infeasible findings", () => {
  const infeasible = (p: Plan) => p.findings.filter((f) => f.kind === "infeasible");

  it("explains a negative server budget, and not a zero one", () => {
    // 10 - 2 reserve - 12 others = -4; a needs 2: 6 missing; nothing fits.
    const neg = plan({ databases: [db({ maxConnections: 10, unmanaged: 12 })], workloads: [w("a")] }, DEFAULT_POLICY);
    expect(infeasible(neg)).toEqual([
      {
        kind: "infeasible",
        severity: "error",
        database: "db",
        scope: { kind: "server" },
        needed: 2,
        available: -4,
        missing: 6,
        fits: [{ workload: "a", workers: 0, pods: 0 }],
        message:
          "database db: needs 2 connections at 1 per process, allows -4 (reserve 2 + other clients 12 exceed max_connections 10): 6 missing; reduce workers or replicas, or add a pooler",
      },
    ]);
    const zero = plan({ databases: [db({ maxConnections: 10, unmanaged: 8 })], workloads: [w("a")] }, DEFAULT_POLICY);
    expect(infeasible(zero).map((f) => f.message)).toEqual([
      "database db: needs 2 connections at 1 per process, allows 0: 2 missing; reduce workers or replicas, or add a pooler",
    ]);
  });

  it("lists per workload the workers or replicas that would fit, at most three hints", () => {
    // usable 10; a 2 pods x 2, b 1 x 3, c 1 x 2, d 3 pods x 1: 12 needed, 2 missing.
    // a: room 10 - 8 = 2 -> floor(2 / 2 pods) = 1 worker, or 1 replica (1 x 2 <= 2).
    // b: room 1 -> 1 worker, 0 replicas (3 > 1). c: room 0 -> nothing (no hint). d: room 1 -> 0 workers, 1 replica.
    const p = plan(
      {
        databases: [db({ maxConnections: 12 })],
        workloads: [
          w("a", { replicas: 2, workers: 2 }),
          w("b", { workers: 3 }),
          w("c", { workers: 2 }),
          w("d", { replicas: 3, workers: 1 }),
        ],
      },
      DEFAULT_POLICY,
    );
    const [f] = infeasible(p);
    expect(f).toMatchObject({
      needed: 12,
      available: 10,
      missing: 2,
      fits: [
        { workload: "a", workers: 1, pods: 1 },
        { workload: "b", workers: 1, pods: 0 },
        { workload: "c", workers: 0, pods: 0 },
        { workload: "d", workers: 0, pods: 1 },
      ],
      message:
        "database db: needs 12 connections at 1 per process, allows 10: 2 missing; fits: a with 1 workers per pod or 1 replicas; b with 1 workers per pod or 0 replicas; d with 0 workers per pod or 1 replicas; or add a pooler",
    });
    // Four that could fit: only the first three are named. 13 needed of 12; each 3-worker pod has room 2.
    const q = plan(
      {
        databases: [db({ maxConnections: 14 })],
        workloads: [
          w("a", { workers: 3 }),
          w("b", { workers: 3 }),
          w("c", { workers: 3 }),
          w("d", { workers: 3 }),
          w("e", { workers: 1 }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(infeasible(q).map((x) => x.message)).toEqual([
      "database db: needs 13 connections at 1 per process, allows 12: 1 missing; fits: a with 2 workers per pod or 0 replicas; b with 2 workers per pod or 0 replicas; c with 2 workers per pod or 0 replicas; or add a pooler",
    ]);
  });

  it("searches replicas below an HPA's or a by-hand maximum", () => {
    // 6 pods x 2 workers = 12 > usable 10: 5 pods (10) would fit; 1 worker per pod of 6 (6 <= 10).
    for (const over of [{ hpa: { minReplicas: 1, maxReplicas: 6 } }, { maxReplicas: 6 }]) {
      const p = plan(
        { databases: [db({ maxConnections: 12 })], workloads: [w("a", { replicas: 2, ...over })] },
        DEFAULT_POLICY,
      );
      expect(infeasible(p).map((x) => x.message)).toEqual([
        "database db: needs 12 connections at 1 per process, allows 10: 2 missing; fits: a with 1 workers per pod or 5 replicas; or add a pooler",
      ]);
    }
  });

  it("names the account-less bound and the account bound", () => {
    // Global 10: a's 11 processes (11 pods x 1) cannot fit alone; 10 replicas would. Its current 11 x 3 = 33.
    const p = plan(
      {
        databases: [db({ maxConnections: 100, maxUserConnections: 10 })],
        workloads: [w("a", { replicas: 11, workers: 1 })],
      },
      DEFAULT_POLICY,
    );
    expect(messages(p, "infeasible")).toEqual([
      "a (account unknown) against max_user_connections on db: needs 11 connections at 1 per process, allows 10: 1 missing; fits: a with 0 workers per pod or 10 replicas; or add a pooler",
    ]);
    expect(p.findings.find((f) => f.kind === "infeasible")).toMatchObject({
      scope: { kind: "unknown-account", workload: "a" },
    });
    expect(messages(p, "current-exceeds")).toEqual([
      "a (account unknown) against max_user_connections on db: current settings can open 33 connections at peak, 10 available",
    ]);
    // Account svc: 10 - 4 others = 6 for 2 pods x 2 workers at 1+2 = 12 now.
    const q = plan(
      {
        databases: [db({ maxConnections: 100, accounts: { svc: { maxUserConnections: 10, unmanaged: 4 } } })],
        workloads: [w("a", { account: "svc", replicas: 2 })],
      },
      DEFAULT_POLICY,
    );
    expect(q.findings.find((f) => f.kind === "current-exceeds")).toEqual({
      kind: "current-exceeds",
      severity: "error",
      database: "db",
      scope: { kind: "account", account: "svc" },
      currentPeak: 12,
      available: 6,
      message: "account svc on db: current settings can open 12 connections at peak, 6 available",
    });
  });
});

describe("plan: connections an unknown account may hold itself", () => {
  it("takes the largest unattributed entries, one per account-less workload, at most their current peak", () => {
    // a, b account-less (2 processes at 1+2 = 6 each); k has an account. Largest two of [3, 10, 7, 1]: 17; peaks 12.
    const mk = (unattributed: number[], current = { poolSize: 1, maxOverflow: 2 }) =>
      plan(
        {
          databases: [db({ maxConnections: 100, unmanaged: 21, unattributed })],
          workloads: [w("a", { current }), w("b", { current }), w("k", { account: "svc" })],
        },
        DEFAULT_POLICY,
      );
    expect(mk([3, 10, 7, 1]).databases[0]?.possiblyOwn).toBe(12);
    // With 20+20 each current peak is 80: 17.
    const big = mk([3, 10, 7, 1], { poolSize: 20, maxOverflow: 20 });
    expect(big.databases[0]?.possiblyOwn).toBe(17);
    expect(messages(big, "unknown-account")).toEqual([
      "a, b: database account unknown, so up to 17 connections of other users may be its own; they are counted as other clients' (a conservative budget), and it is not shrunk for them: set its account annotation/label or put the user in a database URL in its env",
    ]);
    expect(big.findings.find((f) => f.kind === "unknown-account")).toMatchObject({
      severity: "warning",
      workload: "a, b",
    });
    // Unbounded current settings: no peak to cap it, 17.
    expect(mk([3, 10, 7, 1], { poolSize: 0, maxOverflow: 0 }).databases[0]?.possiblyOwn).toBe(17);
    expect(mk([]).databases[0]?.possiblyOwn).toBe(0);
    expect(mk([]).findings.filter((f) => f.kind === "unknown-account")).toEqual([]);
  });

  it("is 0 when every workload names its account, or when other clients are only assumed", () => {
    const named = plan(
      {
        databases: [db({ maxConnections: 100, unmanaged: 5, unattributed: [5] })],
        workloads: [w("k", { account: "svc" })],
      },
      DEFAULT_POLICY,
    );
    expect(named.databases[0]?.possiblyOwn).toBe(0);
    const assumed = plan(
      { databases: [db({ maxConnections: 100, unmanaged: undefined, unattributed: [5] })], workloads: [w("a")] },
      DEFAULT_POLICY,
    );
    expect(assumed.databases[0]?.possiblyOwn).toBe(0);
  });
});

describe("decide: branches", () => {
  const flat = (maxConnections: number, over: Partial<DatabaseSnapshot> = {}) =>
    db({ maxConnections, reserve: { absolute: 0, percent: 0 }, ...over });

  it("ignores workloads with unknown workers (and their rollouts), and decides each database on its own", () => {
    // db: u unknown (rolling out), a 2 processes at 1+0 -> table cap 3: an increase that fits 6 <= 100.
    // other: b 2 processes at 5+5 = 20 -> 3: a decrease.
    const p = plan(
      {
        databases: [flat(100), flat(100, { name: "other" })],
        workloads: [
          w("u", { workers: "unknown", current: { poolSize: 5, maxOverflow: 10 } }),
          w("a", { current: { poolSize: 1, maxOverflow: 0 } }),
          w("b", { database: "other", current: { poolSize: 5, maxOverflow: 5 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    const d = decide(p, new Map([["u", auto({ rollingOut: true })]]), 0, now0);
    expect(d).toEqual({
      apply: [
        {
          workload: "a",
          database: "db",
          change: "increase",
          from: { poolSize: 1, maxOverflow: 0 },
          to: { poolSize: 1, maxOverflow: 2 },
          env: pairEnv(1, 2),
        },
        {
          workload: "b",
          database: "other",
          change: "decrease",
          from: { poolSize: 5, maxOverflow: 5 },
          to: { poolSize: 1, maxOverflow: 2 },
          env: pairEnv(1, 2),
        },
      ],
      deferred: [],
    });
  });

  it("holds every change of a database with a rollout in progress", () => {
    const p = plan(
      {
        databases: [flat(100)],
        workloads: [
          w("a", { current: { poolSize: 1, maxOverflow: 0 } }),
          w("b", { current: { poolSize: 5, maxOverflow: 5 } }),
          // n already runs the plan's 1+2 and is off: nothing of it is held, so it is not reported.
          w("n"),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.workloads.map((x) => x.change)).toEqual(["increase", "decrease", "none"]);
    const d = decide(
      p,
      new Map([
        ["c", auto({ rollingOut: true })],
        ["b", auto({ rollingOut: true })],
        ["n", auto({ updateMode: "off" })],
      ]),
      0,
      now0,
    );
    expect(d).toEqual({
      apply: [],
      deferred: [
        { workload: "a", reason: "database-busy" },
        { workload: "b", reason: "database-busy" },
      ],
    });
  });

  it("decreases an unbounded workload first, then the larger excess; the order of the plan does not matter", () => {
    // z unbounded (infinite excess), a 5+5 (20 -> 6: 14), b 5+5 too: a before b by id.
    const p = plan(
      {
        databases: [flat(100)],
        workloads: [
          w("a", { current: { poolSize: 5, maxOverflow: 5 } }),
          w("b", { current: { poolSize: 5, maxOverflow: 5 } }),
          w("z", { current: { poolSize: 0, maxOverflow: 5 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    const reversed = { ...p, workloads: [...p.workloads].reverse() };
    for (const q of [p, reversed]) expect(decide(q, new Map(), 0, now0).apply.map((a) => a.workload)).toEqual(["z"]);
    const bounded = plan(
      {
        databases: [flat(100)],
        workloads: [
          w("b", { current: { poolSize: 5, maxOverflow: 5 } }),
          w("a", { current: { poolSize: 5, maxOverflow: 5 } }),
          w("c", { current: { poolSize: 2, maxOverflow: 2 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    // a and b both 14 over, c 8 - 6 = 2 over.
    for (const q of [bounded, { ...bounded, workloads: [...bounded.workloads].reverse() }]) {
      const d = decide(q, new Map(), 0, now0);
      expect(d.apply.map((a) => a.workload)).toEqual(["a"]);
      expect(d.deferred.map((x) => x.workload).sort()).toEqual(["b", "c"]);
    }
  });

  it("leaves a workload whose plan changes nothing out of the decision", () => {
    // a: 1 -> 3, an increase; b already runs the plan's 1+2: no deferral of any kind for it.
    const p = plan(
      { databases: [flat(100)], workloads: [w("a", { current: { poolSize: 1, maxOverflow: 0 } }), w("b")] },
      DEFAULT_POLICY,
    );
    expect(p.workloads.map((x) => x.change)).toEqual(["increase", "none"]);
    expect(decide(p, new Map(), 0, now0)).toEqual({
      apply: [
        {
          workload: "a",
          database: "db",
          change: "increase",
          from: { poolSize: 1, maxOverflow: 0 },
          to: { poolSize: 1, maxOverflow: 2 },
          env: pairEnv(1, 2),
        },
      ],
      deferred: [],
    });
  });

  it("applies one increase per database; the next is busy", () => {
    const p = plan(
      {
        databases: [flat(100)],
        workloads: [
          w("a", { current: { poolSize: 1, maxOverflow: 0 } }),
          w("b", { current: { poolSize: 1, maxOverflow: 0 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(decide(p, new Map(), 0, now0)).toEqual({
      apply: [
        {
          workload: "a",
          database: "db",
          change: "increase",
          from: { poolSize: 1, maxOverflow: 0 },
          to: { poolSize: 1, maxOverflow: 2 },
          env: pairEnv(1, 2),
        },
      ],
      deferred: [{ workload: "b", reason: "database-busy" }],
    });
  });

  it("measures the gain from the current pool_size + max_overflow", () => {
    // 1+1 = 2 now, 3 planned: a gain of 1, below a minimum of 2.
    const p = plan(
      { databases: [flat(100)], workloads: [w("a", { current: { poolSize: 1, maxOverflow: 1 } })] },
      DEFAULT_POLICY,
    );
    expect(decide(p, new Map(), 0, { cooldownMs: 0, minGain: 2 })).toEqual({
      apply: [],
      deferred: [{ workload: "a", reason: "gain-too-small" }],
    });
  });

  it("applies a gain of exactly minGain; cools down from first sight or the last apply, whichever is later", () => {
    // 1 -> 3: a gain of 2.
    const p = plan(
      { databases: [flat(100)], workloads: [w("a", { current: { poolSize: 1, maxOverflow: 0 } })] },
      DEFAULT_POLICY,
    );
    expect(decide(p, new Map(), 0, { cooldownMs: 0, minGain: 2 }).apply).toHaveLength(1);
    const cool = { cooldownMs: 600_000, minGain: 1 };
    // Never seen before: seen now, so it waits a full cooldown.
    expect(decide(p, new Map(), 5, cool).deferred).toEqual([{ workload: "a", reason: "cooldown", until: 600_005 }]);
    // Applied at 1000, seen at 0: until max(1000 + 100, 0 + 100) = 1100.
    const states = new Map([["a", auto({ lastAppliedAt: 1_000, increaseSeenAt: 0 })]]);
    expect(decide(p, states, 500, { cooldownMs: 100, minGain: 1 }).deferred).toEqual([
      { workload: "a", reason: "cooldown", until: 1_100 },
    ]);
    expect(decide(p, states, 1_100, { cooldownMs: 100, minGain: 1 }).apply).toHaveLength(1);
  });

  it("lets an increase fill a bound exactly, and checks an account's limit with its members only", () => {
    // usable 8, 2 processes each: both get cap 2 (4 + 4). b already runs 2+0 (kept, no change); a goes 1 -> 2:
    // 4 + b's 4 = 8 fits exactly.
    const exact = plan(
      {
        databases: [flat(8)],
        workloads: [
          w("a", { current: { poolSize: 1, maxOverflow: 0 } }),
          w("b", { current: { poolSize: 2, maxOverflow: 0 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(exact.workloads.map((x) => [x.recommended?.cap, x.change])).toEqual([
      [2, "increase"],
      [2, "none"],
    ]);
    expect(decide(exact, new Map(), 0, now0).apply.map((a) => a.workload)).toEqual(["a"]);
    // Account svc limit 6: a (svc) 1 -> 3 = 6 fits; c (no account, 2 x 3 = 6) runs on the server only.
    const acct = plan(
      {
        databases: [flat(100, { accounts: { svc: { maxUserConnections: 6 } } })],
        workloads: [w("a", { account: "svc", current: { poolSize: 1, maxOverflow: 0 } }), w("c")],
      },
      DEFAULT_POLICY,
    );
    expect(decide(acct, new Map(), 0, now0).apply.map((a) => a.workload)).toEqual(["a"]);
    // An account with no limit adds no bound: b (other, unlimited) increases freely next to a heavy x of "other".
    const free = plan(
      {
        databases: [flat(30, { accounts: { other: { maxUserConnections: 0 } } })],
        workloads: [
          w("b", { account: "other", current: { poolSize: 1, maxOverflow: 0 } }),
          w("x", { account: "other" }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(decide(free, new Map(), 0, now0).apply.map((a) => a.workload)).toEqual(["b"]);
  });

  it("decreases a workload with a known account even when an account-less one may hold some connections", () => {
    // usable 22 - 2 - 4 = 16. u account-less 2 processes at 1+0 (2); k (svc) 8 processes at 1+1 (16).
    // Filling: k first by id: 10 + 8 = 18 > 16, stays 1; u to 3. k: 16 -> 8, a decrease; possiblyOwn min(4, 2) = 2.
    // Counting those 2 as k's own would make 16 + 2 <= 16 + 2 fit: it must not matter for k.
    const p = plan(
      {
        databases: [db({ maxConnections: 22, unmanaged: 4, unattributed: [4] })],
        workloads: [
          w("u", { current: { poolSize: 1, maxOverflow: 0 } }),
          w("k", { account: "svc", replicas: 2, workers: 4, current: { poolSize: 1, maxOverflow: 1 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]?.possiblyOwn).toBe(2);
    expect(p.workloads.map((x) => [x.id, x.recommended?.cap, x.change])).toEqual([
      ["k", 1, "decrease"],
      ["u", 3, "increase"],
    ]);
    const d = decide(p, new Map(), 0, now0);
    expect(d.apply.map((a) => a.workload)).toEqual(["k"]);
    expect(d.deferred).toEqual([{ workload: "u", reason: "decrease-pending" }]);
  });

  it("decreases an account-less workload that fits the server but not the global limit with its own connections", () => {
    // usable 20 - 2 - 4 = 14, global 12; 8 processes at 1+1 = 16: cap 1 (16 > 12). Even with the 4 others as its own,
    // 16 <= 14 + 4 on the server, but 16 > 12 on max_user_connections: the decrease goes.
    const p = plan(
      {
        databases: [db({ unmanaged: 4, unattributed: [4], maxUserConnections: 12 })],
        workloads: [w("app", { replicas: 2, workers: 4, current: { poolSize: 1, maxOverflow: 1 } })],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]?.possiblyOwn).toBe(4);
    expect(decide(p, new Map(), 0, now0).apply.map((a) => a.to)).toEqual([{ poolSize: 1, maxOverflow: 0 }]);
  });

  it("orders decreases by excess over the plan, not by current peak", () => {
    // x: 2 pods x 2 workers at 3+3 = 24, plan 3 -> 12: 12 over. y: 2 processes at 5+5 = 20, plan 6: 14 over. y first.
    const p = plan(
      {
        databases: [flat(100)],
        workloads: [
          w("x", { replicas: 2, current: { poolSize: 3, maxOverflow: 3 } }),
          w("y", { current: { poolSize: 5, maxOverflow: 5 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.workloads.map((x) => [x.current.peak, x.recommended?.peak])).toEqual([
      [24, 12],
      [20, 6],
    ]);
    expect(decide(p, new Map(), 0, now0).apply.map((a) => a.workload)).toEqual(["y"]);
  });

  it("never increases next to a workload that runs unbounded", () => {
    // b (update-mode off) runs 0+5: any number of connections; a's increase cannot be shown to fit.
    const p = plan(
      {
        databases: [flat(100)],
        workloads: [
          w("a", { current: { poolSize: 1, maxOverflow: 0 } }),
          w("b", { current: { poolSize: 0, maxOverflow: 5 } }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(decide(p, new Map([["b", auto({ updateMode: "off" })]]), 0, now0)).toEqual({
      apply: [],
      deferred: [
        { workload: "b", reason: "update-mode-off" },
        { workload: "a", reason: "would-exceed-now" },
      ],
    });
  });

  it("decreases an account-less workload when nothing unattributed could be its own", () => {
    // 2 processes at 2+3 = 10 fits 98 but the table asks 3: a decrease, applied (nothing to explain).
    const p = plan(
      { databases: [db({ maxConnections: 100 })], workloads: [w("a", { current: { poolSize: 2, maxOverflow: 3 } })] },
      DEFAULT_POLICY,
    );
    expect(decide(p, new Map(), 0, now0).apply).toEqual([
      {
        workload: "a",
        database: "db",
        change: "decrease",
        from: { poolSize: 2, maxOverflow: 3 },
        to: { poolSize: 1, maxOverflow: 2 },
        env: pairEnv(1, 2),
      },
    ]);
  });
});
