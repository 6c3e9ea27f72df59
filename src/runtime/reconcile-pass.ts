// The one reconcile pass of a database, shared by every daemon (DESIGN §2): the Kubernetes controller and the
// compose daemon differ only in how they observe their world and how they act on it (src/runtime/pass-types.ts).
//
//   observe ─> database view ─> plan() ─> decide() ─> gates ─> act, once per workload ─> report
//
// Database view: the monitor's last answer, if it is fresh (older than probeMaxAgeMs counts as none: nothing is
// planned on stale data). When the probe itself got error 1040 (the server is full: exactly when the pools are too
// big), the last good answer is used and only decreases may go; a process that has no answer of its own yet plans
// those decreases from the limits an earlier run recorded on the workloads (src/runtime/last-known.ts, stale, never
// for an increase); any other failure changes nothing.
// Gates, after decide() has picked at most one action: the same change failed recently (backoff), the server is
// full (decreases only), a workload of the database cannot be read (its usage is unknown: no increase), and the
// actuator's own hold (pods still terminating). Conditions go to the daemon's Notices; plan findings and database
// conditions are logged once while they last.
import {
  type Action,
  type ChangeWindow,
  type Damping,
  type DatabasePlan,
  type DatabaseSnapshot,
  decide,
  drainingPeak,
  overBudget,
  type Plan,
  type Policy,
  plan,
  type WorkloadPlan,
  type WorkloadState,
} from "../core/index.js";
import { Damper } from "./damper.js";
import type { DatabaseMonitor } from "./database-monitor.js";
import { type LastKnownStore, lastKnownSnapshot } from "./last-known.js";
import { type LogLevel, LogOnce } from "./log-once.js";
import type { Logger } from "./logger.js";
import { managedUsers } from "./managed-users.js";
import { type Metrics, workloadLabels } from "./metrics.js";
import { describe, Raised, Telling } from "./pass-telling.js";
import type {
  Actuator,
  Deferred,
  LastKnownLimits,
  Notices,
  ObservedWorkload,
  Observer,
  PassReport,
} from "./pass-types.js";
import type { RestartCoordinator } from "./restart-coordinator.js";
import type { ConditionNow, WebhookNotifier } from "./webhooks.js";

export interface PassOptions<W extends ObservedWorkload> {
  readonly monitor: DatabaseMonitor;
  readonly observer: Observer<W>;
  readonly actuator: Actuator<W>;
  readonly notices: Notices<W>;
  readonly policy: Policy;
  readonly damping: Damping;
  /** After a failed apply, the same change waits this long (no restart loops). */
  readonly failureBackoffMs: number;
  /** A probe answer older than this counts as none. */
  readonly probeMaxAgeMs: number;
  /** How soon to look again while a rollout is in progress, after an apply, or while held. */
  readonly recheckMs: number;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: () => number;
  /** How people set a workload's account where they look, e.g. `pooltuner.io/account annotation`. */
  readonly accountKey: string;
  /** Where limits are kept for a later process beyond the workloads themselves (compose: a file). */
  readonly lastKnown?: LastKnownStore;
  /** The global switch (`paused: true` in the config file): every workload is planned and counted, none changed. */
  readonly paused?: boolean;
  /**
   * While a paused workload needs a decrease, the pass is due again this soon, so its Warning is told every interval
   * (a daemon whose loop runs every poll interval anyway leaves it unset).
   */
  readonly pausedRepeatMs?: number;
  /**
   * The daemon-wide restart limits (a cap on restarts in progress across databases, restarts per hour), shared by
   * every database's pass; absent: one restart per database at a time and no more.
   */
  readonly restarts?: RestartCoordinator;
  /** The change windows of a database's workloads (increases only); undefined: any time. */
  readonly changeWindows?: (database: string) => readonly ChangeWindow[] | undefined;
  /** The wall clock change windows are read against; default `now` (tests move it, the rest keeps real time). */
  readonly wallClock?: () => number;
  /** Webhooks told of applies and of conditions as they start (src/runtime/webhooks.ts). */
  readonly notifier?: WebhookNotifier;
}

export interface PassResult {
  readonly report: PassReport;
  readonly requeueAfter?: number;
}

/** What the pass plans against: the answer, or why there is none. */
type DatabaseView =
  | {
      readonly snapshot: DatabaseSnapshot;
      readonly decreasesOnly: boolean;
      readonly observed?: number;
      /** Planned from limits an earlier run recorded (the server is full and never answered this process). */
      readonly lastKnown?: LastKnownLimits;
    }
  | { readonly snapshot?: undefined; readonly why?: string; readonly stale: boolean };

