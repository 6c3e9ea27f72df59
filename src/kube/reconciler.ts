// Reconcile one database: every workload on it shares one budget, so the database is the unit of work (STYLE 1).
// Level-based and idempotent: it reads the cache and the last probe, plans, decides, and writes only what differs
// from what the workloads already carry. Running it twice, on a new leader, or after a relist writes nothing new.
import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import {
  type Action,
  type Damping,
  type DatabasePlan,
  type Deferral,
  decide,
  type Plan,
  type Policy,
  plan,
  type WorkloadPlan,
  type WorkloadSnapshot,
  type WorkloadState,
} from "../core/index.js";
import type { DatabaseMonitor } from "../runtime/database-monitor.js";
import { accountUnknownHeld } from "../runtime/deferral-text.js";
import type { Logger } from "../runtime/logger.js";
import { managedUsers } from "../runtime/managed-users.js";
import type { Metrics } from "../runtime/metrics.js";
import type { ReconcileResult } from "../runtime/work-queue.js";
import { PREFIX } from "../sources/annotations.js";
import type { ClusterCache } from "./cluster-cache.js";
import { type EventRecorder, type EventTarget, errorSummary } from "./events.js";
import type { KubeMetrics } from "./metrics.js";
import { drainsDuringRollout, hasPooltunerKeys, rolloutProgress, type WorkloadKind } from "./objects.js";
import { buildPatch, sendPatch } from "./patch.js";
import { appliedAtMs, STATUS_VERSION, statusKey, type WorkloadStatus } from "./status.js";
import { countTerminatingPods } from "./terminating-pods.js";
import { type ClusterWorkload, databaseOf, type optionsOf, readWorkload } from "./workloads.js";

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
  readonly updateMode: "auto" | "off";
  /** A rollout pooltuner started that is not complete after this long is reported and no longer waited for. */
  readonly rolloutTimeoutMs: number;
  /** How soon to look again while a rollout or pod drain is in progress. */
  readonly rolloutCheckMs: number;
  /** A probe answer older than this (the next one hangs) counts as no answer: nothing is planned on stale data. */
  readonly probeMaxAgeMs: number;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly kubeMetrics: KubeMetrics;
  readonly log: Logger;
  readonly isLeader: () => boolean;
  /** Called for every patch sent (successful or not), for the writes-per-minute measurements. */
  readonly onWrite?: () => void;
  readonly now?: () => number;
}

export interface WorkloadRef {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

/** Warning reasons; each is resolved (may be reported again) once its condition is gone. */
const WARNINGS = [
  "InvalidConfiguration",
  "ConfigurationWarning",
  "DatabaseUnreachable",
  "Infeasible",
  "RolloutStuck",
  "AccountUnknown",
  "AccountShared",
] as const;
type WarningReason = (typeof WARNINGS)[number];

/** What one pass did, for logs and tests. */
export interface ReconcileReport {
  readonly database: string;
  readonly outcome: "not-configured" | "unreachable" | "planned" | "not-leader" | "not-synced";
  readonly applied: readonly Action[];
  /** decide()'s deferrals plus the controller's own: `unreadable-workload`, `pods-terminating`. */
  readonly deferred: readonly { readonly workload: string; readonly reason: string }[];
  readonly writes: number;
}

export class DatabaseReconciler {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly now: () => number;
  /** When an increase was first seen, per workload and cap; lost on restart, which only delays increases (safe). */
  private readonly increaseSeen = new Map<string, { cap: number; at: number }>();
  /** Generations this replica wrote that its cache has not shown yet: such a workload counts as rolling out. */
  private readonly inFlight = new Map<string, number>();
  /** When this replica first saw each workload's current rollout in progress (a restart starts the clock again). */
  private readonly progressingSince = new Map<string, number>();
  private readonly lastDraining = new Map<string, string>();
  private readonly loggedErrors = new Map<string, string>();
  /** Last pass per database, for tests and the bench. */
  readonly lastReport = new Map<string, ReconcileReport>();

  constructor(private readonly o: ReconcilerOptions) {
    this.apps = o.kubeConfig.makeApiClient(AppsV1Api);
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.now = o.now ?? Date.now;
  }

