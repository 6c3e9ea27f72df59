// How a decrease rolls out. A RollingUpdate starts its surge pods (at the new, lower cap) while every old pod still
// holds its pool at the old cap, so the moment a decrease starts is its worst: on a server that is already over its
// budget (the incident) the surge pods take slots the old ones still hold, and the rollout that should end the
// errors adds to them. Rolled out with `maxSurge: 0, maxUnavailable: 1`, an old pod goes before each new one
// starts: the peak never rises above where it started and every step frees connections (measured on a real node in
// test/integration/node/incident.test.ts).
// Only a safety decrease gets it: from a safe state the plan already counts the surge, and one pod fewer serving
// during a rollout is a price only an incident is worth. The shell sets the strategy with the env in one patch and
// puts the person's back once the rollout is complete (src/kube/actuator.ts).
// Pure: the shell passes what it read.
import { resolveUp } from "./pods.js";
import type { IntOrPercent, Rollout } from "./snapshot.js";

/** The strategy a safety decrease rolls out with: an old pod goes before each new one starts. */
export const NO_SURGE = { maxSurge: 0, maxUnavailable: 1 } as const;

/** The pods of one rollout: replicas, the surge beside them, old pods that keep their pools while terminating. */
export interface RolloutShape {
  readonly replicas: number;
  readonly surge: number;
  /** Old pods that may still hold their pools beside the new ones (preStop, slow shutdown; see pods.ts). */
  readonly lingering: number;
}

/** A RollingUpdate's shape at `replicas`; `maxSurge` absent means the policy's default. */
export function rollingShape(
  replicas: number,
  rollout: { readonly maxSurge?: IntOrPercent; readonly oldPodsLinger?: boolean },
  defaultMaxSurge: IntOrPercent,
): RolloutShape {
  const surge = Math.min(replicas, resolveUp(rollout.maxSurge ?? defaultMaxSurge, replicas));
  return { replicas, surge, lingering: rollout.oldPodsLinger ? Math.max(0, replicas - surge) : 0 };
}

/**
 * The most connections a rollout from `fromCap` to `toCap` per process can hold at once. At most replicas + surge +
 * lingering pods exist together, at most `replicas` of them old and at most `replicas` new; the worst moment fills
 * the larger cap first (for a decrease: every old pod still there, the surge already started).
 */
export function transitionPeak(shape: RolloutShape, workers: number, fromCap: number, toCap: number): number {
  const pods = shape.replicas + shape.surge + shape.lingering;
  const first = Math.min(shape.replicas, pods);
  const second = Math.min(shape.replicas, pods - first);
  return workers * (first * Math.max(fromCap, toCap) + second * Math.min(fromCap, toCap));
}

export interface RolloutPathInput {
  readonly change: "decrease" | "increase";
  /** The database's current settings fit every bound at their peak (DatabasePlan.currentSafe). */
  readonly currentSafe: boolean;
  /** The workload's strategy as it is now (a StatefulSet's `Ordered`, ...). */
  readonly rollout: Rollout;
  /** Replicas the rollout replaces (spec.replicas now, not the planned maximum). */
  readonly replicas: number;
  readonly workers: number;
  readonly fromCap: number;
  readonly toCap: number;
  readonly defaultMaxSurge: IntOrPercent;
  /** `keep`: never touch the strategy (GitOps owns spec.strategy); default `drop`. */
  readonly mode?: "drop" | "keep";
}

export type RolloutPath =
  | {
      readonly kind: "as-is";
      readonly why:
        | "disabled"
        | "increase"
        | "within-budget"
        | "not-rolling-update"
        | "single-replica"
        | "no-surge"
        | "no-gain";
    }
  | {
      readonly kind: "no-surge";
      readonly strategy: typeof NO_SURGE;
      /** The rollout's peak with the workload's own strategy, and with NO_SURGE (always lower). */
      readonly peakWithSurge: number;
      readonly peakWithoutSurge: number;
    };

/**
 * How this change should roll out: as the workload's strategy says, or, for a decrease from over budget of a
 * RollingUpdate with 2 or more replicas and a surge, with NO_SURGE when that lowers the rollout's peak. One replica
 * keeps its surge: without one, no pod would serve while it is replaced.
 */
export function rolloutPath(i: RolloutPathInput): RolloutPath {
  if (i.mode === "keep") return { kind: "as-is", why: "disabled" };
  if (i.change !== "decrease" || i.toCap >= i.fromCap) return { kind: "as-is", why: "increase" };
  if (i.currentSafe) return { kind: "as-is", why: "within-budget" };
  if (i.rollout.type !== "RollingUpdate") return { kind: "as-is", why: "not-rolling-update" };
  if (i.replicas < 2) return { kind: "as-is", why: "single-replica" };
  const own = rollingShape(i.replicas, i.rollout, i.defaultMaxSurge);
  if (own.surge === 0) return { kind: "as-is", why: "no-surge" };
  const none = rollingShape(i.replicas, { ...i.rollout, maxSurge: { kind: "int", value: 0 } }, i.defaultMaxSurge);
  const peakWithSurge = transitionPeak(own, i.workers, i.fromCap, i.toCap);
  const peakWithoutSurge = transitionPeak(none, i.workers, i.fromCap, i.toCap);
  if (peakWithoutSurge >= peakWithSurge) return { kind: "as-is", why: "no-gain" };
  return { kind: "no-surge", strategy: NO_SURGE, peakWithSurge, peakWithoutSurge };
}