export class ReconcilePass<W extends ObservedWorkload> {
  private readonly damper: Damper;
  private readonly lastGood = new Map<string, DatabaseSnapshot>();
  /** Per database, the workloads of its last pass and their instance: the memory of those gone is dropped. */
  private readonly known = new Map<string, Map<string, string | undefined>>();
  private readonly once: LogOnce;
  private readonly tell: Telling<W>;

  constructor(private readonly o: PassOptions<W>) {
    this.damper = new Damper(o.failureBackoffMs);
    this.once = new LogOnce(o.log);
    this.tell = new Telling<W>(this.once, o.metrics, o.accountKey);
  }

  async run(database: string): Promise<PassResult> {
    const started = performance.now();
    try {
      return await this.runTimed(database);
    } finally {
      this.o.metrics.reconcileDuration.observe({ database }, (performance.now() - started) / 1000);
    }
  }

  private async runTimed(database: string): Promise<PassResult> {
    const members = await this.o.observer.observe(database);
    this.forgetGone(database, members);
    const restarts = this.o.restarts;
    restarts?.observed(database, (id) => members.some((w) => w.id === id && w.rollingOut));
    const asked = { restart: false };
    const raised = new Raised(this.o.notices);
    for (const w of members) {
      if (w.errors.length > 0) await raised.raise(w, "InvalidConfiguration", w.errors);
      if (w.warnings.length > 0) await raised.raise(w, "ConfigurationWarning", w.warnings);
      for (const c of w.conditions ?? []) await raised.raise(w, c.reason, c.lines);
    }
    try {
      if (!this.o.monitor.has(database)) return { report: empty(database, "not-configured") };
      const ours = members.filter((w) => w.managed);
      const plannable = ours.filter((w) => w.snapshot !== undefined);
      const refused = members.flatMap((w) => (w.refused ? [{ id: w.id, ...w.refused }] : []));
      const managed = managedUsers(
        plannable.map((w) => w.snapshot ?? never()),
        refused,
      );
      for (const x of managed.warnings) {
        const w = plannable.find((p) => p.id === x.workload);
        if (w) await raised.raise(w, "AccountShared", [`${x.workload}: ${x.message}`]);
      }
      const view = await this.view(database, managed.users, ours);
      if (!view.snapshot) return await this.unreachable(database, ours, view, raised);
      let thePlan: Plan;
      try {
        thePlan = plan(
          { databases: [view.snapshot], workloads: plannable.map((w) => w.snapshot ?? never()) },
          this.o.policy,
        );
      } catch (err) {
        this.o.log.error({ database }, `${database}: cannot plan: ${errText(err)}`);
        return { report: { ...empty(database, "cannot-plan"), skipped: errText(err) } };
      }
      return await this.decideAndAct(database, thePlan, view, plannable, ours.length - plannable.length, raised, asked);
    } finally {
      raised.settle(members);
      if (!asked.restart) restarts?.none(database, this.o.now());
      this.o.notifier?.conditions(database, notifiable(raised.all));
    }
  }

  /** Workloads the pass remembers something of (tests of bounded memory under churn). */
  remembered(): number {
    let n = this.damper.size();
    for (const m of this.known.values()) n += m.size;
    return n;
  }

  /** Drops what the pass remembers of workloads that left the database or were replaced: bounded under churn. */
  private forgetGone(database: string, members: readonly W[]): void {
    const before = this.known.get(database) ?? new Map<string, string | undefined>();
    const now = new Map(members.map((w) => [w.id, w.instance]));
    for (const [id, instance] of before) {
      if (!now.has(id) || now.get(id) !== instance) this.damper.forget(id);
    }
    if (now.size > 0) this.known.set(database, now);
    else this.known.delete(database);
  }

