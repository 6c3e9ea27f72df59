// Which planned changes to apply now. Restarts cost more than arithmetic, so this is where damping lives:
// decreases that restore safety go first and at once; increases wait for a cooldown and a minimum gain;
// one workload per database at a time, never while one of its rollouts is still running, never while a rollout
// pooltuner started there is stuck; a paused workload is never changed; an increase waits for its change window
// (a decrease never does).
// Pure: the shell passes the clock and what it knows about each workload.
import { type ChangeWindow, changeWindowState } from "./change-window.js";
import type { DatabasePlan, Plan, Recommendation, WorkloadPlan } from "./plan-types.js";
import type { EnvSetting } from "./profile.js";
import type { PoolSettings } from "./snapshot.js";

export interface Damping {
  /** An increase waits this long after the workload's last apply and after it was first seen. */
  readonly cooldownMs: number;
  /** An increase must raise the per-process cap by at least this much. */
  readonly minGain: number;
}

export const DEFAULT_DAMPING: Damping = { cooldownMs: 10 * 60_000, minGain: 1 };

/** `auto`: pooltuner applies its recommendation; `off`: recommend only (events, status, metrics, logs). */
export type UpdateMode = "auto" | "off";

export interface WorkloadState {
  readonly updateMode: UpdateMode;
  /** When pooltuner last applied values to this workload (read back from the workload itself). */
  readonly lastAppliedAt?: number;
  /** When the shell first saw the current increase recommendation; restarts of the shell reset it (safe). */
  readonly increaseSeenAt?: number;
  /** A rollout of this workload is still in progress. */
  readonly rollingOut?: boolean;
  /**
   * Connections this workload's old processes may still hold while its own rollout replaces them (a RollingUpdate
   * starts new pods before old ones have drained, KEP-3973). An increase must fit with them; 0 when old pods are
   * gone before new ones start (Recreate, StatefulSets).
   */
  readonly drainingPeak?: number;
  /**
   * The same change failed until then (a refused patch, a failed recreate): it is not picked before, and the next
   * workload goes instead, so one workload that cannot be changed does not hold back the others' decreases.
   */
  readonly failedUntil?: number;
  /** Paused by a person (annotation, label or the global switch): planned and counted, never changed. */
  readonly paused?: boolean;
  /**
   * A rollout pooltuner started on it is stuck (past the rollout timeout): nothing on its database changes until that
   * rollout completes or a person acts on the workload (the shell tells which).
   */
  readonly stuck?: boolean;
  /** Increases go only inside one of these (none: any time); decreases never wait for them. */
  readonly changeWindows?: readonly ChangeWindow[];
}

export interface Action {
  readonly workload: string;
  readonly database: string;
  readonly change: "decrease" | "increase";
  readonly from: PoolSettings;
  readonly to: PoolSettings;
  /** The env values that carry `to`, as the workload's profile writes them: what the shell sets. */
  readonly env: readonly EnvSetting[];
}

export interface Deferral {
  readonly workload: string;
  readonly reason:
    | "update-mode-off"
    | "database-busy"
    | "decrease-pending"
    | "cooldown"
    | "gain-too-small"
    | "would-exceed-now"
    /** The same change failed recently (WorkloadState.failedUntil). */
    | "failed-recently"
    /** A decrease of a workload with an unknown account that its own connections could explain: no ratchet. */
    | "account-unknown"
    /** Paused by a person: never changed, a needed decrease included (the shell warns every interval). */
    | "paused"
    /** A rollout pooltuner started on this database is stuck: nothing on it changes until it ends (WorkloadState.stuck). */
    | "database-frozen"
    /** An increase outside its change windows (WorkloadState.changeWindows): `until` is the next opening. */
    | "change-window";
  /** For cooldowns and change windows: when the increase may go. */
  readonly until?: number;
}

export interface Decision {
  /** At most one per database. */
  readonly apply: readonly Action[];
  readonly deferred: readonly Deferral[];
}

const capOf = (s: PoolSettings): number => s.poolSize + s.maxOverflow;

