// Prometheus metrics shared by the controller and the compose daemon. Labels carry names only
// (database, workload), never URLs or users' credentials.
import { Counter, Gauge, Registry } from "prom-client";
import type { DatabasePlan, WorkloadPlan } from "../core/index.js";

export class Metrics {
  readonly registry = new Registry();
  private readonly dbGauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ["database"], registers: [this.registry] });
  private readonly wlGauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ["workload", "database"], registers: [this.registry] });

  readonly maxConnections = this.dbGauge("pooltuner_database_max_connections", "max_connections read from the server");
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
  readonly patches = new Counter({
    name: "pooltuner_patches_total",
    help: "writes of pool settings to workloads",
    labelNames: ["workload", "database", "change", "result"],
    registers: [this.registry],
  });
  readonly restarts = new Counter({
    name: "pooltuner_restarts_total",
    help: "rollouts/recreations started by pooltuner",
    labelNames: ["workload", "database"],
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: "pooltuner_reconciles_total",
    help: "database reconciles",
    labelNames: ["database", "result"],
    registers: [this.registry],
  });

  recordDatabase(d: DatabasePlan, observed?: number): void {
    const l = { database: d.name };
    this.maxConnections.set(l, d.limit);
    this.usable.set(l, d.usable);
    this.allocated.set(l, d.allocated);
    this.unmanaged.set(l, d.unmanaged);
    this.infeasible.set(l, d.feasible ? 0 : 1);
    if (observed !== undefined) this.observed.set(l, observed);
  }

  /** After decide(): which workloads of a database have a decrease held for an unknown account. */
  recordHeld(workloads: readonly WorkloadPlan[], held: ReadonlySet<string>): void {
    for (const w of workloads) this.decreaseHeld.set({ workload: w.id, database: w.database }, held.has(w.id) ? 1 : 0);
  }

  recordWorkload(w: WorkloadPlan): void {
    const l = { workload: w.id, database: w.database };
    if (w.current.peak !== null) this.currentPeak.set(l, w.current.peak);
    else this.currentPeak.remove(l);
    if (w.recommended) {
      this.recommendedPeak.set(l, w.recommended.peak);
      this.recommendedPoolSize.set(l, w.recommended.poolSize);
      this.recommendedMaxOverflow.set(l, w.recommended.maxOverflow);
    }
  }
}
