// The controller's Observer for the shared pass: the annotated workloads routed to a database, read from the
// informer cache (STYLE 6) into the planner's view, with what is in flight: the workload's own rollout status, and
// patches this replica sent that the cache has not shown yet (`inFlight`, shared with the actuator).
import type { UpdateMode } from "../core/index.js";
import type { ObservedWorkload, Observer } from "../runtime/pass-types.js";
import type { DatabaseAddress } from "../sources/account.js";
import type { ClusterCache } from "./cluster-cache.js";
import type { KubeMetrics } from "./metrics.js";
import { drainsDuringRollout, hasPooltunerKeys, rolloutProgress, type WorkloadKind } from "./objects.js";
import { appliedAtMs } from "./status.js";
import { type ClusterWorkload, databaseOf, readWorkload } from "./workloads.js";

export interface WorkloadRef {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

export type KubeWorkload = ClusterWorkload & ObservedWorkload;

export interface KubeObserverOptions {
  readonly cache: ClusterCache;
  /** The annotated workloads routed to a database key (an index kept from the informer events). */
  readonly membersOf: (database: string) => Iterable<WorkloadRef>;
  readonly databases: readonly string[];
  /** `off` makes every workload recommend-only, whatever its annotation says. */
  readonly updateMode: UpdateMode;
  /** A rollout not complete after this long is reported and no longer waited for. */
  readonly rolloutTimeoutMs: number;
  readonly kubeMetrics: KubeMetrics;
  /** Generations this replica wrote that its cache has not shown yet, per workload key. */
  readonly inFlight: Map<string, number>;
  /** host:port of each configured database: picks the account when the env has URLs with several users. */
  readonly addressOf: (database: string) => DatabaseAddress | undefined;
  readonly now: () => number;
}

export class KubeObserver implements Observer<KubeWorkload> {
  /** When this replica first saw each workload's current rollout in progress (a restart starts the clock again). */
  private readonly progressingSince = new Map<string, number>();

  constructor(private readonly o: KubeObserverOptions) {}

  async observe(database: string): Promise<readonly KubeWorkload[]> {
    const { cache, databases } = this.o;
    const hpas = cache.horizontalPodAutoscalers();
    const out: KubeWorkload[] = [];
    for (const ref of this.o.membersOf(database)) {
      const obj = cache.getWorkload(ref.kind, ref.namespace, ref.name);
      if (!obj || !hasPooltunerKeys(obj)) continue;
      const w = readWorkload(obj, ref.kind, hpas, databases, this.o.addressOf);
      if ((databaseOf(w.options, databases) ?? "") !== database) continue;
      // Not enabled: only worth a look when an annotation of ours is wrong.
      if (!w.enabled && w.errors.length === 0) continue;
      out.push(this.observed(w, database));
    }
    this.o.kubeMetrics.managed.set({ database }, out.filter((w) => w.managed).length);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private observed(w: ClusterWorkload, database: string): KubeWorkload {
    this.o.kubeMetrics.invalid.set({ workload: w.id }, w.errors.length > 0 ? 1 : 0);
    const managed = w.enabled && w.databaseKnown;
    const rollout = managed ? this.rollout(w, database) : { rollingOut: false, conditions: [] };
    const lastAppliedAt = appliedAtMs(w.status);
    return {
      ...w,
      managed,
      ...(managed && w.loaded && w.database !== undefined
        ? { snapshot: { ...w.loaded.workload, database: w.database } }
        : {}),
      updateMode: this.o.updateMode === "off" || w.errors.length > 0 ? "off" : w.options.updateMode,
      ...(lastAppliedAt !== undefined ? { lastAppliedAt } : {}),
      rollingOut: rollout.rollingOut,
      drainsDuringRollout: drainsDuringRollout(w.object, w.kind),
      // Warnings of a workload that is not enabled are not worth telling.
      warnings: w.enabled ? w.warnings : [],
      conditions: rollout.conditions,
    };
  }

  /** The workload's own rollout status, plus writes this replica made that the cache has not caught up with. */
  private rollout(w: ClusterWorkload, database: string) {
    const now = this.o.now();
    const progress = rolloutProgress(w.object, w.kind);
    let rollingOut = progress.state === "progressing";
    const since = this.progressingSince.get(w.key) ?? now;
    if (rollingOut) this.progressingSince.set(w.key, since);
    else this.progressingSince.delete(w.key);
    const conditions: { reason: "RolloutStuck"; lines: string[] }[] = [];
    if (rollingOut && now - since > this.o.rolloutTimeoutMs) {
      rollingOut = false;
      const detail = progress.state === "complete" ? "complete" : progress.detail;
      conditions.push({
        reason: "RolloutStuck",
        lines: [
          `rollout not complete after ${Math.round((now - since) / 1000)} s (${detail}); ` +
            `no longer waiting for it before changing other workloads of ${database}`,
        ],
      });
    } else if (progress.state === "stuck") {
      conditions.push({ reason: "RolloutStuck", lines: [`rollout stuck: ${progress.detail}; not waiting for it`] });
    }
    const pendingGen = this.o.inFlight.get(w.key);
    if (pendingGen !== undefined) {
      if ((w.object.metadata?.generation ?? 0) < pendingGen) rollingOut = true;
      else this.o.inFlight.delete(w.key);
    }
    this.o.kubeMetrics.rollingOut.set({ workload: w.id, database }, rollingOut ? 1 : 0);
    return { rollingOut, conditions };
  }
}