export function decide(
  plan: Plan,
  states: ReadonlyMap<string, WorkloadState>,
  now: number,
  damping: Damping,
  /** The wall-clock time change windows are read at (a test moves it; by default `now`). */
  wallNow: number = now,
): Decision {
  const apply: Action[] = [];
  const deferred: Deferral[] = [];
  for (const db of plan.databases) {
    if (!db.feasible) continue;
    // Workloads with unknown workers are not planned; the shells count their connections as other clients'.
    const mine = plan.workloads.filter((w) => w.database === db.name && w.workers !== "unknown");
    const pending = mine.filter((w) => w.recommended && w.change !== "none");
    if (pending.length === 0) continue;
    const state = (w: WorkloadPlan): WorkloadState => states.get(w.id) ?? { updateMode: "auto" };
    // A change that failed recently waits; it is no candidate meanwhile.
    const retrying = (w: WorkloadPlan): boolean => {
      const until = state(w).failedUntil;
      if (until === undefined || now >= until) return false;
      deferred.push({ workload: w.id, reason: "failed-recently", until });
      return true;
    };

    // A paused workload is left as it is, like update-mode off: its current peak still counts where others must fit.
    const auto = pending.filter((w) => {
      if (state(w).paused) deferred.push({ workload: w.id, reason: "paused" });
      else if (state(w).updateMode === "off") deferred.push({ workload: w.id, reason: "update-mode-off" });
      return state(w).updateMode === "auto" && !state(w).paused;
    });
    // Any workload of the database counts here, planned or not: the stuck rollout is pooltuner's own doing.
    if (plan.workloads.some((w) => w.database === db.name && state(w).stuck)) {
      for (const w of auto) deferred.push({ workload: w.id, reason: "database-frozen" });
      continue;
    }
    if (mine.some((w) => state(w).rollingOut)) {
      for (const w of auto) deferred.push({ workload: w.id, reason: "database-busy" });
      continue;
    }

    const decreases = auto.filter((w) => {
      if (w.change !== "decrease") return false;
      if (!ownUsageExplains(db, mine, w)) return true;
      deferred.push({ workload: w.id, reason: "account-unknown" });
      return false;
    });
    if (decreases.length > 0) {
      // The largest excess first: it restores the most safety with one restart. Increases wait while any decrease
      // is pending, a failed one included.
      const excess = (w: WorkloadPlan): number =>
        w.current.peak === null ? Number.POSITIVE_INFINITY : w.current.peak - (w.recommended?.peak ?? 0);
      const ready = decreases.filter((w) => !retrying(w));
      const [first, ...rest] = ready.sort((a, b) => excess(b) - excess(a) || (a.id < b.id ? -1 : 1));
      if (first) apply.push(action(first));
      for (const w of rest) deferred.push({ workload: w.id, reason: "database-busy" });
      for (const w of auto.filter((x) => x.change === "increase"))
        deferred.push({ workload: w.id, reason: "decrease-pending" });
      continue;
    }

    let chosen = false;
    for (const w of auto.filter((x) => x.change === "increase")) {
      const rec = w.recommended;
      if (!rec) continue;
      const s = state(w);
      if (retrying(w)) continue;
      if (rec.cap - capOf(w.current.settings) < damping.minGain) {
        deferred.push({ workload: w.id, reason: "gain-too-small" });
        continue;
      }
      const until = Math.max(
        (s.lastAppliedAt ?? Number.NEGATIVE_INFINITY) + damping.cooldownMs,
        (s.increaseSeenAt ?? now) + damping.cooldownMs,
      );
      if (now < until) {
        deferred.push({ workload: w.id, reason: "cooldown", until });
        continue;
      }
      const window = changeWindowState(s.changeWindows, wallNow);
      if (!window.open) {
        deferred.push({ workload: w.id, reason: "change-window", until: now + (window.opensAt - wallNow) });
        continue;
      }
      // Others may still run above their plan (update-mode off, failed rollouts): the increase must fit now too,
      // in every bound it counts against, with the old processes it replaces still draining.
      const during = rec.peak + (s.drainingPeak ?? 0);
      if (!boundsOf(db, mine, w).every((b) => fitsAfter(b.members, w.id, during, b.usable))) {
        deferred.push({ workload: w.id, reason: "would-exceed-now" });
        continue;
      }
      if (chosen) {
        deferred.push({ workload: w.id, reason: "database-busy" });
        continue;
      }
      apply.push(action(w));
      chosen = true;
    }
  }
  return { apply, deferred };
}

/**
 * The bounds a workload counts against, each with its members: the server; its account when the account has a limit;
 * for a workload that names no account, the global max_user_connections on its own; its catalog when that one has a
 * limit.
 */
function boundsOf(
  db: DatabasePlan,
  mine: readonly WorkloadPlan[],
  w: WorkloadPlan,
): { usable: number; members: readonly WorkloadPlan[] }[] {
  const bounds = [{ usable: db.usable, members: mine }];
  if (w.account === undefined) {
    if (db.maxUserConnections > 0) bounds.push({ usable: db.maxUserConnections, members: [w] });
  } else {
    const acct = db.accounts.find((a) => a.account === w.account);
    if (acct) bounds.push({ usable: acct.usable, members: mine.filter((x) => x.account === w.account) });
  }
  const cat = w.catalog === undefined ? undefined : db.catalogs?.find((c) => c.catalog === w.catalog);
  if (cat) bounds.push({ usable: cat.usable, members: mine.filter((x) => x.catalog === w.catalog) });
  return bounds;
}

/**
 * A workload whose account is unknown may hold some of the connections counted as other clients' (`possiblyOwn`).
 * When its current settings would fit every bound if those were its own, the decrease may be caused by its own
 * usage: applying it would shrink the workload again with every rise of its load.
 */
function ownUsageExplains(db: DatabasePlan, mine: readonly WorkloadPlan[], w: WorkloadPlan): boolean {
  if (w.account !== undefined || db.possiblyOwn <= 0) return false;
  return boundsOf(db, mine, w).every((b, i) =>
    fitsAfter(b.members, w.id, w.current.peak, b.usable + (i === 0 ? db.possiblyOwn : 0)),
  );
}

/** Σ current peaks with `id` at `peak` instead stays within `usable` (unbounded never does). */
function fitsAfter(members: readonly WorkloadPlan[], id: string, peak: number | null, usable: number): boolean {
  let total = 0;
  for (const x of members) {
    const p = x.id === id ? peak : x.current.peak;
    if (p === null) return false;
    total += p;
  }
  return total <= usable;
}

function action(w: WorkloadPlan): Action {
  const to = w.recommended as Recommendation;
  return {
    workload: w.id,
    database: w.database,
    change: w.change === "increase" ? "increase" : "decrease",
    from: w.current.settings,
    to: { poolSize: to.poolSize, maxOverflow: to.maxOverflow },
    env: to.env,
  };
}
