// The Snapshot is everything the planner knows about the world at one instant.
// Every shell (Kubernetes, Docker, files) builds one; the core never reads anything else.

/** A Kubernetes IntOrString such as `maxSurge: 1` or `maxSurge: "25%"`, already parsed. */
export type IntOrPercent =
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "percent"; readonly value: number };

/** How a workload replaces its processes; decides how many pods can exist at once. */
export type Rollout =
  /**
   * Deployment RollingUpdate: new pods start before old ones stop. Absent fields were not set in the manifest:
   * maxSurge is then the policy's default (25 %), maxUnavailable Kubernetes' 25 %.
   */
  | {
      readonly type: "RollingUpdate";
      readonly maxSurge?: IntOrPercent;
      readonly maxUnavailable?: IntOrPercent;
      /**
       * Old pods keep serving (and holding their pools) after they are told to stop: a preStop hook or a long grace
       * period. The Deployment controller does not count terminating pods against maxSurge, so a rollout can end
       * with every new pod running beside every old one (see pods.ts lingeringPods).
       */
      readonly oldPodsLinger?: boolean;
    }
  /** Deployment Recreate: all old pods are gone before new ones start. */
  | { readonly type: "Recreate" }
  /** StatefulSet (RollingUpdate or OnDelete): a pod is replaced only after the old one terminated. */
  | { readonly type: "Ordered" }
  /** docker-compose recreate: stop-first, a name or port cannot be held twice. */
  | { readonly type: "StopFirst" }
  /** A start-first container replacement: one extra container per service while it runs. */
  | { readonly type: "StartFirst" };

export type WorkloadKind = "Deployment" | "StatefulSet" | "ComposeService" | "Other";

/** Pool settings as SQLAlchemy reads them. `poolSize = 0` or `maxOverflow = -1` mean unbounded. */
export interface PoolSettings {
  readonly poolSize: number;
  readonly maxOverflow: number;
}

/**
 * How a per-process cap becomes env values (src/core/profile.ts): SQLAlchemy's pair split with the sizing-table
 * row's ratio, or one number that is the whole cap.
 */
export type CapWriting =
  | {
      readonly kind: "pool-overflow";
      /** Profile name, for words only (`sqlalchemy`, `celery`, ...). */
      readonly profile: string;
      readonly poolSizeEnv: string;
      readonly maxOverflowEnv: string;
    }
  | {
      readonly kind: "single";
      readonly profile: string;
      /** The env var holding the per-process cap. */
      readonly env: string;
      /** What a process runs with when `env` is unset (the library's default; the larger one when it varies). */
      readonly assumed: number;
      /**
       * Variables that must not exceed the cap (Hikari minimumIdle), with their current value: one set above the new
       * cap is written down to it in the same write; unset or lower ones are left alone.
       */
      readonly atMost?: readonly { readonly name: string; readonly current?: number }[];
      /**
       * What the sizing table's cap means: per process (default), or per container when one process serves the whole
       * container (a JVM): the row's workers × its cap, the seed table's "total connections" column.
       */
      readonly tableCap?: "process" | "container";
    };

export interface WorkloadSnapshot {
  /** Stable unique key, e.g. `kube:shop/Deployment/web` or `compose:lineage/app`. Plans are sorted by it. */
  readonly id: string;
  readonly kind: WorkloadKind;
  /** Name of a DatabaseSnapshot. */
  readonly database: string;
  /** Database user the workload connects as; workloads sharing it share the account limits. */
  readonly account?: string;
  /**
   * The database inside the server the workload connects to (PostgreSQL's dbname), where the engine limits
   * connections per database: workloads naming the same catalog share its limit. Absent: not known or not limited.
   */
  readonly catalog?: string;
  /** spec.replicas, or the number of containers of a compose service. */
  readonly replicas: number;
  /**
   * The highest replica count its owner scales to by hand (`max-replicas` annotation/label). Planned for when higher
   * than `replicas` and no HPA targets the workload.
   */
  readonly maxReplicas?: number;
  /** An HPA targeting this workload; its maxReplicas is planned for, so scaling inside it needs no restart. */
  readonly hpa?: { readonly minReplicas: number; readonly maxReplicas: number };
  readonly rollout: Rollout;
  /**
   * Pods that may still hold connections while terminating, on top of the running peak (KEP-3973).
   * The shell decides it from how it restarts; 0 when restarts are bounded so old pods are gone first.
   */
  readonly terminatingPods?: number;
  /**
   * Worker processes per pod (Gunicorn --workers); each process has its own pool. `"unknown"` when it cannot be read
   * (Gunicorn may take it from a config file): the workload is then neither planned nor changed.
   */
  readonly workers: number | "unknown";
  /** Container limits used to pick the sizing-table row; absent means unknown. */
  readonly resources?: { readonly cpuMillis?: number; readonly memoryBytes?: number };
  /** Share of a tight budget relative to other workloads of the same database; default 1. */
  readonly weight?: number;
  /**
   * The pool settings the workload runs with now; absent when the env vars are not set. A single-number profile
   * carries its cap in `poolSize` (maxOverflow absent or 0).
   */
  readonly current?: Partial<PoolSettings>;
  /** How its application profile writes a cap into env (src/core/profile.ts); default SQLAlchemy's pair. */
  readonly writes?: CapWriting;
}

export interface AccountLimit {
  /** The account's own MAX_USER_CONNECTIONS (0 = none, then the global max_user_connections applies). */
  readonly maxUserConnections: number;
  /** Connections this account holds now from clients that are not managed workloads (smoothed). */
  readonly unmanaged?: number;
}

/** A limit on the connections to one database inside the server (PostgreSQL's `datconnlimit`), whatever the role. */
export interface CatalogLimit {
  readonly maxConnections: number;
  /** Connections to it now from clients that are not managed workloads. */
  readonly unmanaged?: number;
}

export interface DatabaseSnapshot {
  readonly name: string;
  /** `max_connections` as read live. The extra SUPER slot (+1) is never planned into. */
  readonly maxConnections: number;
  /** Global `max_user_connections`; 0 = no limit. */
  readonly maxUserConnections?: number;
  /** Connections held by clients that pooltuner does not manage (smoothed); `undefined` = could not be seen. */
  readonly unmanaged?: number;
  /**
   * Part of `unmanaged`: connections of each database user (one entry per user) that no workload on this database is
   * known to connect as. A workload whose account is unknown may hold some of them itself.
   */
  readonly unattributed?: readonly number[];
  /** Per-account limits keyed by the account name workloads use. */
  readonly accounts?: Readonly<Record<string, AccountLimit>>;
  /** Per-catalog limits keyed by the catalog name workloads use (`WorkloadSnapshot.catalog`). */
  readonly catalogs?: Readonly<Record<string, CatalogLimit>>;
  /** Headroom for admins, migrations and cron jobs; overrides the policy default when set. */
  readonly reserve?: Reserve;
}

/** Headroom kept free: the larger of the absolute number and the percentage of max_connections. */
export interface Reserve {
  readonly absolute: number;
  readonly percent: number;
}

export interface Snapshot {
  readonly databases: readonly DatabaseSnapshot[];
  readonly workloads: readonly WorkloadSnapshot[];
}