  /** The database key each workload is reconciled under; "" for none. */
  static databaseKeyOf(options: ReturnType<typeof optionsOf>, databases: readonly string[]): string {
    return databaseOf(options, databases) ?? "";
  }

  async reconcile(database: string): Promise<ReconcileResult | undefined> {
    const report = await this.run(database);
    this.lastReport.set(database, report.report);
    this.o.metrics.reconciles.inc({ database, result: report.report.outcome });
    return report.result;
  }

  private async run(database: string): Promise<{ report: ReconcileReport; result: ReconcileResult | undefined }> {
    const empty = (outcome: ReconcileReport["outcome"]): ReconcileReport => ({
      database,
      outcome,
      applied: [],
      deferred: [],
      writes: 0,
    });
    if (!this.o.isLeader()) return { report: empty("not-leader"), result: undefined };
    if (!this.o.cache.hasSynced()) return { report: empty("not-synced"), result: { requeueAfter: 1_000 } };

    const { databases, log } = this.o;
    const members = this.members(database);
    const raised = new Map<string, Set<WarningReason>>();
    const warn = async (w: ClusterWorkload, reason: WarningReason, message: string) => {
      if (!raised.has(w.key)) raised.set(w.key, new Set());
      raised.get(w.key)?.add(reason);
      await this.o.events.emit(target(w), "Warning", reason, message);
    };
    const settle = () => {
      for (const w of members) {
        for (const r of WARNINGS) if (!raised.get(w.key)?.has(r)) this.o.events.resolve(target(w), r);
      }
    };

    for (const w of members) {
      this.o.kubeMetrics.invalid.set({ workload: w.id }, w.errors.length > 0 ? 1 : 0);
      if (w.errors.length > 0) {
        const text = w.errors.join("; ");
        // Logged when the errors change, not on every pass (the event is deduplicated the same way).
        if (this.loggedErrors.get(w.key) !== text) {
          log.warn({ workload: w.key, errors: w.errors }, "workload configuration has errors; it is left unchanged");
          this.loggedErrors.set(w.key, text);
        }
        await warn(w, "InvalidConfiguration", text);
      } else {
        this.loggedErrors.delete(w.key);
      }
      if (w.enabled && w.warnings.length > 0) await warn(w, "ConfigurationWarning", w.warnings.join("; "));
    }
    if (!databases.includes(database)) {
      settle();
      return { report: empty("not-configured"), result: undefined };
    }

    const managed = members.filter((w) => w.enabled && w.databaseKnown);
    const plannable = managed.filter((w) => w.loaded !== undefined);
    const unreadable = managed.filter((w) => w.loaded === undefined);
    this.o.kubeMetrics.managed.set({ database }, managed.length);

    const managedAccounts = managedUsers(plannable.flatMap((w) => (w.loaded ? [w.loaded.workload] : [])));
    for (const x of managedAccounts.warnings) {
      const w = plannable.find((p) => p.id === x.workload);
      if (w) await warn(w, "AccountShared", x.message);
    }
    const probed = this.o.monitor.status(database);
    const stale = probed?.ok === true && this.now() - probed.at > this.o.probeMaxAgeMs;
    const dbSnapshot = stale ? undefined : this.o.monitor.snapshot(database, managedAccounts.users);
    if (!dbSnapshot) {
      this.o.metrics.reachable.set({ database }, 0);
      const why = stale
        ? `the last answer is ${Math.round((this.now() - (probed?.at ?? 0)) / 1000)} s old`
        : probed && !probed.ok
          ? `${probed.kind}: ${probed.message}`
          : undefined;
      if (why) {
        for (const w of managed) {
          await warn(
            w,
            "DatabaseUnreachable",
            `database ${database} cannot be probed (${why}); nothing is changed until it answers`,
          );
        }
      }
      settle();
      return { report: empty("unreachable"), result: stale ? { requeueAfter: this.o.rolloutCheckMs } : undefined };
    }
    this.o.metrics.reachable.set({ database }, 1);

    const snapshots = plannable.map((w) => w.loaded?.workload as WorkloadSnapshot);
    const thePlan: Plan = plan({ databases: [dbSnapshot], workloads: snapshots }, this.o.policy);
    const dbPlan = thePlan.databases[0] as DatabasePlan;
    const status = this.o.monitor.status(database);
    this.o.metrics.recordDatabase(dbPlan, status?.ok ? status.probe.threadsConnected : undefined);
    const planOf = new Map(thePlan.workloads.map((p) => [p.id, p]));
    for (const p of thePlan.workloads) this.o.metrics.recordWorkload(p);

    if (!dbPlan.feasible) {
      const why = thePlan.findings
        .filter((f) => f.kind === "infeasible")
        .map((f) => f.message)
        .join("; ");
      for (const w of plannable) await warn(w, "Infeasible", `${why}; nothing is changed`);
    }

    // Rollouts: the workload's own status, plus writes this replica made that the cache has not caught up with.
    const now = this.now();
    const states = new Map<string, WorkloadState>();
    let rolling = false;
    for (const w of plannable) {
      const p = planOf.get(w.id) as WorkloadPlan;
      const progress = rolloutProgress(w.object, w.kind);
      let rollingOut = progress.state === "progressing";
      const since = this.progressingSince.get(w.key) ?? now;
      if (rollingOut) this.progressingSince.set(w.key, since);
      else this.progressingSince.delete(w.key);
      if (rollingOut && now - since > this.o.rolloutTimeoutMs) {
        rollingOut = false;
        await warn(
          w,
          "RolloutStuck",
          `rollout not complete after ${Math.round((now - since) / 1000)} s (${progressDetail(progress)}); ` +
            `no longer waiting for it before changing other workloads of ${database}`,
        );
      } else if (progress.state === "stuck") {
        await warn(w, "RolloutStuck", `rollout stuck: ${progress.detail}; not waiting for it`);
      }
      const pendingGen = this.inFlight.get(w.key);
      if (pendingGen !== undefined) {
        if ((w.object.metadata?.generation ?? 0) < pendingGen) rollingOut = true;
        else this.inFlight.delete(w.key);
      }
      rolling ||= rollingOut;
      this.o.kubeMetrics.rollingOut.set({ workload: w.id, database }, rollingOut ? 1 : 0);

      const mode = this.o.updateMode === "off" || w.errors.length > 0 ? "off" : w.options.updateMode;
      const cur = p.current;
      const drainingPeak =
        drainsDuringRollout(w.object, w.kind) && !cur.unbounded && p.workers !== "unknown"
          ? p.plannedReplicas * p.workers * (cur.settings.poolSize + cur.settings.maxOverflow)
          : 0;
      // Increases are damped from when they were first seen at this cap (the cap may move while waiting).
      let increaseSeenAt: number | undefined;
      if (p.change === "increase" && p.recommended) {
        const seen = this.increaseSeen.get(w.key);
        if (!seen || seen.cap !== p.recommended.cap) this.increaseSeen.set(w.key, { cap: p.recommended.cap, at: now });
        increaseSeenAt = this.increaseSeen.get(w.key)?.at;
      } else {
        this.increaseSeen.delete(w.key);
      }
      states.set(w.id, {
        updateMode: mode,
        ...(w.status?.applied ? { lastAppliedAt: appliedAtMs(w.status) } : {}),
        ...(increaseSeenAt !== undefined ? { increaseSeenAt } : {}),
        rollingOut,
        drainingPeak,
      });
    }

    const decision = dbPlan.feasible ? decide(thePlan, states, now, this.o.damping) : { apply: [], deferred: [] };
    const deferred: Deferral[] = [...decision.deferred];
    const held = new Set(deferred.filter((d) => d.reason === "account-unknown").map((d) => d.workload));
    this.o.metrics.recordHeld(thePlan.workloads, held);
    for (const w of plannable) {
      if (held.has(w.id))
        await warn(w, "AccountUnknown", accountUnknownHeld(w.id, `${PREFIX.kubernetes}account annotation`));
    }
    let apply = [...decision.apply];
    const extraDeferred: { workload: string; reason: string }[] = [];
    if (unreadable.length > 0) {
      // Their usage is unknown: restoring safety is still fine, adding connections is not.
      apply = apply.filter((a) => {
        if (a.change !== "increase") return true;
        extraDeferred.push({ workload: a.workload, reason: "unreadable-workload" });
        return false;
      });
    }
    let requeueAfter: number | undefined = rolling ? this.o.rolloutCheckMs : undefined;
    if (apply.length > 0) {
      // Bound the pods that drain at once: no restart while any pod of this database's workloads is terminating.
      const counts = await countTerminatingPods(this.core, plannable, now, this.o.rolloutTimeoutMs);
      const draining = [...counts.values()].filter((c) => c.draining > 0);
      for (const c of counts.values()) {
        if (c.stuck > 0) log.warn({ workload: c.key, pods: c.stuck }, "pods stuck terminating; not waiting for them");
      }
      if (draining.length > 0) {
        for (const a of apply) extraDeferred.push({ workload: a.workload, reason: "pods-terminating" });
        const what = draining.map((c) => `${c.key}: ${c.draining}`);
        // Logged once per change of what is draining, not on every check.
        const level = this.lastDraining.get(database) === what.join() ? "debug" : "info";
        this.lastDraining.set(database, what.join());
        log[level]({ database, draining: what }, "waiting for terminating pods before the next restart");
        apply = [];
        requeueAfter = this.o.rolloutCheckMs;
      }
    }
    for (const d of deferred) {
      if (d.reason === "cooldown" && d.until !== undefined) {
        const wait = Math.max(100, d.until - now);
        requeueAfter = requeueAfter === undefined ? wait : Math.min(requeueAfter, wait);
      }
    }

    // One write per workload: the env (if an action is due) and the status (if what it says changed).
    let writes = 0;
    for (const w of plannable) {
      if (w.errors.length > 0) continue;
      const p = planOf.get(w.id) as WorkloadPlan;
      const action = apply.find((a) => a.workload === w.id);
      const mode = (states.get(w.id) as WorkloadState).updateMode;
      const next = nextStatus(w, p, dbPlan, database, mode, action, new Date(now));
      this.o.kubeMetrics.pending.set({ workload: w.id, database }, next.pending ? 1 : 0);
      // A workload that already runs the recommendation and never had one pending gets no status: writing it would
      // be a write per workload at install time (and a new Deployment generation) that tells nothing new.
      const worthTelling = next.pending || w.status !== undefined;
      const statusChanged = worthTelling && statusKey(next) !== statusKey(w.status);
      if (!action && !statusChanged) continue;
      const patch = buildPatch(
        w.object,
        {
          container: w.container as string,
          poolSizeEnv: w.options.poolSizeEnv,
          maxOverflowEnv: w.options.maxOverflowEnv,
        },
        action?.to,
        next,
      );
      if (!patch.body) continue;
      this.o.onWrite?.();
      try {
        const stored = await sendPatch(this.apps, w.kind, w.namespace, w.name, patch.body);
        writes += 1;
        this.o.kubeMetrics.writes.inc({ what: "patch", result: "ok" });
        if (action && patch.envChanges.length > 0) {
          this.inFlight.set(w.key, stored.metadata?.generation ?? 0);
          this.o.metrics.patches.inc({ workload: w.id, database, change: action.change, result: "ok" });
          this.o.metrics.restarts.inc({ workload: w.id, database });
          const msg =
            `${patch.envChanges.map((c) => `${c.name} ${c.from ?? "(unset)"}→${c.to}`).join(", ")} ` +
            `(${action.change}: peak ${p.current.peak ?? "unbounded"}→${p.recommended?.peak} connections for ` +
            `${p.processes} processes; ${database} budget ${dbPlan.usable} of max_connections ${dbPlan.limit})`;
          log.info({ workload: w.key, database, change: action.change, from: action.from, to: action.to }, "applied");
          await this.o.events.emit(target(w), "Normal", "Applied", msg);
          rolling = true;
          requeueAfter = this.o.rolloutCheckMs;
        } else if (mode === "off" && next.recommended && next.pending) {
          await this.o.events.emit(
            target(w),
            "Normal",
            "Recommended",
            `update-mode off: recommend ${w.options.poolSizeEnv}=${next.recommended.poolSize} ` +
              `${w.options.maxOverflowEnv}=${next.recommended.maxOverflow} (peak ${p.current.peak ?? "unbounded"}→` +
              `${next.recommended.peak} connections; ${database} budget ${dbPlan.usable} of max_connections ${dbPlan.limit})`,
          );
        }
      } catch (err) {
        this.o.kubeMetrics.writes.inc({ what: "patch", result: "error" });
        if (action) this.o.metrics.patches.inc({ workload: w.id, database, change: action.change, result: "error" });
        const code = (err as { code?: number }).code;
        // 409: the workload changed after the plan was made; re-read and re-plan shortly.
        log[code === 409 ? "info" : "warn"]({ workload: w.key, err: errorSummary(err) }, "patch failed");
        if (code !== 409) throw err;
        requeueAfter = Math.min(requeueAfter ?? 500, 500);
      }
    }

    for (const x of [...deferred, ...extraDeferred]) log.debug({ database, ...x }, "deferred");
    settle();
    return {
      report: {
        database,
        outcome: "planned",
        applied: apply,
        deferred: [...deferred, ...extraDeferred],
        writes,
      },
      result: requeueAfter !== undefined ? { requeueAfter } : undefined,
    };
  }