  private async view(database: string, users: ReadonlySet<string>, ours: readonly W[]): Promise<DatabaseView> {
    const status = this.o.monitor.status(database);
    const now = this.o.now();
    if (!status) return { stale: false };
    if (now - status.at > this.o.probeMaxAgeMs) {
      return { why: `the last answer is ${Math.round((now - status.at) / 1000)} s old`, stale: true };
    }
    if (status.ok) {
      const snapshot = this.o.monitor.snapshot(database, users);
      if (!snapshot) return { stale: false };
      this.lastGood.set(database, snapshot);
      return { snapshot, decreasesOnly: false, observed: status.reading.threadsConnected };
    }
    const last = this.lastGood.get(database);
    if (status.kind === "server-full" && last) return { snapshot: last, decreasesOnly: true };
    const known =
      status.kind === "server-full"
        ? lastKnownSnapshot(database, [
            ...ours.map((w) => w.lastKnownLimits),
            await this.o.lastKnown?.read(database).catch(() => undefined),
          ])
        : undefined;
    if (known) return { snapshot: known.snapshot, decreasesOnly: true, lastKnown: known.limits };
    const none =
      status.kind === "server-full"
        ? "; no limits known from an earlier run (no workload of it carries them), so there is nothing to plan from"
        : "";
    return { why: `${status.kind}: ${status.message}${none}`, stale: false };
  }

  private async unreachable(
    database: string,
    managed: readonly W[],
    view: { why?: string; stale: boolean },
    raised: Raised<W>,
  ): Promise<PassResult> {
    this.o.metrics.reachable.set({ database }, 0);
    const lines = new Map<string, LogLevel>();
    if (view.why) {
      const line = `database ${database} cannot be probed (${view.why}); nothing is changed until it answers`;
      lines.set(line, "warn");
      for (const w of managed) await raised.raise(w, "DatabaseUnreachable", [line]);
    }
    this.once.say(`${database}/database`, lines, { database });
    return {
      report: { ...empty(database, "unreachable"), ...(view.why ? { skipped: view.why } : {}) },
      ...(view.stale ? { requeueAfter: this.o.recheckMs } : {}),
    };
  }

  private async decideAndAct(
    database: string,
    thePlan: Plan,
    view: { decreasesOnly: boolean; observed?: number; lastKnown?: LastKnownLimits },
    plannable: readonly W[],
    unreadable: number,
    raised: Raised<W>,
    asked: { restart: boolean },
  ): Promise<PassResult> {
    const dbPlan = thePlan.databases[0] ?? never();
    const { metrics } = this.o;
    if (!view.decreasesOnly) await this.remember(database, dbPlan);
    metrics.reachable.set({ database }, view.decreasesOnly ? 0 : 1);
    metrics.recordDatabase(dbPlan, view.observed);
    for (const p of thePlan.workloads) metrics.recordWorkload(p);
    await this.tell.database(database, thePlan, dbPlan, view, plannable, raised);

    const now = this.o.now();
    const planOf = new Map(thePlan.workloads.map((p) => [p.id, p]));
    const states = new Map<string, WorkloadState>();
    const windows = this.o.changeWindows?.(database);
    for (const w of plannable) {
      const state = this.stateOf(w, planOf.get(w.id) ?? never(), now);
      const own = w.changeWindows ?? windows;
      states.set(w.id, own ? { ...state, changeWindows: own } : state);
    }
    const wallNow = this.o.wallClock?.() ?? now;
    const decision = dbPlan.feasible
      ? decide(thePlan, states, now, this.o.damping, wallNow)
      : { apply: [], deferred: [] };
    const deferred: Deferred[] = [...decision.deferred];
    await this.tell.held(thePlan, deferred, plannable, raised);
    await this.tell.paused(database, thePlan, deferred, plannable, (w) => this.pausedBy(w), raised);
    let apply = this.gate(decision.apply, view.decreasesOnly, unreadable, now, deferred);
    // A rollout in progress, or a stuck one of pooltuner's (its completion ends the freeze), is looked at again soon.
    let requeue: number | undefined = plannable.some((w) => w.rollingOut || w.stuck !== undefined)
      ? this.o.recheckMs
      : undefined;
    const pausedDecrease = deferred.some(
      (d) => d.reason === "paused" && thePlan.workloads.find((p) => p.id === d.workload)?.change === "decrease",
    );
    if (pausedDecrease && this.o.pausedRepeatMs !== undefined) requeue = min(requeue, this.o.pausedRepeatMs);
    if (apply.length > 0 && this.o.actuator.hold) {
      const reason = await this.o.actuator.hold(plannable, now);
      if (reason) {
        for (const a of apply) deferred.push({ workload: a.workload, reason });
        apply = [];
        requeue = this.o.recheckMs;
      }
    }
    const restart = apply[0];
    if (restart && this.o.restarts) {
      asked.restart = true;
      const mine = thePlan.workloads.filter((p) => p.database === database && p.workers !== "unknown");
      const admission = this.o.restarts.request(
        {
          database,
          workload: restart.workload,
          change: restart.change,
          overBudget: overBudget(
            mine.map((p) => p.current.peak),
            dbPlan.usable,
          ),
        },
        now,
      );
      if (!admission.go) {
        deferred.push({
          workload: restart.workload,
          reason: admission.reason,
          ...(admission.until !== undefined ? { until: admission.until } : {}),
        });
        apply = [];
        requeue = min(requeue, this.o.recheckMs);
      }
    }
    for (const d of deferred) if (d.until !== undefined) requeue = min(requeue, Math.max(100, d.until - now + 50));
    this.tell.deferred(database, deferred);
    metrics.recordDeferred(database, deferred);
    if (this.o.restarts) metrics.restartsInProgress.set(this.o.restarts.inProgress());

    let acted: Awaited<ReturnType<typeof this.act>>;
    try {
      acted = await this.act(database, thePlan, dbPlan, plannable, apply, states, now);
    } catch (err) {
      // Nothing is known to have started: the slot is not kept for it.
      if (restart && apply.length > 0) this.o.restarts?.release(database, this.o.now(), false);
      throw err;
    }
    if (acted.requeue !== undefined) requeue = min(requeue, acted.requeue);
    if (this.o.restarts) metrics.restartsInProgress.set(this.o.restarts.inProgress());
    return {
      report: {
        database,
        outcome: "planned",
        plan: thePlan,
        ...(view.decreasesOnly ? { decreasesOnly: true } : {}),
        ...(view.lastKnown ? { lastKnown: view.lastKnown } : {}),
        applied: acted.applied,
        failed: acted.failed,
        deferred,
        writes: acted.writes,
      },
      ...(requeue !== undefined ? { requeueAfter: requeue } : {}),
    };
  }

