import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  admit,
  DEFAULT_RESTART_LIMITS,
  overBudget,
  type RestartCandidate,
  type RestartLimits,
  safetyOrder,
} from "../../src/core/index.js";

const HOUR = 3_600_000;
const c = (database: string, change: "decrease" | "increase", over: number): RestartCandidate => ({
  database,
  workload: `${database}/app`,
  change,
  overBudget: over,
});
const limits = (maxConcurrent: number, maxPerHour = 0): RestartLimits => ({ maxConcurrent, maxPerHour });
const idle = { inProgress: 0, started: [] };

describe("admit (restarts across databases)", () => {
  it("cap 1: of two decreases, the more over-budget database goes; the other waits behind it", () => {
    const a = c("a", "decrease", 6);
    const b = c("b", "decrease", 20);
    expect(admit(b, [a], idle, limits(1), 0)).toEqual({ go: true });
    expect(admit(a, [b], idle, limits(1), 0)).toEqual({ go: false, reason: "restart-cap", behind: ["b"] });
  });

  it("an unbounded pool is the most over budget", () => {
    expect(overBudget([10, null], 30)).toBe(Number.POSITIVE_INFINITY);
    expect(overBudget([10, 25], 30)).toBe(5);
    const a = c("a", "decrease", overBudget([40], 18));
    const b = c("b", "decrease", overBudget([null], 18));
    expect(admit(a, [b], idle, limits(1), 0)).toMatchObject({ go: false, behind: ["b"] });
  });

  it("decreases go before increases, whatever the numbers", () => {
    const inc = c("a", "increase", -50);
    const dec = c("b", "decrease", 1);
    expect(admit(inc, [dec], idle, limits(1), 0)).toMatchObject({ go: false, reason: "restart-cap" });
    expect(admit(dec, [inc], idle, limits(1), 0)).toEqual({ go: true });
  });

  it("a restart in progress takes the slot, even from a decrease", () => {
    const dec = c("a", "decrease", 10);
    expect(admit(dec, [], { inProgress: 1, started: [0] }, limits(1), 1)).toEqual({
      go: false,
      reason: "restart-cap",
      behind: [],
    });
    expect(admit(dec, [], { inProgress: 1, started: [0] }, limits(2), 1)).toEqual({ go: true });
  });

  it("the rate limit holds an increase until the oldest restart of the hour ages out, never a decrease", () => {
    const started = [1_000, 2_000, 3_000];
    const now = 10_000;
    const ledger = { inProgress: 0, started };
    expect(admit(c("a", "increase", -5), [], ledger, limits(5, 3), now)).toEqual({
      go: false,
      reason: "restart-rate",
      until: 1_000 + HOUR,
      behind: [],
    });
    expect(admit(c("a", "decrease", 5), [], ledger, limits(5, 3), now)).toEqual({ go: true });
    // Restarts older than an hour no longer count.
    expect(admit(c("a", "increase", -5), [], ledger, limits(5, 3), 1_000 + HOUR)).toEqual({ go: true });
    // With a limit of 2, the window frees when the second-newest of the three ages out.
    expect(admit(c("a", "increase", -5), [], ledger, limits(5, 2), now)).toMatchObject({ until: 2_000 + HOUR });
  });

  it("a rate-held increase elsewhere does not take the slot from this one", () => {
    const held = c("a", "increase", -100);
    const dec = c("b", "decrease", 1);
    expect(admit(dec, [held], { inProgress: 0, started: [0] }, limits(1, 1), 10)).toEqual({ go: true });
  });

  const arbCandidates = fc.uniqueArray(
    fc.record({
      database: fc.constantFrom("a", "b", "c", "d", "e", "f"),
      change: fc.constantFrom("decrease" as const, "increase" as const),
      overBudget: fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constant(Number.POSITIVE_INFINITY)),
    }),
    { selector: (x) => x.database, minLength: 1 },
  );

  it("property: never more starts than free slots; whoever goes outranks whoever waits for the cap", () => {
    fc.assert(
      fc.property(
        arbCandidates,
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 2 * HOUR }), { maxLength: 8 }),
        (raw, cap, inProgress, perHour, started) => {
          const now = 2 * HOUR;
          const all = raw.map((r) => ({ ...r, workload: `${r.database}/w` }));
          const ledger = { inProgress, started };
          const fate = all.map((x) =>
            admit(
              x,
              all.filter((y) => y !== x),
              ledger,
              limits(cap, perHour),
              now,
            ),
          );
          const went = all.filter((_, i) => fate[i]?.go);
          // The same slots cannot be promised twice.
          expect(went.length).toBeLessThanOrEqual(Math.max(0, cap - inProgress));
          // Urgency, worked out here: a decrease outranks an increase; then the larger excess; then the name.
          const rank = (x: RestartCandidate) => [x.change === "decrease" ? 0 : 1, -x.overBudget, x.database] as const;
          const before = (x: RestartCandidate, y: RestartCandidate) => {
            const [a, b] = [rank(x), rank(y)];
            return a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
          };
          const recent = started.filter((t) => now - t < HOUR).length;
          all.forEach((x, i) => {
            const f = fate[i];
            if (!f || f.go) return;
            // A decrease is never held by the hourly limit.
            if (x.change === "decrease") expect(f.reason).toBe("restart-cap");
            // An increase is held by the hourly limit only when the limit is reached (with the ones going now).
            if (f.reason === "restart-rate") expect(perHour > 0 && recent + went.length >= perHour).toBe(true);
            // Whoever was admitted outranks a candidate that waits for the cap.
            if (f.reason === "restart-cap") for (const y of went) expect(before(y, x)).toBe(true);
          });
        },
      ),
      { numRuns: 400 },
    );
  });
});

