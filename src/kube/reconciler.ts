// Reconcile one database: every workload on it shares one budget, so the database is the unit of work (STYLE 1).
// The pass itself is the shared one (src/runtime/reconcile-pass.ts); this file plugs in the controller's observer
// (the informer cache), actuator (one patch per workload: env + status) and notices (Events), and runs the pass only
// on the leader with a synced cache. Level-based and idempotent: running it twice, on a new leader, or after a relist
// writes nothing new.
import type { KubeConfig } from "@kubernetes/client-node";
import type { ChangeWindow, Damping, Policy, UpdateMode } from "../core/index.js";
import type { DatabaseMonitor } from "../runtime/database-monitor.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import type { PassReport } from "../runtime/pass-types.js";
import { ReconcilePass } from "../runtime/reconcile-pass.js";
import type { RestartCoordinator } from "../runtime/restart-coordinator.js";
import type { WebhookNotifier } from "../runtime/webhooks.js";
import type { ReconcileResult } from "../runtime/work-queue.js";
import { PREFIX } from "../sources/identity.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { KubeActuator } from "./actuator.js";
import type { ClusterCache } from "./cluster-cache.js";
import type { EventRecorder } from "./events.js";
import type { KubeMetrics } from "./metrics.js";
import { KubeNotices } from "./notices.js";
import { KubeObserver, type KubeWorkload, type WorkloadRef } from "./observe.js";
import type { DecreaseSurge } from "./strategy.js";
import type { DatabaseAccess } from "./tenancy.js";

export type { WorkloadRef } from "./observe.js";

export interface ReconcilerOptions {
  /** Profiles the `profile` annotation may name (built-ins plus the configuration's); default the built-ins. */
  readonly profiles?: ProfileRegistry;
  readonly kubeConfig: KubeConfig;
  readonly cache: ClusterCache;
  /** The annotated workloads routed to a database key (an index kept from the informer events). */
  readonly membersOf: (database: string) => Iterable<WorkloadRef>;
  readonly monitor: DatabaseMonitor;
  /** Configured database names. */
  readonly databases: readonly string[];
  /** Which namespaces and weights each database allows (src/kube/tenancy.ts). */
  readonly access: (database: string) => DatabaseAccess;
  readonly policy: Policy;
  /** The global pause (`paused: true` in the config file). */
  readonly paused?: boolean;
  /** How often a `Paused` warning is sent again while it lasts (the poll interval); default 30 s. */
  readonly pausedRepeatMs?: number;
  readonly damping: Damping;
  /** `off` makes every workload recommend-only, whatever its annotation says. */
  readonly updateMode: UpdateMode;
  /** A rollout pooltuner started that is not complete after this long is reported and no longer waited for. */
  readonly rolloutTimeoutMs: number;
  /** `drop` (default): a decrease from over budget rolls out with maxSurge 0 (src/kube/strategy.ts); `keep`: never. */
  readonly decreaseSurge?: DecreaseSurge;
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
  /** The daemon-wide restart limits, shared by every database's pass. */
  readonly restarts?: RestartCoordinator;
  /** Each database's change windows for increases. */
  readonly changeWindows?: (database: string) => readonly ChangeWindow[] | undefined;
  /** The wall clock change windows are read against (tests move it). */
  readonly wallClock?: () => number;
  readonly notifier?: WebhookNotifier;
}

/** What one pass did, for logs and tests. */
export type ReconcileReport = PassReport;

export class DatabaseReconciler {
  private readonly pass: ReconcilePass<KubeWorkload>;
  private readonly observer: KubeObserver;
  private readonly actuator: KubeActuator;
  private readonly inFlight = new Map<string, number>();
  private readonly statusRefusedUntil = new Map<string, number>();
  /** Last pass per database, for tests and the bench. */
  readonly lastReport = new Map<string, ReconcileReport>();
  /** The last 100 passes, oldest first (the compose daemon keeps the same), for tests. */
  readonly reports: ReconcileReport[] = [];

  constructor(private readonly o: ReconcilerOptions) {
    const now = o.now ?? Date.now;
    const inFlight = this.inFlight;
    const failureBackoffMs = o.failureBackoffMs ?? 5 * 60_000;
    const statusRefusedUntil = this.statusRefusedUntil;
    const addressOf = (db: string) => o.monitor.address(db);
    this.observer = new KubeObserver({ ...o, inFlight, alsoByUid: [statusRefusedUntil], now, addressOf });
    this.actuator = new KubeActuator({ ...o, inFlight, failureBackoffMs, statusRefusedUntil });
    this.pass = new ReconcilePass<KubeWorkload>({
      monitor: o.monitor,
      observer: this.observer,
      actuator: this.actuator,
      notices: new KubeNotices(o.events, o.log, o.pausedRepeatMs ?? 30_000),
      policy: o.policy,
      damping: o.damping,
      failureBackoffMs,
      probeMaxAgeMs: o.probeMaxAgeMs,
      recheckMs: o.rolloutCheckMs,
      metrics: o.metrics,
      log: o.log,
      now,
      accountKey: `${PREFIX.kubernetes}account annotation`,
      ...(o.paused ? { paused: true } : {}),
      pausedRepeatMs: o.pausedRepeatMs ?? 30_000,
      ...(o.restarts ? { restarts: o.restarts } : {}),
      ...(o.changeWindows ? { changeWindows: o.changeWindows } : {}),
      ...(o.wallClock ? { wallClock: o.wallClock } : {}),
      ...(o.notifier ? { notifier: o.notifier } : {}),
    });
  }

  /**
   * Entries kept about workloads (by uid or id) across passes: rollouts in flight, rollouts seen progressing, refused
   * writes, failures and increases seen. Dropped when a workload goes, so it follows the live workloads under churn.
   */
  remembered(): number {
    return this.inFlight.size + this.observer.remembered() + this.actuator.remembered() + this.pass.remembered();
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
