import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admit, overBudget, type RestartCandidate, type RestartLimits } from "../../src/core/index.js";

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
