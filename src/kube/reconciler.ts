// Reconcile one database: every workload on it shares one budget, so the database is the unit of work (STYLE 1).
// The pass itself is the shared one (src/runtime/reconcile-pass.ts); this file plugs in the controller's observer
// (the informer cache), actuator (one patch per workload: env + status) and notices (Events), and runs the pass only
// on the leader with a synced cache. Level-based and idempotent: running it twice, on a new leader, or after a relist
// writes nothing new.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Damping, Policy, UpdateMode } from "../core/index.js";
import type { DatabaseMonitor } from "../runtime/database-monitor.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import type { PassReport } from "../runtime/pass-types.js";
import { ReconcilePass } from "../runtime/reconcile-pass.js";
import type { ReconcileResult } from "../runtime/work-queue.js";
import { PREFIX } from "../sources/identity.js";
import { KubeActuator } from "./actuator.js";
import type { ClusterCache } from "./cluster-cache.js";
import type { EventRecorder } from "./events.js";
import type { KubeMetrics } from "./metrics.js";
import { KubeNotices } from "./notices.js";
import { KubeObserver, type KubeWorkload, type WorkloadRef } from "./observe.js";

export type { WorkloadRef } from "./observe.js";

export interface ReconcilerOptions {
  readonly kubeConfig: KubeConfig;
  readonly cache: ClusterCache;
  /** The annotated workloads routed to a database key (an index kept from the informer events). */
  readonly membersOf: (database: string) => Iterable<WorkloadRef>;
  readonly monitor: DatabaseMonitor;
  /** Configured database names. */
  readonly databases: readonly string[];
  readonly policy: Policy;
  readonly damping: Damping;
  /** `off` makes every workload recommend-only, whatever its annotation says. */
  readonly updateMode: UpdateMode;
  /** A rollout pooltuner started that is not complete after this long is reported and no longer waited for. */
  readonly rolloutTimeoutMs: number;
  /** How soon to look again while a rollout or pod drain is in progress. */
  readonly rolloutCheckMs: number;
  /** A probe answer older than this (the next one hangs) counts as no answer: nothing is planned on stale data. */
  readonly probeMaxAgeMs: number;
  /** After a refused patch, the same change waits this long. */
  readonly failureBackoffMs?: number;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly kubeMetrics: KubeMetrics;
  readonly log: Logger;
  readonly isLeader: () => boolean;
  /** Called for every patch sent (successful or not), for the writes-per-minute measurements. */
  readonly onWrite?: () => void;
  readonly now?: () => number;
}

/** What one pass did, for logs and tests. */
export type ReconcileReport = PassReport;

export class DatabaseReconciler {
  private readonly pass: ReconcilePass<KubeWorkload>;
  /** Last pass per database, for tests and the bench. */
  readonly lastReport = new Map<string, ReconcileReport>();
  /** The last 100 passes, oldest first (the compose daemon keeps the same), for tests. */
  readonly reports: ReconcileReport[] = [];

  constructor(private readonly o: ReconcilerOptions) {
    const now = o.now ?? Date.now;
    const inFlight = new Map<string, number>();
    this.pass = new ReconcilePass<KubeWorkload>({
      monitor: o.monitor,
      observer: new KubeObserver({ ...o, inFlight, now, addressOf: (db) => o.monitor.address(db) }),
      actuator: new KubeActuator({ ...o, inFlight }),
      notices: new KubeNotices(o.events, o.log),
      policy: o.policy,
      damping: o.damping,
      failureBackoffMs: o.failureBackoffMs ?? 5 * 60_000,
      probeMaxAgeMs: o.probeMaxAgeMs,
      recheckMs: o.rolloutCheckMs,
      metrics: o.metrics,
      log: o.log,
      now,
      accountKey: `${PREFIX.kubernetes}account annotation`,
    });
  }

  async reconcile(database: string): Promise<ReconcileResult | undefined> {
    const { report, requeueAfter } = await this.run(database);
    this.lastReport.set(database, report);
    this.reports.push(report);
    if (this.reports.length > 100) this.reports.shift();
    this.o.metrics.reconciles.inc({ database, result: report.failed.length > 0 ? "failed" : report.outcome });
    return requeueAfter !== undefined ? { requeueAfter } : undefined;
  }

  private async run(database: string): Promise<{ report: ReconcileReport; requeueAfter?: number }> {
    const empty = (outcome: ReconcileReport["outcome"]) => ({
      database,
      outcome,
      applied: [],
      failed: [],
      deferred: [],
      writes: 0,
    });
    if (!this.o.isLeader()) return { report: empty("not-leader") };
    if (!this.o.cache.hasSynced()) return { report: empty("not-synced"), requeueAfter: 1_000 };
    return this.pass.run(database);
  }
}
