// What a daemon plugs into the shared reconcile pass (src/runtime/reconcile-pass.ts): an Observer that reads its
// world into workloads, an Actuator that makes one workload run new pool settings, and Notices that tell people about
// lasting conditions on a workload. The pass owns everything between them; see docs/architecture.md.
import type {
  Action,
  ChangeWindow,
  DatabasePlan,
  Plan,
  UpdateMode,
  WorkloadPlan,
  WorkloadSnapshot,
} from "../core/index.js";

/** Conditions on a workload; each is over (and may be reported again) once a pass no longer raises it. */
export const CONDITIONS = [
  "InvalidConfiguration",
  "ConfigurationWarning",
  "DatabaseUnreachable",
  "DatabaseFull",
  "Infeasible",
  /** A rollout past the rollout timeout (or stuck); one pooltuner started freezes its database until it ends. */
  "RolloutStuck",
  /** Paused by a person while a decrease is needed: raised on every pass, and told again every interval. */
  "Paused",
  /** A decrease held: the workload's own connections may be among other clients' (decide(): account-unknown). */
  "AccountUnknown",
  /** An unknown-workers workload shares its database user with planned ones (managedUsers()). */
  "AccountShared",
  /** Names a database it may not use (its namespace is not allowed, or its weight is above the cap). */
  "NotAllowed",
  /** Advice: the rollout surge lowers the workload's cap; maxSurge 0 would give each process more (plan surge-cost). */
  "SurgeCost",
] as const;
export type ConditionReason = (typeof CONDITIONS)[number];

export interface Condition {
  readonly reason: ConditionReason;
  /** One line each, naming the object and the key or number at fault. */
  readonly lines: readonly string[];
}

/** One workload as a daemon observed it, with the in-flight state the pass needs. */
export interface ObservedWorkload {
  /** The planner's id (`kube:ns/Deployment/web`, `compose:project/service`). */
  readonly id: string;
  /**
   * What tells a new object under the same id from the old one (the Kubernetes uid): the pass's memory of a
   * workload (failed changes, increases seen) ends with the object, never passes to its successor.
   */
  readonly instance?: string;
  /** Opted in and on a configured database: planned and possibly changed. Others only have mistakes to report. */
  readonly managed: boolean;
  /**
   * Opted in but not allowed on the database (tenancy): not planned, and its database user, when known, is never one
   * of the managed users, so all of that user's connections count as other clients' (conservative).
   */
  readonly refused?: { readonly account?: string };
  /** The planner's view; absent when it cannot be read (its usage is then unknown: no increase on its database). */
  readonly snapshot?: WorkloadSnapshot;
  /** Already `off` when its configuration has errors or the daemon runs recommend-only. */
  readonly updateMode: UpdateMode;
  /** When pooltuner last changed it, read back from the workload itself (so a restart remembers). */
  readonly lastAppliedAt?: number;
  /** A rollout or recreation is still in progress: nothing else on its database changes meanwhile. */
  readonly rollingOut: boolean;
  /** Paused by a person, naming where (`pooltuner.io/paused annotation of Namespace shop`): never changed. */
  readonly paused?: string;
  /** Its own change windows (the `change-window` key): replace its database's for its increases. */
  readonly changeWindows?: readonly ChangeWindow[];
  /**
   * A rollout pooltuner started is past the rollout timeout: nothing on its database changes until it completes or
   * a person acts on the workload (the shell says what counts). The text says why, for people.
   */
  readonly stuck?: string;
  /** Its rollouts start new pods before the old ones have drained (RollingUpdate): see core drainingPeak(). */
  readonly drainsDuringRollout: boolean;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** Conditions the daemon found while observing (a stuck rollout). */
  readonly conditions?: readonly Condition[];
  /** The database's limits as an earlier run recorded them on the workload (see LastKnownLimits). */
  readonly lastKnownLimits?: LastKnownLimits;
}

/**
 * A database's limits as pooltuner last read them, kept where a fresh process finds them (the Kubernetes status
 * annotation). Used only when the server is full and this process has never read it: then only decreases are
 * planned from them, never an increase, and the pass says they are stale.
 */