  /** Keeps the limits of a fresh answer for a process started while the server is full (LastKnownStore). */
  private async remember(database: string, dbPlan: DatabasePlan): Promise<void> {
    try {
      await this.o.lastKnown?.remember({
        database,
        maxConnections: dbPlan.limit,
        usable: dbPlan.usable,
        at: this.o.now(),
      });
      this.once.say(`${database}/last-known`, new Map(), { database });
    } catch (err) {
      const line = `cannot keep the last known limits of ${database}: ${errText(err)}`;
      this.once.say(`${database}/last-known`, new Map([[line, "warn" as LogLevel]]), { database });
    }
  }

  private stateOf(w: W, p: WorkloadPlan, now: number): WorkloadState {
    const seen = this.damper.increaseSeenAt(p, now);
    const failedUntil = p.recommended ? this.damper.failedUntil({ workload: p.id, to: p.recommended }, now) : undefined;
    return {
      updateMode: w.updateMode,
      ...(w.lastAppliedAt !== undefined ? { lastAppliedAt: w.lastAppliedAt } : {}),
      ...(seen !== undefined ? { increaseSeenAt: seen } : {}),
      rollingOut: w.rollingOut,
      ...(this.pausedBy(w) !== undefined ? { paused: true } : {}),
      ...(w.stuck !== undefined ? { stuck: true } : {}),
      drainingPeak: drainingPeak(p, w.drainsDuringRollout),
      ...(failedUntil !== undefined ? { failedUntil } : {}),
    };
  }

  /** Where a workload is paused, for people; undefined when it is not. */
  private pausedBy(w: W): string | undefined {
    return w.paused ?? (this.o.paused ? "paused: true in the configuration file" : undefined);
  }

  /** The pass's own rules over decide()'s pick: backoff after a failure, a full server, unreadable workloads. */
  private gate(
    picked: readonly Action[],
    decreasesOnly: boolean,
    unreadable: number,
    now: number,
    deferred: Deferred[],
  ) {
    const apply: Action[] = [];
    for (const a of picked) {
      const until = this.damper.failedUntil(a, now);
      if (until !== undefined) deferred.push({ workload: a.workload, reason: "failed-recently", until });
      else if (decreasesOnly && a.change !== "decrease")
        deferred.push({ workload: a.workload, reason: "database-full" });
      else if (unreadable > 0 && a.change === "increase")
        deferred.push({ workload: a.workload, reason: "unreadable-workload" });
      else apply.push(a);
    }
    return apply;
  }

