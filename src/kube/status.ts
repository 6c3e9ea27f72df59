// The status annotation (`pooltuner.io/status`): what pooltuner last applied to a workload and why, kept on the
// workload itself (kopf's last-handled-configuration, Reloader's hash). A restarted controller or a new leader reads
// it back and so needs no memory of its own: it derives cooldowns and rollout waits from here and writes nothing
// when the world did not change. Only the fields in `statusKey` decide whether it needs rewriting, so numbers that
// drift (other clients' connections) never cause writes by themselves.
import {
  type Action,
  type DatabasePlan,
  type PoolSettings,
  surgeAdviceKey,
  surgeCostMessage,
  type UpdateMode,
  type WorkloadPlan,
} from "../core/index.js";
import type { LastKnownLimits } from "../runtime/pass-types.js";

export const STATUS_VERSION = 1;

export interface AppliedStatus extends PoolSettings {
  readonly from: PoolSettings;
  readonly change: "decrease" | "increase";
  /** ISO time of the patch. */
  readonly at: string;
  /** metadata.generation the patch produced; its rollout is done once the controller has observed it. */
  readonly generation: number;
}

/** A Deployment strategy's two RollingUpdate numbers, as the API server stores them (an int or a percentage). */
export interface SurgeFields {
  readonly maxSurge: number | string;
  readonly maxUnavailable: number | string;
}

/**
 * pooltuner rolled a safety decrease out without surge (core rolloutPath): the strategy it set, the one it replaced,
 * and the generation of that rollout. Once the rollout is complete the saved strategy is put back, only if the
 * Deployment still has the one pooltuner set (a person who changed it meanwhile keeps theirs).
 */
export interface StrategyStatus {
  readonly saved: SurgeFields;
  readonly set: SurgeFields;
  readonly generation: number;
}

export interface WorkloadStatus {
  readonly v: number;
  readonly database: string;
  readonly mode: UpdateMode;
  /** The last values pooltuner wrote (absent until it first changes the workload). */
  readonly applied?: AppliedStatus;
  /** What the plan recommends now; absent when nothing safe can be recommended (infeasible). */
  readonly recommended?: PoolSettings & { readonly peak: number };
  /** True when the workload does not run the recommendation yet (update-mode off, or waiting). */
  readonly pending: boolean;
  /** Paused (pooltuner.io/paused on it or its namespace, or the global switch): planned, never changed. */
  readonly paused?: true;
  /**
   * Advice: the rollout surge lowers the cap; with `maxSurge: 0, maxUnavailable: 1` each process would get
   * `withoutSurge` (plan finding surge-cost).
   */
  readonly surge?: {
    readonly pods: number;
    readonly connections: number;
    readonly withoutSurge: PoolSettings;
    /** The advice as the SurgeCost event says it; once recorded here, a restarted controller does not repeat it. */
    readonly advice: string;
  };
  /** A strategy pooltuner set for a safety decrease, to be put back once its rollout completes. */
  readonly strategy?: StrategyStatus;
  /** The plan's numbers when this status was written; informational. */
  readonly plan: {
    readonly replicas: number;
    readonly plannedReplicas: number;
    readonly podsPeak: number;
    readonly workers: number | "unknown";
    readonly processes: number | null;
    readonly currentPeak: number | null;
    readonly maxConnections: number;
    readonly usable: number;
    readonly allocated: number;
    readonly feasible: boolean;
  };
  readonly updatedAt: string;
}

/** Reads the annotation; anything unreadable counts as absent (and will be rewritten at the next change). */
export function parseStatus(raw: string | undefined): WorkloadStatus | undefined {
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<WorkloadStatus>;
    if (typeof v !== "object" || v === null || v.v !== STATUS_VERSION || typeof v.database !== "string") {
      return undefined;
    }
    let out = v as WorkloadStatus;
    if (v.applied !== undefined && !validApplied(v.applied)) out = { ...out, applied: undefined };
    if (v.strategy !== undefined && !validStrategy(v.strategy)) out = { ...out, strategy: undefined };
    return out;
  } catch {
    return undefined;
  }
}

function validApplied(a: unknown): a is AppliedStatus {
  const x = a as Partial<AppliedStatus>;
  return (
    typeof x === "object" &&
    x !== null &&
    Number.isInteger(x.poolSize) &&
    Number.isInteger(x.maxOverflow) &&
    typeof x.at === "string" &&
    !Number.isNaN(Date.parse(x.at)) &&
    Number.isInteger(x.generation)
  );
}

