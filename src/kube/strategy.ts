// The Deployment strategy around a safety decrease (core rolloutPath): pooltuner sets `maxSurge: 0,
// maxUnavailable: 1` in the same patch as the pool env, records the person's strategy in the status annotation, and
// puts it back once that rollout is complete, only if the Deployment still has the strategy pooltuner set. A person
// (or GitOps) who changed it meanwhile keeps theirs; `--decrease-surge keep` never touches it.
import type { V1Deployment } from "@kubernetes/client-node";
import {
  type Action,
  type IntOrPercent,
  type Policy,
  type Rollout,
  type RolloutPath,
  rolloutPath,
  type WorkloadPlan,
  type WorkloadSnapshot,
} from "../core/index.js";
import { rolloutProgress, type WorkloadObject } from "./objects.js";
import type { StrategyStatus, SurgeFields } from "./status.js";

/** Whether pooltuner may drop a Deployment's surge for a decrease from over budget (`--decrease-surge`). */
export type DecreaseSurge = "drop" | "keep";

/** A RollingUpdate Deployment's maxSurge/maxUnavailable as stored; undefined for anything else. */
export function surgeFieldsOf(o: WorkloadObject): SurgeFields | undefined {
  const s = (o as V1Deployment).spec?.strategy;
  if (s?.type !== "RollingUpdate" || !s.rollingUpdate) return undefined;
  const { maxSurge, maxUnavailable } = s.rollingUpdate;
  if (maxSurge === undefined || maxUnavailable === undefined) return undefined;
  return { maxSurge, maxUnavailable };
}

const same = (a: SurgeFields | undefined, b: SurgeFields): boolean =>
  a !== undefined && String(a.maxSurge) === String(b.maxSurge) && String(a.maxUnavailable) === String(b.maxUnavailable);

/** What the patch of this pass does to the strategy, and what the status then records about it. */
export interface StrategyStep {
  /** `spec.strategy` for the patch; absent: the strategy is not written. */
  readonly patch?: { readonly type: "RollingUpdate"; readonly rollingUpdate: SurgeFields };
  /** The status's `strategy` after the patch (undefined: none). */
  readonly status: StrategyStatus | undefined;
  /** Putting the person's strategy back (the patch goes out under RESTORE_FIELD_MANAGER when it carries no env). */
  readonly restore?: true;
  /** The rollout is complete but a person changed the strategy meanwhile: theirs stays, the record is dropped. */
  readonly leftAlone?: SurgeFields;
  /** The path the decrease rolls out on, for the Applied event. */
  readonly path?: RolloutPath;
}

export interface StrategyInput {
  readonly kind: "Deployment" | "StatefulSet";
  readonly object: WorkloadObject;
  readonly before: StrategyStatus | undefined;
  readonly action: Action | undefined;
  readonly plan: WorkloadPlan;
  /** The planner's view of the strategy (maxSurge, old pods that linger); absent when unreadable. */
  readonly rollout: Rollout | undefined;
  readonly currentSafe: boolean;
  readonly policy: Pick<Policy, "defaultMaxSurge">;
  readonly mode: DecreaseSurge;
}

/** Decides the strategy part of this pass's patch (the decision itself is the core's rolloutPath). */
export function strategyStep(i: StrategyInput): StrategyStep {
  if (i.kind !== "Deployment") return { status: undefined };
  const current = surgeFieldsOf(i.object);
  const generation = i.object.metadata?.generation ?? 0;
  const workers = i.plan.workers;
  if (i.action && current && i.rollout && typeof workers === "number") {
    // Still pooltuner's strategy from an earlier safety decrease: the person's is the one to weigh.
    const ours = i.before !== undefined && same(current, i.before.set);
    const rollout: Rollout =
      ours && i.before && i.rollout.type === "RollingUpdate"
        ? { ...i.rollout, maxSurge: intOrPercent(i.before.saved.maxSurge) }
        : i.rollout;
    const path = rolloutPath({
      change: i.action.change,
      currentSafe: i.currentSafe,
      rollout,
      replicas: (i.object as V1Deployment).spec?.replicas ?? 1,
      workers,
      fromCap: i.action.from.poolSize + i.action.from.maxOverflow,
      toCap: i.action.to.poolSize + i.action.to.maxOverflow,
      defaultMaxSurge: i.policy.defaultMaxSurge,
      mode: i.mode,
    });
    if (path.kind === "no-surge") {
      const set = { ...path.strategy };
      // A second safety decrease before the first one's strategy was put back keeps the person's, not pooltuner's.
      const saved = ours && i.before ? i.before.saved : current;
      return {
        patch: { type: "RollingUpdate", rollingUpdate: set },
        status: { saved, set, generation: generation + 1 },
        path,
      };
    }
    if (!i.before) return { status: undefined, path };
  }
  if (!i.before) return { status: undefined };
  // Wait for the rollout pooltuner started (the cache may not show its generation yet) to complete.
  const done = generation >= i.before.generation && rolloutProgress(i.object, "Deployment").state === "complete";
  if (!done && !i.action) return { status: i.before };
  if (!same(current, i.before.set)) return { status: undefined, leftAlone: current ?? i.before.set };
  return { patch: { type: "RollingUpdate", rollingUpdate: i.before.saved }, status: undefined, restore: true };
}

/**
 * The planner's view of a Deployment while pooltuner's strategy of a safety decrease is in place: the person's
 * maxSurge/maxUnavailable, which the plan counts (they are back after the rollout). Without this, the plan made during
 * and right after that rollout would count no surge: other numbers in the status, and an increase it cannot keep.
 */
export function asThePersonSetIt<T extends Pick<WorkloadSnapshot, "rollout">>(
  workload: T,
  object: WorkloadObject,
  status: StrategyStatus | undefined,
): T {
  if (!status || workload.rollout.type !== "RollingUpdate" || !same(surgeFieldsOf(object), status.set)) return workload;
  return {
    ...workload,
    rollout: {
      ...workload.rollout,
      maxSurge: intOrPercent(status.saved.maxSurge),
      maxUnavailable: intOrPercent(status.saved.maxUnavailable),
    },
  };
}

/** A stored IntOrString as the core's IntOrPercent (`"25%"` is 25 percent; anything unreadable, no surge). */
function intOrPercent(v: number | string): IntOrPercent {
  if (typeof v === "number") return { kind: "int", value: v };
  const m = /^(\d+)%$/.exec(v.trim());
  if (m) return { kind: "percent", value: Number(m[1]) };
  const n = Number(v);
  return { kind: "int", value: Number.isInteger(n) && n >= 0 ? n : 0 };
}

/** The field manager of the write that puts a person's strategy back (visible in managedFields). */
export const RESTORE_FIELD_MANAGER = "pooltuner-rollout";
