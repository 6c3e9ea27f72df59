import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Damping,
  type DatabaseSnapshot,
  DEFAULT_POLICY,
  decide,
  plan,
  type Snapshot,
  type WorkloadSnapshot,
  type WorkloadState,
} from "../../src/core/index.js";
import { pairEnv } from "./pair-env.js";

const damping: Damping = { cooldownMs: 600_000, minGain: 1 };
const db = (maxConnections: number): DatabaseSnapshot => ({
  name: "db",
  maxConnections,
  unmanaged: 0,
  reserve: { absolute: 0, percent: 0 },
});
const w = (id: string, workers: number, poolSize: number, maxOverflow: number): WorkloadSnapshot => ({
  id,
  kind: "ComposeService",
  database: "db",
  replicas: 1,
  rollout: { type: "StopFirst" },
  workers,
  current: { poolSize, maxOverflow },
});
const auto = (extra: Partial<WorkloadState> = {}): WorkloadState => ({ updateMode: "auto", ...extra });

describe("decide", () => {
  it("applies the largest decrease first, one per database, and holds increases behind it", () => {
    const s: Snapshot = { databases: [db(12)], workloads: [w("a", 2, 2, 3), w("b", 2, 1, 0), w("c", 2, 3, 3)] };
    const d = decide(plan(s, DEFAULT_POLICY), new Map(), 0, damping);
    expect(d.apply.map((a) => a.workload)).toEqual(["c"]); // c: 12 -> 4 is the largest excess
    expect(d.deferred).toEqual(
      expect.arrayContaining([
        { workload: "a", reason: "database-busy" },
        { workload: "b", reason: "decrease-pending" },
      ]),
    );
  });

  it("waits while a rollout on the database is still running", () => {
    const s: Snapshot = { databases: [db(12)], workloads: [w("a", 2, 2, 3), w("b", 2, 1, 0)] };
    const d = decide(plan(s, DEFAULT_POLICY), new Map([["b", auto({ rollingOut: true })]]), 0, damping);
    expect(d.apply).toEqual([]);
  });

  it("damps increases: cooldown since the last apply and since first seen, then a minimum gain", () => {
    const s: Snapshot = { databases: [db(100)], workloads: [w("a", 2, 1, 0)] };
    const p = plan(s, DEFAULT_POLICY);
    expect(p.workloads[0]?.change).toBe("increase");
    const seen = new Map([["a", auto({ increaseSeenAt: 1_000, lastAppliedAt: 0 })]]);
    expect(decide(p, seen, 1_000, damping).deferred).toEqual([{ workload: "a", reason: "cooldown", until: 601_000 }]);
    expect(decide(p, seen, 601_000, damping).apply).toEqual([
      {
        workload: "a",
        database: "db",
        change: "increase",
        from: { poolSize: 1, maxOverflow: 0 },
        to: { poolSize: 1, maxOverflow: 2 },
        env: pairEnv(1, 2),
      },
    ]);
    expect(decide(p, seen, 601_000, { ...damping, minGain: 3 }).deferred).toEqual([
      { workload: "a", reason: "gain-too-small" },
    ]);
  });

  it("recommends only in update-mode off", () => {
    const s: Snapshot = { databases: [db(12)], workloads: [w("a", 2, 2, 3)] };
    const d = decide(plan(s, DEFAULT_POLICY), new Map([["a", auto({ updateMode: "off" })]]), 0, damping);
    expect(d).toEqual({ apply: [], deferred: [{ workload: "a", reason: "update-mode-off" }] });
  });

  it("never increases while another workload still runs above its plan", () => {
    // b is off and keeps 2+3 (10 at peak); a's increase to 3 per process would make 6 + 10 > 15.
    const s: Snapshot = { databases: [db(15)], workloads: [w("a", 2, 1, 0), w("b", 2, 2, 3)] }; // usable 15
    const states = new Map([
      ["a", auto({ increaseSeenAt: 0 })],
      ["b", auto({ updateMode: "off" })],
    ]);
    const d = decide(plan(s, DEFAULT_POLICY), states, 10_000_000, damping);
    expect(d.apply).toEqual([]);
    expect(d.deferred).toContainEqual({ workload: "a", reason: "would-exceed-now" });
  });

  it("never changes a paused workload: its decrease is held as paused and the next one goes", () => {
    // 6 processes share 12: 2 each (1+1, peak 4). c 3+3 (peak 12) has the largest excess but is paused, so a
    // (2+3, peak 10 -> 4) goes; b's increase (1+0 -> 1+1) still waits behind the decrease.
    const s: Snapshot = { databases: [db(12)], workloads: [w("a", 2, 2, 3), w("b", 2, 1, 0), w("c", 2, 3, 3)] };
    const d = decide(plan(s, DEFAULT_POLICY), new Map([["c", auto({ paused: true })]]), 0, damping);
    expect(d.apply).toEqual([
      {
        workload: "a",
        database: "db",
        change: "decrease",
        from: { poolSize: 2, maxOverflow: 3 },
        to: { poolSize: 1, maxOverflow: 1 },
        env: pairEnv(1, 1),
      },
    ]);
    expect(d.deferred).toEqual([
      { workload: "c", reason: "paused" },
      { workload: "b", reason: "decrease-pending" },
    ]);
  });

  it("holds a paused workload's increase, and counts its current peak where an increase must fit", () => {
    // usable 15; a 1+0 (peak 2) wants 3 per process (peak 6); b is paused at 2+3 (peak 10): 6 + 10 > 15.
    const s: Snapshot = { databases: [db(15)], workloads: [w("a", 2, 1, 0), w("b", 2, 2, 3)] };
    const states = new Map([
      ["a", auto({ increaseSeenAt: 0 })],
      ["b", auto({ paused: true })],
    ]);
    const d = decide(plan(s, DEFAULT_POLICY), states, 10_000_000, damping);
    expect(d).toEqual({
      apply: [],
      deferred: [
        { workload: "b", reason: "paused" },
        { workload: "a", reason: "would-exceed-now" },
      ],
    });
    // Alone and paused, an increase (1+0 -> 1+2 with usable 100) is held too.
    const alone: Snapshot = { databases: [db(100)], workloads: [w("a", 2, 1, 0)] };
    const p = plan(alone, DEFAULT_POLICY);
    expect(decide(p, new Map([["a", auto({ paused: true, increaseSeenAt: 0 })]]), 10_000_000, damping)).toEqual({
      apply: [],
      deferred: [{ workload: "a", reason: "paused" }],
    });
  });

  it("freezes a database while a rollout pooltuner started there is stuck, and lets it go once it is not", () => {
    // a 2+3 (peak 10 -> 4) needs a decrease; b already runs its plan (1+1) but its rollout is stuck.
    const s: Snapshot = { databases: [db(8)], workloads: [w("a", 2, 2, 3), w("b", 2, 1, 1)] };
    const p = plan(s, DEFAULT_POLICY);
    expect(p.workloads.map((x) => x.change)).toEqual(["decrease", "none"]);
    const frozen = decide(p, new Map([["b", auto({ stuck: true })]]), 0, damping);
    expect(frozen).toEqual({ apply: [], deferred: [{ workload: "a", reason: "database-frozen" }] });
    const free = decide(p, new Map([["b", auto()]]), 0, damping);
    expect(free.apply.map((x) => [x.workload, x.to])).toEqual([["a", { poolSize: 1, maxOverflow: 1 }]]);
  });

  it("lets the next decrease go while the largest one waits after a failure, and keeps increases held", () => {
    // c has the largest excess but its last attempt failed: a goes instead; b's increase still waits.
    const s: Snapshot = { databases: [db(12)], workloads: [w("a", 2, 2, 3), w("b", 2, 1, 0), w("c", 2, 3, 3)] };
    const p = plan(s, DEFAULT_POLICY);
    const states = new Map([["c", auto({ failedUntil: 5_000 })]]);
    const d = decide(p, states, 4_999, damping);
    expect(d.apply.map((a) => a.workload)).toEqual(["a"]);
    expect(d.deferred).toEqual(
      expect.arrayContaining([
        { workload: "c", reason: "failed-recently", until: 5_000 },
        { workload: "b", reason: "decrease-pending" },
      ]),
    );
    expect(d.deferred).not.toContainEqual(expect.objectContaining({ workload: "a" }));
    // Once the backoff is over, c is the first again.
    expect(decide(p, states, 5_000, damping).apply.map((a) => a.workload)).toEqual(["c"]);
  });

  it("holds every decrease that failed recently, and applies none of them", () => {
    const s: Snapshot = { databases: [db(12)], workloads: [w("a", 2, 2, 3), w("c", 2, 3, 3)] };
    const states = new Map([
      ["a", auto({ failedUntil: 10 })],
      ["c", auto({ failedUntil: 20 })],
    ]);
    const d = decide(plan(s, DEFAULT_POLICY), states, 0, damping);
    expect(d).toEqual({
      apply: [],
      deferred: [
        { workload: "a", reason: "failed-recently", until: 10 },
        { workload: "c", reason: "failed-recently", until: 20 },
      ],
    });
  });

  it("lets another increase go while one that failed waits", () => {
    const s: Snapshot = { databases: [db(100)], workloads: [w("a", 2, 1, 0), w("b", 2, 1, 0)] };
    const states = new Map([
      ["a", auto({ increaseSeenAt: 0, failedUntil: 2_000_000 })],
      ["b", auto({ increaseSeenAt: 0 })],
    ]);
    const d = decide(plan(s, DEFAULT_POLICY), states, 1_000_000, damping);
    expect(d.apply.map((a) => a.workload)).toEqual(["b"]);
    expect(d.deferred).toEqual([{ workload: "a", reason: "failed-recently", until: 2_000_000 }]);
  });
});

