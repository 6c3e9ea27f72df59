// Prometheus metrics shared by the controller and the compose daemon. Labels carry names only
// (database, workload), never URLs or users' credentials. A workload is labelled by its id (`workload`) and by its
// parts, as other exporters label Kubernetes objects: `namespace` (a compose project), `kind` (Deployment,
// StatefulSet, ComposeService) and `name` (a compose service); the ServiceMonitor keeps them (honorLabels).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { DatabasePlan, WorkloadPlan } from "../core/index.js";

/** The label names of a workload's series. */
export const WORKLOAD_LABELS = ["workload", "namespace", "kind", "name"] as const;

/** `kube:ns/Deployment/web` → ns, Deployment, web; `compose:shop/web` → shop, ComposeService, web. */
export function workloadLabels(id: string): Record<(typeof WORKLOAD_LABELS)[number], string>;
export function workloadLabels(
  id: string,
  database: string,
): Record<(typeof WORKLOAD_LABELS)[number] | "database", string>;
export function workloadLabels(id: string, database?: string): Record<string, string> {
  const at = id.indexOf(":");
  const scheme = id.slice(0, at);
  const parts = id.slice(at + 1).split("/");
  const [namespace, kind, name] =
    scheme === "kube" && parts.length === 3
      ? (parts as [string, string, string])
      : scheme === "compose" && parts.length === 2
        ? [parts[0] as string, "ComposeService", parts[1] as string]
        : scheme === "docker"
          ? ["", "Container", id.slice(at + 1)]
          : ["", "", id];
  return { workload: id, namespace, kind, name, ...(database !== undefined ? { database } : {}) };
}