// Worked examples for mutants the examples above left alive (docs/mutation.md, 2026-12-05).
describe("admit: worked examples", () => {
  const NOW = 1_764_900_000_000; // a real epoch: `now + t` is never within an hour of anything here

  it("defaults: one restart at a time, no hourly limit", () => {
    expect(DEFAULT_RESTART_LIMITS).toEqual({ maxConcurrent: 1, maxPerHour: 0 });
  });

  it("ties: equal changes and excess are ordered by database, then by workload", () => {
    const w = (database: string, workload: string): RestartCandidate => ({
      database,
      workload,
      change: "decrease",
      overBudget: 5,
    });
    expect(safetyOrder(w("a", "x"), w("a", "y"))).toBe(-1);
    expect(safetyOrder(w("a", "y"), w("a", "x"))).toBe(1);
    expect(safetyOrder(w("a", "x"), w("a", "x"))).toBe(0);
    expect(safetyOrder(w("a", "z"), w("b", "a"))).toBe(-1);
    // With the cap at 1, of two equal decreases the database named first goes; the other waits behind it.
    expect(admit(c("b", "decrease", 5), [c("a", "decrease", 5)], idle, limits(1), NOW)).toEqual({
      go: false,
      reason: "restart-cap",
      behind: ["a"],
    });
    expect(admit(c("a", "decrease", 5), [c("b", "decrease", 5)], idle, limits(1), NOW)).toEqual({ go: true });
  });

  it("a restart started an hour ago or more, or in the future, does not count; one started just now does", () => {
    const held = (started: number[]) =>
      admit(c("a", "increase", -5), [], { inProgress: 0, started }, limits(5, 1), NOW);
    expect(held([NOW - 1_000])).toEqual({ go: false, reason: "restart-rate", until: NOW - 1_000 + HOUR, behind: [] });
    expect(held([NOW])).toEqual({ go: false, reason: "restart-rate", until: NOW + HOUR, behind: [] });
    expect(held([NOW - HOUR])).toEqual({ go: true });
    expect(held([NOW + 1_000])).toEqual({ go: true });
  });

  it("the window frees when the oldest restart that matters ages out, however the ledger is ordered", () => {
    // Limit 2 with restarts at −3, −1, −2 s: the newest two are −1 and −2; the window frees when −2 s ages out.
    const started = [NOW - 3_000, NOW - 1_000, NOW - 2_000];
    expect(admit(c("a", "increase", -5), [], { inProgress: 0, started }, limits(5, 2), NOW)).toEqual({
      go: false,
      reason: "restart-rate",
      until: NOW - 2_000 + HOUR,
      behind: [],
    });
  });

  it("a candidate of its own database among the others is not counted twice", () => {
    // A stale decrease of database a must not take the one slot from a's own increase.
    expect(admit(c("a", "increase", -5), [c("a", "decrease", 10)], idle, limits(1), NOW)).toEqual({ go: true });
  });

  it("an increase held by the hourly limit says so even when the slot is taken by another database's decrease", () => {
    const ledger = { inProgress: 1, started: [NOW - 1_000] };
    expect(admit(c("a", "increase", -5), [c("b", "decrease", 3)], ledger, limits(1, 1), NOW)).toEqual({
      go: false,
      reason: "restart-rate",
      until: NOW - 1_000 + HOUR,
      behind: [],
    });
  });

  it("a decrease elsewhere that goes first uses up the hourly limit for an increase behind it", () => {
    // Limit 2 per hour, one restart 1 s ago: one left. Cap 2: b's decrease takes a slot and the last restart of the
    // hour, so a's increase is held by the rate (not by the cap: a slot is still free).
    const ledger = { inProgress: 0, started: [NOW - 1_000] };
    expect(admit(c("a", "increase", -5), [c("b", "decrease", 3)], ledger, limits(2, 2), NOW)).toEqual({
      go: false,
      reason: "restart-rate",
      until: NOW - 1_000 + HOUR,
      behind: [],
    });
    // Without b's decrease, a's increase takes the last one.
    expect(admit(c("a", "increase", -5), [], ledger, limits(2, 2), NOW)).toEqual({ go: true });
  });
});