function validStrategy(a: unknown): a is StrategyStatus {
  const x = a as Partial<StrategyStatus>;
  const fields = (f: unknown): boolean => {
    const y = f as Partial<SurgeFields> | null;
    const ok = (v: unknown) => Number.isInteger(v) || typeof v === "string";
    return typeof y === "object" && y !== null && ok(y.maxSurge) && ok(y.maxUnavailable);
  };
  return typeof x === "object" && x !== null && fields(x.saved) && fields(x.set) && Number.isInteger(x.generation);
}

/** The part of a status that, when it differs, is worth a write. */
export function statusKey(s: WorkloadStatus | undefined): string {
  if (!s) return "";
  return JSON.stringify([
    s.v,
    s.database,
    s.mode,
    s.applied ? [s.applied.poolSize, s.applied.maxOverflow, s.applied.at, s.applied.generation] : null,
    s.recommended ? [s.recommended.poolSize, s.recommended.maxOverflow] : null,
    s.pending,
    s.paused ?? false,
    // What the workload can open at peak is the plan's main input (replicas planned for x workers).
    s.plan?.processes,
    // The server's limit, so a controller started while the server is full knows it (lastKnownLimits); the budget
    // itself drifts with other clients and is refreshed whenever the status is written anyway.
    s.plan?.maxConnections,
    // The surge advice, so it is recorded once and a restarted controller does not send its event again.
    s.surge ? surgeAdviceKey(s.surge.advice) : null,
    // The strategy to put back: written with the decrease, dropped once restored (or taken over by a person).
    s.strategy ?? null,
  ]);
}

/**
 * The database's limits this status recorded, for a controller that cannot read them itself (the server is full):
 * used only to plan decreases (src/runtime/last-known.ts). Undefined when the status has no usable numbers.
 */
export function lastKnownLimits(s: WorkloadStatus | undefined, from: string): LastKnownLimits | undefined {
  const p = s?.plan;
  const at = Date.parse(s?.updatedAt ?? "");
  if (!s || !p || !Number.isSafeInteger(p.maxConnections) || !Number.isSafeInteger(p.usable) || Number.isNaN(at))
    return undefined;
  return { database: s.database, maxConnections: p.maxConnections, usable: p.usable, at, from };
}

export function appliedAtMs(s: WorkloadStatus | undefined): number | undefined {
  if (!s?.applied) return undefined;
  const t = Date.parse(s.applied.at);
  return Number.isNaN(t) ? undefined : t;
}

/** The status a workload should carry after this pass: what runs (or is being rolled out), the plan, and why. */
export function nextStatus(
  before: WorkloadStatus | undefined,
  generation: number,
  p: WorkloadPlan,
  db: DatabasePlan,
  mode: UpdateMode,
  action: Action | undefined,
  at: Date,
  paused = false,
): WorkloadStatus {
  const rec = p.recommended;
  const runs = action
    ? action.to
    : p.current.assumed
      ? undefined
      : { poolSize: p.current.settings.poolSize, maxOverflow: p.current.settings.maxOverflow };
  const pending =
    rec !== undefined && (runs === undefined || runs.poolSize !== rec.poolSize || runs.maxOverflow !== rec.maxOverflow);
  const applied = action
    ? {
        poolSize: action.to.poolSize,
        maxOverflow: action.to.maxOverflow,
        from: action.from,
        change: action.change,
        at: at.toISOString(),
        generation: generation + 1,
      }
    : before?.applied;
  return {
    v: STATUS_VERSION,
    database: db.name,
    mode,
    ...(applied ? { applied } : {}),
    ...(rec ? { recommended: { poolSize: rec.poolSize, maxOverflow: rec.maxOverflow, peak: rec.peak } } : {}),
    pending,
    ...(paused ? { paused: true as const } : {}),
    ...(p.surgeCost && rec
      ? {
          surge: {
            pods: p.surgeCost.pods,
            connections: p.surgeCost.connections,
            withoutSurge: {
              poolSize: p.surgeCost.withoutSurge.poolSize,
              maxOverflow: p.surgeCost.withoutSurge.maxOverflow,
            },
            advice: surgeCostMessage(p.id, p.plannedReplicas, rec, p.surgeCost),
          },
        }
      : {}),
    plan: {
      replicas: p.replicas,
      plannedReplicas: p.plannedReplicas,
      podsPeak: p.podsPeak,
      workers: p.workers,
      processes: p.processes,
      currentPeak: action ? (rec?.peak ?? null) : p.current.peak,
      maxConnections: db.limit,
      usable: db.usable,
      allocated: db.allocated,
      feasible: db.feasible,
    },
    updatedAt: at.toISOString(),
  };
}