export interface LastKnownLimits {
  readonly database: string;
  readonly maxConnections: number;
  /** What the managed workloads could hold together at their peak then (limit − reserve − other clients). */
  readonly usable: number;
  /** When they were recorded (ms since the epoch). */
  readonly at: number;
  /** Where, for people: `pooltuner.io/status annotation of kube:ns/Deployment/web`. */
  readonly from: string;
}

export interface Observer<W extends ObservedWorkload> {
  /** Every workload routed to `database`, sorted by id. Throws when its world cannot be read (never "none"). */
  observe(database: string): Promise<readonly W[]>;
}

export interface ActContext {
  readonly database: string;
  readonly plan: WorkloadPlan;
  readonly databasePlan: DatabasePlan;
  readonly updateMode: UpdateMode;
  readonly now: number;
  /** `id: decrease pool_size+max_overflow 2+3 -> 1+1 (peak 40 -> 16, budget 18)`, for logs and events. */
  readonly summary: string;
  /** Paused (the workload, its namespace or the global switch): the status says so. */
  readonly paused?: boolean;
}

export type ActOutcome =
  /** Nothing written. */
  | { readonly kind: "unchanged" }
  /** Something was written that changes no settings (the Kubernetes status annotation). */
  | { readonly kind: "published" }
  /** The action is applied (a rollout started, containers recreated); `targets` names what restarted. */
  | { readonly kind: "applied"; readonly targets: readonly string[]; readonly how: string; readonly dryRun?: boolean }
  /** The action failed; `restored` tells whether everything is as before it. */
  | {
      readonly kind: "failed";
      readonly target: string;
      readonly where: string;
      /** What `restored` speaks of: "container", "workload". */
      readonly what: string;
      readonly reason: string;
      readonly restored: boolean;
      /**
       * It did not fail outright, it never got ready, and the daemon now freezes its database on it (observed
       * `stuck` from the next pass on) instead of trying again after the backoff; the text says until when.
       */
      readonly stuck?: string;
    }
  /** The workload changed after it was observed: nothing written, look again shortly. */
  | { readonly kind: "conflict" };

export interface Actuator<W extends ObservedWorkload> {
  /** Logs say "would apply" and nothing is changed. */
  readonly dryRun?: boolean;
  /** Asked before any action of a pass: a reason to hold them all (pods still terminating), or undefined. */
  hold?(workloads: readonly W[], now: number): Promise<string | undefined>;
  /**
   * Called once per pass for every managed, readable workload without configuration errors, with the action due
   * for it (at most one per database) or undefined. One write per workload: whatever the daemon publishes per pass
   * goes out together with the action. Throwing fails the pass (the work queue retries with backoff).
   */
  act(w: W, action: Action | undefined, ctx: ActContext): Promise<ActOutcome>;
}

export interface Notices<W extends ObservedWorkload> {
  /** `w` is in `reason` now; called on every pass while it lasts (deduplicate). */
  raise(w: W, reason: ConditionReason, lines: readonly string[]): Promise<void>;
  /** End of a pass: the conditions of `w` not in `raised` are over. */
  settle(w: W, raised: ReadonlySet<ConditionReason>): void;
}

export interface Deferred {
  readonly workload: string;
  readonly reason: string;
  readonly until?: number;
}

/** What one pass did, for logs, `compose --once`, metrics and tests. */
export interface PassReport {
  readonly database: string;
  readonly outcome: "planned" | "unreachable" | "not-configured" | "cannot-plan" | "not-leader" | "not-synced";
  readonly plan?: Plan;
  /** The server was full: planned from its last answer, decreases only. */
  readonly decreasesOnly?: boolean;
  /** The server was full and never answered this process: planned from limits an earlier run recorded. */
  readonly lastKnown?: LastKnownLimits;
  /** `containers`: what was recreated (compose); empty for a rollout. */
  readonly applied: readonly {
    readonly workload: string;
    readonly change: string;
    readonly containers: readonly string[];
  }[];
  readonly failed: readonly {
    readonly workload: string;
    readonly container: string;
    readonly reason: string;
    readonly restored: boolean;
  }[];
  /** decide()'s deferrals plus the pass's own: failed-recently, database-full, unreadable-workload, the actuator's hold. */
  readonly deferred: readonly Deferred[];
  /** Successful writes to workloads. */
  readonly writes: number;
  /** Why nothing was planned. */
  readonly skipped?: string;
}