export interface BuildInfo {
  readonly version: string;
  /** `controller`, `compose`. */
  readonly daemon: string;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly dbGauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ["database"], registers: [this.registry] });
  private readonly wlGauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: [...WORKLOAD_LABELS, "database"], registers: [this.registry] });

  readonly maxConnections = this.dbGauge(
    "pooltuner_database_max_connections",
    "max_connections read from the server (PostgreSQL: less its reserved slots)",
  );
  readonly usable = this.dbGauge("pooltuner_database_budget_connections", "max_connections - reserve - other clients");
  readonly allocated = this.dbGauge("pooltuner_database_allocated_connections", "sum of recommended peak connections");
  readonly unmanaged = this.dbGauge(
    "pooltuner_database_unmanaged_connections",
    "connections held by other clients (smoothed)",
  );
  readonly observed = this.dbGauge("pooltuner_database_observed_connections", "Threads_connected at the last probe");
  readonly infeasible = this.dbGauge(
    "pooltuner_database_infeasible",
    "1 when even 1 connection per process does not fit",
  );
  readonly reachable = this.dbGauge("pooltuner_database_reachable", "1 when the last probe succeeded");
  readonly currentPeak = this.wlGauge(
    "pooltuner_workload_current_peak_connections",
    "peak connections of the current settings",
  );
  readonly recommendedPeak = this.wlGauge(
    "pooltuner_workload_recommended_peak_connections",
    "peak of the recommendation",
  );
  readonly recommendedPoolSize = this.wlGauge("pooltuner_workload_recommended_pool_size", "recommended pool_size");
  readonly recommendedMaxOverflow = this.wlGauge(
    "pooltuner_workload_recommended_max_overflow",
    "recommended max_overflow",
  );
  readonly decreaseHeld = this.wlGauge(
    "pooltuner_workload_decrease_held",
    "1 while a decrease is held: the database account is unknown and its own connections could explain it",
  );
  readonly workloadPaused = this.wlGauge(
    "pooltuner_workload_paused",
    "1 while the workload is paused (annotation, label, its namespace or the global switch): planned, never changed",
  );
  readonly databaseFrozen = this.dbGauge(
    "pooltuner_database_frozen",
    "1 while a rollout pooltuner started on the database is stuck: nothing on it changes until it ends",
  );
  readonly restartsInProgress = new Gauge({
    name: "pooltuner_restarts_in_progress",
    help: "restarts pooltuner started that are still in progress, across all databases (--max-concurrent-restarts)",
    registers: [this.registry],
  });
  readonly deferred = new Gauge({
    name: "pooltuner_restarts_deferred",
    help: "workloads whose change waits, by reason (restart-cap, restart-rate, change-window, cooldown, paused, ...)",
    labelNames: ["database", "reason"],
    registers: [this.registry],
  });
  private readonly deferredReasons = new Map<string, Set<string>>();
  readonly patches = new Counter({
    name: "pooltuner_patches_total",
    help: "writes of pool settings to workloads",
    labelNames: [...WORKLOAD_LABELS, "database", "change", "result"],
    registers: [this.registry],
  });
  readonly restarts = new Counter({
    name: "pooltuner_restarts_total",
    help: "restarts of workloads started by pooltuner (a rollout; a compose service's recreate, however many containers), by reason (the change: decrease, increase)",
    labelNames: [...WORKLOAD_LABELS, "database", "reason"],
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: "pooltuner_reconciles_total",
    help: "database reconciles",
    labelNames: ["database", "result"],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "pooltuner_reconcile_duration_seconds",
    help: "time one reconcile pass of a database took (observe, plan, decide, act)",
    labelNames: ["database"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly probeDuration = new Histogram({
    name: "pooltuner_probe_duration_seconds",
    help: "time one probe of a database took, by result (ok, error)",
    labelNames: ["database", "result"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly probeLastSuccess = this.dbGauge(
    "pooltuner_probe_last_success_timestamp_seconds",
    "when the last successful probe of the database finished (Unix time)",
  );
  readonly queueDepth = new Gauge({
    name: "pooltuner_workqueue_depth",
    help: "databases waiting in the work queue (debounced, backing off or due again)",
    registers: [this.registry],
  });
  readonly queueAdds = new Counter({
    name: "pooltuner_workqueue_adds_total",
    help: "databases added to the work queue (events, polls, resyncs, requeues)",
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: "pooltuner_workqueue_retries_total",
    help: "reconciles retried after an error, with backoff",
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: "pooltuner_notifications_total",
    help: "webhook notifications by webhook name, kind and result (delivered, failed after retries, dropped)",
    labelNames: ["webhook", "kind", "result"],
    registers: [this.registry],
  });
  readonly buildInfo = new Gauge({
    name: "pooltuner_build_info",
    help: "1, labelled with the version of pooltuner, the daemon and the Node.js version running it",
    labelNames: ["version", "daemon", "nodejs_version"],
    registers: [this.registry],
  });

  constructor(build?: BuildInfo) {
    if (build) this.buildInfo.set({ version: build.version, daemon: build.daemon, nodejs_version: process.version }, 1);
  }

  /** The work queue's hooks (WorkQueueOptions.watch). */
  queueWatch(): { added(): void; retried(): void; depth(n: number): void } {
    return {
      added: () => this.queueAdds.inc(),
      retried: () => this.queueRetries.inc(),
      depth: (n) => this.queueDepth.set(n),
    };
  }

  /** One probe of `database` took `seconds`; `at` (ms) is when it ended, for the last-success timestamp. */
  recordProbe(database: string, seconds: number, ok: boolean, at: number): void {
    this.probeDuration.observe({ database, result: ok ? "ok" : "error" }, seconds);
    if (ok) this.probeLastSuccess.set({ database }, at / 1000);
  }

  recordDatabase(d: DatabasePlan, observed?: number): void {
    const l = { database: d.name };
    this.maxConnections.set(l, d.limit);
    this.usable.set(l, d.usable);
    this.allocated.set(l, d.allocated);
    this.unmanaged.set(l, d.unmanaged);
    this.infeasible.set(l, d.feasible ? 0 : 1);
    if (observed !== undefined) this.observed.set(l, observed);
  }

  /** Workloads deferred per reason on `database` in its last pass; reasons gone since are set to 0. */
  recordDeferred(database: string, deferred: readonly { readonly reason: string }[]): void {
    const counts = new Map<string, number>();
    for (const d of deferred) counts.set(d.reason, (counts.get(d.reason) ?? 0) + 1);
    const seen = this.deferredReasons.get(database) ?? new Set<string>();
    for (const r of seen) if (!counts.has(r)) this.deferred.set({ database, reason: r }, 0);
    for (const [reason, n] of counts) {
      this.deferred.set({ database, reason }, n);
      seen.add(reason);
    }
    this.deferredReasons.set(database, seen);
  }

  /** After decide(): which workloads of a database have a decrease held for an unknown account. */
  recordHeld(workloads: readonly WorkloadPlan[], held: ReadonlySet<string>): void {
    for (const w of workloads) this.decreaseHeld.set(workloadLabels(w.id, w.database), held.has(w.id) ? 1 : 0);
  }

  recordWorkload(w: WorkloadPlan): void {
    const l = workloadLabels(w.id, w.database);
    if (w.current.peak !== null) this.currentPeak.set(l, w.current.peak);
    else this.currentPeak.remove(l);
    // No recommendation (an infeasible plan, an unknown database): none is exported, not the last one.
    for (const [gauge, v] of [
      [this.recommendedPeak, w.recommended?.peak],
      [this.recommendedPoolSize, w.recommended?.poolSize],
      [this.recommendedMaxOverflow, w.recommended?.maxOverflow],
    ] as const) {
      if (v !== undefined) gauge.set(l, v);
      else gauge.remove(l);
    }
  }
}
