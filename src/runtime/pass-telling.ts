// What the reconcile pass tells people, apart from what it does: conditions raised on workloads (the daemon's Notices
// settle the ones a pass no longer raises), plan findings and database conditions logged once while they last,
// decreases held for an unknown account, deferrals at debug. Kept here so the pass reads as its steps.
import { type Action, changeText, type DatabasePlan, type Plan, type WorkloadPlan } from "../core/index.js";
import { accountUnknownHeld } from "./deferral-text.js";
import type { LogLevel, LogOnce } from "./log-once.js";
import { type Metrics, workloadLabels } from "./metrics.js";
import type { ConditionReason, Deferred, LastKnownLimits, Notices, ObservedWorkload } from "./pass-types.js";

/** Per-pass bookkeeping of raised conditions, so Notices can settle the rest. */
export class Raised<W extends ObservedWorkload> {
  private readonly by = new Map<string, Set<ConditionReason>>();
  /** Every condition raised in this pass, in order, with its lines (for notifications). */
  readonly all: { readonly workload: string; readonly reason: ConditionReason; readonly lines: readonly string[] }[] =
    [];
  constructor(private readonly notices: Notices<W>) {}
  async raise(w: W, reason: ConditionReason, lines: readonly string[]): Promise<void> {
    if (!this.by.has(w.id)) this.by.set(w.id, new Set());
    this.by.get(w.id)?.add(reason);
    this.all.push({ workload: w.id, reason, lines });
    await this.notices.raise(w, reason, lines);
  }
  settle(members: readonly W[]): void {
    for (const w of members) this.notices.settle(w, this.by.get(w.id) ?? new Set());
  }
}

export class Telling<W extends ObservedWorkload> {
  constructor(
    private readonly once: LogOnce,
    private readonly metrics: Metrics,
    private readonly accountKey: string,
  ) {}

  /** Plan findings and database conditions: logged once while they last; conditions raised on the workloads. */
  async database(
    database: string,
    thePlan: Plan,
    dbPlan: DatabasePlan,
    view: { readonly decreasesOnly: boolean; readonly lastKnown?: LastKnownLimits },
    plannable: readonly W[],
    raised: Raised<W>,
  ): Promise<void> {
    const lines = new Map<string, LogLevel>();
    for (const f of thePlan.findings) {
      // Reported with the workload as its configuration error, naming the key that settles it.
      if (f.kind !== "unknown-workers") lines.set(f.message, f.severity === "error" ? "error" : "warn");
    }
    if (view.decreasesOnly) {
      const k = view.lastKnown;
      const line = k
        ? `${database} is full (too many connections) and has not answered this process: planning from the last known limits ` +
          `(max_connections ${k.maxConnections}, budget ${k.usable}, recorded ${new Date(k.at).toISOString()} in the ` +
          `${k.from}; stale), decreases only`
        : `${database} is full (too many connections): planning from its last probe, decreases only`;
      lines.set(line, "warn");
      for (const w of plannable) await raised.raise(w, "DatabaseFull", [line]);
    }
    this.once.say(`${database}/plan`, lines, { database });
    for (const f of thePlan.findings) {
      const w = f.kind === "surge-cost" ? plannable.find((x) => x.id === f.workload) : undefined;
      if (w) await raised.raise(w, "SurgeCost", [f.message]);
    }
    if (!dbPlan.feasible) {
      const why = thePlan.findings.filter((f) => f.kind === "infeasible").map((f) => f.message);
      for (const w of plannable) await raised.raise(w, "Infeasible", [`${why.join("; ")}; nothing is changed`]);
    }
  }

  /** Decreases decide() held because the workload's own connections may be among other clients' (account-unknown). */
  async held(thePlan: Plan, deferred: readonly Deferred[], plannable: readonly W[], raised: Raised<W>) {
    const held = new Set(deferred.filter((d) => d.reason === "account-unknown").map((d) => d.workload));
    this.metrics.recordHeld(thePlan.workloads, held);
    for (const w of plannable) {
      if (held.has(w.id)) await raised.raise(w, "AccountUnknown", [accountUnknownHeld(w.id, this.accountKey)]);
    }
  }

  /**
   * Paused workloads and frozen databases as metrics; a paused workload whose decrease is needed gets `Paused` on every
   * pass (the daemon's Notices repeat it every interval: a pause is the only thing that holds a decrease).
   */
  async paused(
    database: string,
    thePlan: Plan,
    deferred: readonly Deferred[],
    plannable: readonly W[],
    pausedBy: (w: W) => string | undefined,
    raised: Raised<W>,
  ): Promise<void> {
    const held = new Set(deferred.filter((d) => d.reason === "paused").map((d) => d.workload));
    for (const w of plannable) {
      const by = pausedBy(w);
      this.metrics.workloadPaused.set(workloadLabels(w.id, database), by !== undefined ? 1 : 0);
      const p = thePlan.workloads.find((x) => x.id === w.id);
      if (by === undefined || !held.has(w.id) || p?.change !== "decrease" || !p.recommended) continue;
      const s = p.current.settings;
      await raised.raise(w, "Paused", [
        `${w.id}: paused (${by}), but a decrease is needed: ${changeText(p.writes, s, p.recommended)} (peak ${p.current.peak ?? "unbounded"} -> ` +
          `${p.recommended.peak}); nothing is changed until the pause is lifted`,
      ]);
    }
    const stuck = plannable.filter((w) => w.stuck !== undefined);
    this.metrics.databaseFrozen.set({ database }, stuck.length > 0 ? 1 : 0);
    const lines = new Map<string, LogLevel>();
    for (const w of stuck) lines.set(`${database} is frozen: ${w.id}: ${w.stuck}`, "warn");
    this.once.say(`${database}/frozen`, lines, { database });
  }

  /** Deferrals at debug, once per change; the everyday "another one goes first" ones not at all. */
  deferred(database: string, deferred: readonly Deferred[]): void {
    const lines = new Map<string, LogLevel>();
    for (const d of deferred) {
      if (d.reason !== "database-busy" && d.reason !== "decrease-pending")
        lines.set(`${d.workload}: deferred (${d.reason})`, "debug");
    }
    this.once.say(`${database}/deferred`, lines, { database });
  }
}

/** `id: decrease pool_size+max_overflow 2+3 -> 1+1 (peak 40 -> 16, budget 18 of max_connections 20)`. */
export function describe(a: Action, p: WorkloadPlan, db: DatabasePlan): string {
  const peaks = `peak ${p.current.peak ?? "unbounded"} -> ${p.recommended?.peak}, budget ${db.usable} of max_connections ${db.limit}`;
  return `${a.workload}: ${a.change} ${changeText(p.writes, a.from, a.to)} (${peaks})`;
}