  /** Every workload routed to `database`: managed ones, and annotated ones with mistakes to report. */
  private members(database: string): ClusterWorkload[] {
    const { cache, databases } = this.o;
    const hpas = cache.horizontalPodAutoscalers();
    const out: ClusterWorkload[] = [];
    for (const ref of this.o.membersOf(database)) {
      const o = cache.getWorkload(ref.kind, ref.namespace, ref.name);
      if (!o || !hasPooltunerKeys(o)) continue;
      const w = readWorkload(o, ref.kind, hpas, databases, (db) => this.o.monitor.address(db));
      if (DatabaseReconciler.databaseKeyOf(w.options, databases) !== database) continue;
      // Not enabled: only worth an event when an annotation of ours is wrong.
      if (!w.enabled && w.errors.length === 0) continue;
      out.push(w);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

function target(w: ClusterWorkload): EventTarget {
  return {
    kind: w.kind,
    apiVersion: "apps/v1",
    namespace: w.namespace,
    name: w.name,
    ...(w.object.metadata?.uid ? { uid: w.object.metadata.uid } : {}),
  };
}

function progressDetail(p: ReturnType<typeof rolloutProgress>): string {
  return p.state === "complete" ? "complete" : p.detail;
}

function nextStatus(
  w: ClusterWorkload,
  p: WorkloadPlan,
  db: DatabasePlan,
  database: string,
  mode: "auto" | "off",
  action: Action | undefined,
  at: Date,
): WorkloadStatus {
  const rec = p.recommended;
  const runs = action
    ? action.to
    : p.current.assumed
      ? undefined
      : { poolSize: p.current.settings.poolSize, maxOverflow: p.current.settings.maxOverflow };
  const pending =
    rec !== undefined && (runs === undefined || runs.poolSize !== rec.poolSize || runs.maxOverflow !== rec.maxOverflow);
  const applied = action
    ? {
        poolSize: action.to.poolSize,
        maxOverflow: action.to.maxOverflow,
        from: action.from,
        change: action.change,
        at: at.toISOString(),
        generation: (w.object.metadata?.generation ?? 0) + 1,
      }
    : w.status?.applied;
  return {
    v: STATUS_VERSION,
    database,
    mode,
    ...(applied ? { applied } : {}),
    ...(rec ? { recommended: { poolSize: rec.poolSize, maxOverflow: rec.maxOverflow, peak: rec.peak } } : {}),
    pending,
    plan: {
      replicas: p.replicas,
      plannedReplicas: p.plannedReplicas,
      podsPeak: p.podsPeak,
      workers: p.workers,
      processes: p.processes,
      currentPeak: action ? (rec?.peak ?? null) : p.current.peak,
      maxConnections: db.limit,
      usable: db.usable,
      allocated: db.allocated,
      feasible: db.feasible,
    },
    updatedAt: at.toISOString(),
  };
}
