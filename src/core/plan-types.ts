import type { EnvSetting } from "./profile.js";
import type { CapWriting, PoolSettings } from "./snapshot.js";

/**
 * Where a number of connections is bounded: the whole server, one account on it, or a workload whose account is
 * unknown against the global max_user_connections (it may be any account, so it is bounded on its own).
 */
export type Scope =
  | { readonly kind: "server" }
  | { readonly kind: "account"; readonly account: string }
  | { readonly kind: "unknown-account"; readonly workload: string }
  | { readonly kind: "catalog"; readonly catalog: string };

export interface CurrentUsage {
  /** The settings the processes run with; `assumed` when env vars were unset and policy defaults were used. */
  readonly settings: PoolSettings;
  readonly assumed: boolean;
  /** poolSize 0 or maxOverflow < 0: SQLAlchemy opens as many connections as it is asked for. */
  readonly unbounded: boolean;
  /** processes × (poolSize + maxOverflow); null when unbounded or the workers are unknown. */
  readonly peak: number | null;
}

export interface Recommendation extends PoolSettings {
  /** poolSize + maxOverflow: the most connections one process can hold. */
  readonly cap: number;
  /** processes × cap. */
  readonly peak: number;
  /** The env values that carry it, as the workload's profile writes them (what the shells set). */
  readonly env: readonly EnvSetting[];
}

/** What a RollingUpdate's surge pods cost a workload whose cap they lower (src/core/surge-cost.ts). */
export interface SurgeCost {
  /** Pods the surge adds at peak. */
  readonly pods: number;
  /** What those pods hold at the recommended cap: surge pods × workers × cap. */
  readonly connections: number;
  /** The recommendation with `maxSurge: 0, maxUnavailable: 1`, on the same budget. */
  readonly withoutSurge: Recommendation;
  /** Keeping the surge: the most workers per pod (below today's) that would raise the cap, and what they get. */
  readonly fewerWorkers?: { readonly workers: number; readonly recommended: Recommendation };
}

/** none: nothing to write; decrease: restores or keeps safety, apply at once; increase: damp it. */
export type Change = "none" | "decrease" | "increase";

export interface WorkloadPlan {
  readonly id: string;
  readonly database: string;
  readonly account?: string;
  /** The database inside the server it connects to, when that one has a connection limit of its own. */
  readonly catalog?: string;
  readonly replicas: number;
  /** Replicas planned for (HPA maxReplicas when present). */
  readonly plannedReplicas: number;
  readonly podsPeak: number;
  /** "unknown": the workload is neither planned nor changed (see the `unknown-workers` finding). */
  readonly workers: number | "unknown";
  /** podsPeak × workers; null when the workers are unknown. */
  readonly processes: number | null;
  /** Sizing-table row picked from the container's limits, and the cap it asks for. */
  readonly row: string;
  readonly desiredCap: number;
  /** How its application profile (`sqlalchemy`, `hikari`, ...) writes the cap into env. */
  readonly writes: CapWriting;
  readonly current: CurrentUsage;
  /** Absent when the database is unknown or its plan is infeasible: nothing safe can be applied. */
  readonly recommended?: Recommendation;
  readonly change: Change;
  /** Present when the rollout surge lowers its cap: what maxSurge 0 would give instead. */
  readonly surgeCost?: SurgeCost;
}

export interface AccountBudget {
  readonly account: string;
  /** Effective MAX_USER_CONNECTIONS (account's own, else the global max_user_connections). */
  readonly limit: number;
  readonly unmanaged: number;
  readonly usable: number;
  readonly allocated: number;
}

export interface CatalogBudget {
  readonly catalog: string;
  /** Its connection limit (PostgreSQL's datconnlimit). */
  readonly limit: number;
  readonly unmanaged: number;
  readonly usable: number;
  readonly allocated: number;
}

export interface DatabasePlan {
  readonly name: string;
  readonly limit: number;
  readonly reserve: number;
  readonly unmanaged: number;
  /** True when other clients could not be seen and `unmanaged` is the policy's assumption. */
  readonly unmanagedAssumed: boolean;
  /** limit − reserve − unmanaged: what managed workloads may hold together at their peak. */
  readonly usable: number;
  /**
   * Of `unmanaged`, the most that workloads with an unknown account could hold themselves (their users cannot be
   * told from other clients'); 0 when every planned workload's account is known.
   */
  readonly possiblyOwn: number;
  /** Global max_user_connections (0 = none): bounds on its own each workload that names no account. */
  readonly maxUserConnections: number;
  /** Σ recommended peak (0 when infeasible). */
  readonly allocated: number;
  readonly free: number;
  readonly feasible: boolean;
  /** Σ current peak; null when some workload is unbounded. */
  readonly currentPeak: number | null;
  /** Whether the current settings stay within every bound of this database at their peak. */
  readonly currentSafe: boolean;
  readonly accounts: readonly AccountBudget[];
  /** Databases inside the server with a connection limit that planned workloads connect to; absent when none. */
  readonly catalogs?: readonly CatalogBudget[];
  readonly workloads: readonly string[];
}

export type Finding =
  | {
      readonly kind: "infeasible";
      readonly severity: "error";
      readonly database: string;
      readonly scope: Scope;
      /** Connections needed at 1 per process. */
      readonly needed: number;
      readonly available: number;
      readonly missing: number;
      /** Per workload, how many workers per pod or pods would fit if the others stayed as they are (0 = none). */
      readonly fits: readonly {
        readonly workload: string;
        readonly workers: number;
        readonly pods: number;
      }[];
      readonly message: string;
    }
  | {
      readonly kind: "current-exceeds";
      readonly severity: "error";
      readonly database: string;
      readonly scope: Scope;
      /** null when unbounded. */
      readonly currentPeak: number | null;
      readonly available: number;
      readonly message: string;
    }
  | {
      readonly kind:
        | "unbounded-current"
        | "assumed-current"
        | "unknown-database"
        | "unknown-workers"
        | "unknown-account";
      readonly severity: "error" | "warning";
      readonly database: string;
      readonly workload: string;
      readonly message: string;
    }
  | {
      /** Advice: the rollout surge lowers this workload's cap (see WorkloadPlan.surgeCost). */
      readonly kind: "surge-cost";
      readonly severity: "warning";
      readonly database: string;
      readonly workload: string;
      readonly surge: SurgeCost;
      readonly message: string;
    }
  | {
      readonly kind: "unseen-unmanaged";
      readonly severity: "warning";
      readonly database: string;
      readonly assumed: number;
      readonly message: string;
    };

export interface Plan {
  readonly databases: readonly DatabasePlan[];
  readonly workloads: readonly WorkloadPlan[];
  readonly findings: readonly Finding[];
  /** Every database has a plan that fits. */
  readonly feasible: boolean;
  /** The current settings cannot exceed any bound (what `pooltuner check` gates on). */
  readonly currentSafe: boolean;
}
