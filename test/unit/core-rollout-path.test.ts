// How a decrease rolls out (issue 14, item 4): from over budget, a RollingUpdate drops its surge for the decrease.
// The peaks are worked out by hand here, and the property checks transitionPeak against every (old, new) pod count
// a rollout can reach.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type IntOrPercent,
  NO_SURGE,
  type RolloutPathInput,
  rollingShape,
  rolloutPath,
  transitionPeak,
} from "../../src/core/index.js";

const PCT25: IntOrPercent = { kind: "percent", value: 25 };
const incident = (over: Partial<RolloutPathInput> = {}): RolloutPathInput => ({
  change: "decrease",
  currentSafe: false,
  rollout: { type: "RollingUpdate" },
  replicas: 2,
  workers: 4,
  fromCap: 5,
  toCap: 1,
  defaultMaxSurge: PCT25,
  ...over,
});

describe("rolloutPath", () => {
  it("the seed's incident (2 pods x 4 workers, 2+3 -> 1+0, 25 % surge): no surge, peak 40 instead of 44", () => {
    // By hand: surge ceil(0.25 x 2) = 1 pod. With it: 2 old pods x 4 x 5 = 40 plus the new pod's 4 x 1 = 44.
    // Without: an old pod goes first, so 40 (where it started) is the most.
    expect(rolloutPath(incident())).toEqual({
      kind: "no-surge",
      strategy: { maxSurge: 0, maxUnavailable: 1 },
      peakWithSurge: 44,
      peakWithoutSurge: 40,
    });
  });

  it("the real node's 6 ... 7: 2 pods x 1 worker, 3 -> 1 with maxSurge 1 peaks at 7, without at 6", () => {
    const i = incident({
      workers: 1,
      fromCap: 3,
      toCap: 1,
      rollout: { type: "RollingUpdate", maxSurge: { kind: "int", value: 1 } },
    });
    expect(rolloutPath(i)).toMatchObject({ kind: "no-surge", peakWithSurge: 7, peakWithoutSurge: 6 });
  });

  it("keeps the workload's strategy when the decrease is not from over budget, or the strategy has nothing to drop", () => {
    expect(rolloutPath(incident({ currentSafe: true }))).toEqual({ kind: "as-is", why: "within-budget" });
    expect(rolloutPath(incident({ change: "increase" }))).toEqual({ kind: "as-is", why: "increase" });
    expect(rolloutPath(incident({ toCap: 5 }))).toEqual({ kind: "as-is", why: "increase" });
    expect(rolloutPath(incident({ mode: "keep" }))).toEqual({ kind: "as-is", why: "disabled" });
    expect(rolloutPath(incident({ replicas: 1 }))).toEqual({ kind: "as-is", why: "single-replica" });
    expect(rolloutPath(incident({ rollout: { type: "Recreate" } }))).toEqual({
      kind: "as-is",
      why: "not-rolling-update",
    });
    expect(rolloutPath(incident({ rollout: { type: "Ordered" } }))).toEqual({
      kind: "as-is",
      why: "not-rolling-update",
    });
    const zero = { type: "RollingUpdate" as const, maxSurge: { kind: "int" as const, value: 0 } };
    expect(rolloutPath(incident({ rollout: zero }))).toEqual({ kind: "as-is", why: "no-surge" });
    // Old pods that linger (preStop): all 2 old and 2 new pods may hold at once either way, 2x4x5 + 2x4x1 = 48.
    const linger = { type: "RollingUpdate" as const, oldPodsLinger: true };
    expect(transitionPeak(rollingShape(2, linger, PCT25), 4, 5, 1)).toBe(48);
    expect(rolloutPath(incident({ rollout: linger }))).toEqual({ kind: "as-is", why: "no-gain" });
  });

  it("10 replicas with maxSurge 25 % (3 pods) from 3 to 2 per process, 2 workers: 60 + 12 = 72 vs 60", () => {
    expect(rolloutPath(incident({ replicas: 10, workers: 2, fromCap: 3, toCap: 2 }))).toMatchObject({
      kind: "no-surge",
      peakWithSurge: 72,
      peakWithoutSurge: 60,
    });
  });
});

const intOrPercent: fc.Arbitrary<IntOrPercent> = fc.oneof(
  fc.record({ kind: fc.constant("int" as const), value: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ kind: fc.constant("percent" as const), value: fc.integer({ min: 0, max: 100 }) }),
);
const input: fc.Arbitrary<RolloutPathInput> = fc.record({
  change: fc.constantFrom("decrease" as const, "increase" as const),
  currentSafe: fc.boolean(),
  rollout: fc.oneof(
    fc.record(
      { type: fc.constant("RollingUpdate" as const), maxSurge: intOrPercent, oldPodsLinger: fc.boolean() },
      { requiredKeys: ["type"] },
    ),
    fc.constant({ type: "Recreate" as const }),
  ),
  replicas: fc.integer({ min: 0, max: 12 }),
  workers: fc.integer({ min: 1, max: 8 }),
  fromCap: fc.integer({ min: 1, max: 30 }),
  toCap: fc.integer({ min: 1, max: 30 }),
  defaultMaxSurge: intOrPercent,
});

/** The oracle: the most connections over every (old, new) pod count the rollout's pods allow. */
function bruteForcePeak(replicas: number, pods: number, workers: number, fromCap: number, toCap: number): number {
  let best = 0;
  for (let old = 0; old <= replicas; old++)
    for (let neu = 0; neu <= replicas && old + neu <= pods; neu++)
      best = Math.max(best, workers * (old * fromCap + neu * toCap));
  return best;
}

describe("rolloutPath properties", () => {
  it("the planned peak with no surge is never above the surge's; when chosen it is below, and never above the start", () => {
    fc.assert(
      fc.property(input, (i) => {
        if (i.rollout.type !== "RollingUpdate") return;
        const own = rollingShape(i.replicas, i.rollout, i.defaultMaxSurge);
        const none = rollingShape(i.replicas, { ...i.rollout, maxSurge: { kind: "int", value: 0 } }, i.defaultMaxSurge);
        const withSurge = transitionPeak(own, i.workers, i.fromCap, i.toCap);
        const without = transitionPeak(none, i.workers, i.fromCap, i.toCap);
        expect(without).toBeLessThanOrEqual(withSurge);
        const p = rolloutPath(i);
        if (p.kind === "no-surge") {
          expect(p.strategy).toEqual(NO_SURGE);
          expect(p.peakWithoutSurge).toBe(without);
          expect(p.peakWithSurge).toBe(withSurge);
          expect(p.peakWithoutSurge).toBeLessThan(p.peakWithSurge);
          // Chosen only for a decrease from over budget of 2+ replicas.
          expect([i.change, i.currentSafe, i.replicas >= 2]).toEqual(["decrease", false, true]);
          // Nothing lingers: the rollout never holds more than where it started.
          if (!i.rollout.oldPodsLinger) expect(p.peakWithoutSurge).toBe(i.replicas * i.workers * i.fromCap);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("transitionPeak is the most over every pod count the rollout allows", () => {
    fc.assert(
      fc.property(input, (i) => {
        if (i.rollout.type !== "RollingUpdate") return;
        const s = rollingShape(i.replicas, i.rollout, i.defaultMaxSurge);
        const pods = s.replicas + s.surge + s.lingering;
        expect(transitionPeak(s, i.workers, i.fromCap, i.toCap)).toBe(
          bruteForcePeak(i.replicas, pods, i.workers, i.fromCap, i.toCap),
        );
      }),
      { numRuns: 2000 },
    );
  });
});
