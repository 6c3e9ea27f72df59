// Which database key each annotated workload belongs to, kept from the informer events: an event queues the
// database it routes to (and the one it left, when its annotation changed or it went away), and a reconcile visits
// only its database's workloads, not the whole cache. A workload that leaves has its metric series and remembered
// events dropped, so neither grows with churn.
import { type Metrics, workloadLabels } from "../runtime/metrics.js";
import { kubeWorkloadId } from "../sources/identity.js";
import type { EventRecorder } from "./events.js";
import type { InformerEvent } from "./informer.js";
import type { KubeMetrics } from "./metrics.js";
import {
  type HpaObject,
  hasPooltunerKeys,
  hpaTargetKey,
  keyOf,
  type WorkloadKind,
  type WorkloadObject,
} from "./objects.js";
import type { WorkloadRef } from "./observe.js";
import { databaseOf, optionsOf } from "./workloads.js";

export interface RouterOptions {
  readonly databases: readonly string[];
  readonly enqueue: (database: string) => void;
  readonly metrics: Metrics;
  readonly kubeMetrics: KubeMetrics;
  readonly events: EventRecorder;
}

export class WorkloadRouter {
  private readonly routed = new Map<string, string>();
  private readonly byDatabase = new Map<string, Map<string, WorkloadRef>>();

  constructor(private readonly o: RouterOptions) {}

  membersOf(database: string): Iterable<WorkloadRef> {
    return this.byDatabase.get(database)?.values() ?? [];
  }

  /** Every database key a workload is routed to (configured or not, to report mistakes). */
  keys(): Set<string> {
    return new Set(this.routed.values());
  }

  onWorkload(kind: WorkloadKind, event: InformerEvent, obj: WorkloadObject): void {
    const key = keyOf(obj, kind);
    const ref = { kind, namespace: obj.metadata?.namespace ?? "default", name: obj.metadata?.name ?? "" };
    const before = this.routed.get(key);
    if (event === "delete" || !hasPooltunerKeys(obj)) {
      this.route(key, undefined, ref);
      if (before !== undefined) {
        this.o.enqueue(before);
        this.forget(ref, before);
      }
      return;
    }
    const now = databaseOf(optionsOf(obj, kind), this.o.databases) ?? "";
    this.route(key, now, ref);
    this.o.enqueue(now);
    if (before !== undefined && before !== now) this.o.enqueue(before);
  }

  /** Each HPA's target and bounds, the only part the planner reads: its status changes every sync period. */
  private readonly hpaSeen = new Map<string, string>();

  onHpa(event: InformerEvent, h: HpaObject): void {
    const target = hpaTargetKey(h);
    const id = `${h.metadata?.namespace}/${h.metadata?.name}`;
    const seen = `${target}|${h.spec?.minReplicas}|${h.spec?.maxReplicas}`;
    if (event === "delete") this.hpaSeen.delete(id);
    else if (this.hpaSeen.get(id) === seen) return;
    else this.hpaSeen.set(id, seen);
    const db = target ? this.routed.get(target) : undefined;
    if (db !== undefined) this.o.enqueue(db);
  }

  private route(key: string, database: string | undefined, ref: WorkloadRef): void {
    const before = this.routed.get(key);
    if (before !== undefined && before !== database) this.byDatabase.get(before)?.delete(key);
    if (database === undefined) {
      this.routed.delete(key);
      return;
    }
    this.routed.set(key, database);
    if (!this.byDatabase.has(database)) this.byDatabase.set(database, new Map());
    this.byDatabase.get(database)?.set(key, ref);
  }

  private forget(ref: WorkloadRef, database: string): void {
    const { metrics, kubeMetrics } = this.o;
    const labels = workloadLabels(kubeWorkloadId(ref.kind, ref.namespace, ref.name), database);
    for (const g of [
      metrics.currentPeak,
      metrics.recommendedPeak,
      metrics.recommendedPoolSize,
      metrics.recommendedMaxOverflow,
      kubeMetrics.rollingOut,
      kubeMetrics.pending,
    ]) {
      g.remove(labels);
    }
    kubeMetrics.invalid.remove(workloadLabels(labels.workload));
    this.o.events.forget({ kind: ref.kind, apiVersion: "apps/v1", namespace: ref.namespace, name: ref.name });
  }
}