// Walk the shell's loop: apply what decide() says, one action per step, and check the current settings
// against the budget after every step. Once the walk starts safe, no step may make it unsafe.
describe("decide (property)", () => {
  const workloads = fc
    .array(
      fc.record({
        workers: fc.integer({ min: 1, max: 6 }),
        replicas: fc.integer({ min: 0, max: 4 }),
        poolSize: fc.integer({ min: 1, max: 4 }),
        maxOverflow: fc.integer({ min: 0, max: 4 }),
        off: fc.boolean(),
      }),
      { minLength: 1, maxLength: 8 },
    )
    .map((xs) =>
      xs.map(
        (x, i): WorkloadSnapshot => ({
          ...w(`w${i}`, x.workers, x.poolSize, x.maxOverflow),
          replicas: x.replicas,
        }),
      ),
    );

  it("converges without ever stepping from safe to unsafe, and stops writing", () => {
    fc.assert(
      fc.property(
        workloads,
        fc.integer({ min: 0, max: 150 }),
        fc.array(fc.boolean(), { maxLength: 8 }),
        (ws, limit, offs) => {
          let snap: Snapshot = { databases: [db(limit)], workloads: ws };
          const states = new Map(
            ws.map((x, i) => [x.id, auto({ updateMode: offs[i] ? "off" : "auto", increaseSeenAt: 0 })]),
          );
          let wasSafe = plan(snap, DEFAULT_POLICY).currentSafe;
          let steps = 0;
          for (; steps < 50; steps++) {
            const p = plan(snap, DEFAULT_POLICY);
            const d = decide(p, states, 1e12, damping);
            expect(d.apply.length).toBeLessThanOrEqual(1);
            const a = d.apply[0];
            if (!a) break;
            snap = {
              ...snap,
              workloads: snap.workloads.map((x) => (x.id === a.workload ? { ...x, current: a.to } : x)),
            };
            const safe = plan(snap, DEFAULT_POLICY).currentSafe;
            if (wasSafe) expect(safe).toBe(true);
            if (a.change === "increase") expect(safe).toBe(true);
            wasSafe = safe;
          }
          expect(steps).toBeLessThan(50); // converges: each workload is written at most a few times
          const final = plan(snap, DEFAULT_POLICY);
          const allAuto = [...states.values()].every((s) => s.updateMode === "auto");
          if (final.feasible && allAuto) expect(final.currentSafe).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
