// Metrics only the Kubernetes controller has, registered next to the shared ones (src/runtime/metrics.ts).
import { Counter, collectDefaultMetrics, Gauge, type Registry } from "prom-client";
import { WORKLOAD_LABELS } from "../runtime/metrics.js";

export class KubeMetrics {
  readonly leader: Gauge;
  readonly writes: Counter;
  readonly requests: Counter;
  readonly informerRestarts: Counter;
  readonly rollingOut: Gauge;
  readonly pending: Gauge;
  readonly invalid: Gauge;
  readonly managed: Gauge;

  constructor(registry: Registry) {
    const r = [registry];
    // Process memory, CPU, event-loop lag and heap: what sizing the controller's resources needs.
    collectDefaultMetrics({ register: registry });
    this.leader = new Gauge({ name: "pooltuner_leader", help: "1 while this replica holds the lease", registers: r });
    this.writes = new Counter({
      name: "pooltuner_kube_writes_total",
      help: "writes to the Kubernetes API: workload patches and events",
      labelNames: ["what", "result"],
      registers: r,
    });
    this.requests = new Counter({
      name: "pooltuner_kube_requests_total",
      help: "calls to the Kubernetes API, by verb (watch, list, get, patch, post, put, delete)",
      labelNames: ["verb"],
      registers: r,
    });
    this.informerRestarts = new Counter({
      name: "pooltuner_informer_restarts_total",
      help: "list/watch restarts after an error or a silent stream",
      labelNames: ["informer", "reason"],
      registers: r,
    });
    this.rollingOut = new Gauge({
      name: "pooltuner_workload_rolling_out",
      help: "1 while a rollout of the workload is in progress",
      labelNames: [...WORKLOAD_LABELS, "database"],
      registers: r,
    });
    this.pending = new Gauge({
      name: "pooltuner_workload_pending",
      help: "1 when the workload does not run the recommended settings (update-mode off or waiting)",
      labelNames: [...WORKLOAD_LABELS, "database"],
      registers: r,
    });
    this.invalid = new Gauge({
      name: "pooltuner_workload_invalid",
      help: "1 when the workload's annotations or spec cannot be used; it is left unchanged",
      labelNames: [...WORKLOAD_LABELS],
      registers: r,
    });
    this.managed = new Gauge({
      name: "pooltuner_database_workloads",
      help: "managed workloads per database",
      labelNames: ["database"],
      registers: r,
    });
  }
}