  private async act(
    database: string,
    thePlan: Plan,
    dbPlan: DatabasePlan,
    plannable: readonly W[],
    apply: readonly Action[],
    states: ReadonlyMap<string, WorkloadState>,
    now: number,
  ) {
    const applied: PassReport["applied"][number][] = [];
    const failed: PassReport["failed"][number][] = [];
    let writes = 0;
    let requeue: number | undefined;
    const { actuator, metrics, log } = this.o;
    for (const w of plannable) {
      if (w.errors.length > 0) continue;
      const p = thePlan.workloads.find((x) => x.id === w.id) ?? never();
      const action = apply.find((a) => a.workload === w.id);
      const summary = action ? describe(action, p, dbPlan) : "";
      const fields = action
        ? { workload: w.id, database, change: action.change, from: action.from, to: action.to }
        : {};
      if (action && !actuator.dryRun) log.info(fields, `applying ${summary}`);
      const updateMode = states.get(w.id)?.updateMode ?? "off";
      const paused = this.pausedBy(w) !== undefined;
      const ctx = { database, plan: p, databasePlan: dbPlan, updateMode, now, summary, ...(paused ? { paused } : {}) };
      const out = await actuator.act(w, action, ctx);
      if (out.kind === "published") writes += 1;
      if (out.kind === "conflict") {
        if (action) metrics.patches.inc({ ...workloadLabels(w.id, database), change: action.change, result: "error" });
        requeue = min(requeue, 500);
      }
      if (!action) continue;
      // A restart that did not start frees its slot (a dry run, a conflict: nothing restarted, not counted either).
      if ((out.kind === "applied" && out.dryRun) || out.kind === "conflict" || out.kind === "unchanged")
        this.o.restarts?.release(database, this.o.now(), true);
      else if (out.kind === "failed") this.o.restarts?.release(database, this.o.now(), false);
      if (out.kind === "applied") {
        this.damper.applied(action);
        if (!out.dryRun) writes += 1;
        const result = out.dryRun ? "dry-run" : "ok";
        metrics.patches.inc({ ...workloadLabels(w.id, database), change: action.change, result });
        log.info(
          { ...fields, targets: out.targets },
          `${out.dryRun ? "dry-run: would apply" : "applied"} ${summary}${out.how}`,
        );
        if (!out.dryRun) this.o.notifier?.applied(database, w.id, `applied ${summary}${out.how}`);
        applied.push({
          workload: w.id,
          change: `${out.dryRun ? "dry-run " : ""}${action.change}`,
          containers: out.targets,
        });
        requeue = min(requeue, this.o.recheckMs);
      } else if (out.kind === "failed") {
        this.damper.failed(action, this.o.now());
        metrics.patches.inc({ ...workloadLabels(w.id, database), change: action.change, result: "failed" });
        failed.push({ workload: w.id, container: out.target, reason: out.reason, restored: out.restored });
        log.error(
          { ...fields, target: out.target, restored: out.restored },
          `${w.id}: apply failed on ${out.where}: ${out.reason}; ` +
            (out.restored
              ? `the original ${out.what} was restored`
              : `the original ${out.what} could NOT be restored`) +
            (out.stuck !== undefined
              ? `; ${database} is frozen until a person acts on ${w.id}`
              : `; retrying this change in ${Math.round(this.o.failureBackoffMs / 1000)} s at the earliest`),
        );
        requeue = min(requeue, this.o.recheckMs);
      }
    }
    return { applied, failed, writes, requeue };
  }
}

/** The conditions webhooks are told of: a database's own once (its first line), a stuck rollout per workload. */
function notifiable(raised: Raised<ObservedWorkload>["all"]): ConditionNow[] {
  const out: ConditionNow[] = [];
  for (const r of raised) {
    const text = r.lines.join("; ");
    if (r.reason === "RolloutStuck") out.push({ kind: "RolloutStuck", workload: r.workload, text });
    else if (r.reason === "Infeasible" || r.reason === "DatabaseUnreachable") out.push({ kind: r.reason, text });
  }
  return out;
}

function empty(database: string, outcome: PassReport["outcome"]): PassReport {
  return { database, outcome, applied: [], failed: [], deferred: [], writes: 0 };
}

function min(a: number | undefined, b: number): number {
  return a === undefined ? b : Math.min(a, b);
}

function never(): never {
  throw new Error("internal: a planned workload is missing from its plan");
}

export function errText(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}
