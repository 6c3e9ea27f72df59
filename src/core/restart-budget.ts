// Restarts across databases: a global cap on restarts in progress at once and a rate limit (restarts started per
// rolling hour). Each database's pass has already picked at most one action (decide()); this orders the actions
// every database wants now by safety and says whether one of them may start.
//
// Order: decreases before increases; among decreases, the database furthest over its budget first (its current
// settings can open the most connections beyond what it has), then by name so two daemons agree. The cap queues
// decreases in that order, one after the other; it never drops one. The rate limit holds increases only: a decrease
// that restores safety is never held by it (it counts towards it all the same), as it is never held by a change
// window — only an explicit pause holds a decrease.
// Pure: the shell passes the clock, the restarts it started and the actions the other databases want.

export const RATE_WINDOW_MS = 60 * 60_000;

export interface RestartLimits {
  /** Restarts in progress at once across all databases (at least 1). */
  readonly maxConcurrent: number;
  /** Restarts started within any hour; 0: no limit. Never holds a decrease. */
  readonly maxPerHour: number;
}

export const DEFAULT_RESTART_LIMITS: RestartLimits = { maxConcurrent: 1, maxPerHour: 0 };

/** The action one database wants to start now (after its own rules and gates). */
export interface RestartCandidate {
  readonly database: string;
  readonly workload: string;
  readonly change: "decrease" | "increase";
  /**
   * How many connections the database's current settings can open beyond its budget (Σ current peaks − usable);
   * Infinity when a pool is unbounded; ≤ 0 when they fit.
   */
  readonly overBudget: number;
}

export interface RestartLedger {
  /** Restarts pooltuner started that are still in progress (one per database at most). */
  readonly inProgress: number;
  /** When each restart of the last hour started (older entries are ignored). */
  readonly started: readonly number[];
}

export type Admission =
  | { readonly go: true }
  | {
      readonly go: false;
      /** `restart-cap`: the cap is taken (or goes to a more urgent database first); `restart-rate`: the hourly limit. */
      readonly reason: "restart-cap" | "restart-rate";
      /** restart-rate: when the oldest restart of the window leaves it. */
      readonly until?: number;
      /** restart-cap: the databases whose actions go first (so the shell can run their passes now). */
      readonly behind: readonly string[];
    };

/** Safety order: decreases first, the most over-budget database first, then by database and workload name. */
export function safetyOrder(a: RestartCandidate, b: RestartCandidate): number {
  if (a.change !== b.change) return a.change === "decrease" ? -1 : 1;
  if (a.overBudget !== b.overBudget) return a.overBudget > b.overBudget ? -1 : 1;
  if (a.database !== b.database) return a.database < b.database ? -1 : 1;
  return a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : 0;
}

/**
 * Whether `own` may start now, given what the other databases want (`others`, one per database, `own`'s database
 * excluded), the restarts in progress and those of the last hour.
 */
export function admit(
  own: RestartCandidate,
  others: readonly RestartCandidate[],
  ledger: RestartLedger,
  limits: RestartLimits,
  now: number,
): Admission {
  const recent = ledger.started.filter((t) => t <= now && now - t < RATE_WINDOW_MS).sort((a, b) => a - b);
  let rateLeft = limits.maxPerHour > 0 ? limits.maxPerHour - recent.length : Number.POSITIVE_INFINITY;
  let slots = Math.max(0, Math.max(1, limits.maxConcurrent) - ledger.inProgress);
  const ahead: string[] = [];
  const queue = [own, ...others.filter((c) => c.database !== own.database)].sort(safetyOrder);
  for (const c of queue) {
    const isOwn = c === own;
    if (c.change === "increase" && rateLeft <= 0) {
      if (!isOwn) continue;
      // The window moves on as its oldest restart ages out; restarts the cap admits meanwhile do not change that.
      const oldest = recent[Math.max(0, recent.length - limits.maxPerHour)] ?? now;
      return { go: false, reason: "restart-rate", until: oldest + RATE_WINDOW_MS, behind: [] };
    }
    if (slots <= 0) {
      if (isOwn) return { go: false, reason: "restart-cap", behind: ahead };
      continue;
    }
    if (isOwn) return { go: true };
    slots -= 1;
    rateLeft -= 1;
    ahead.push(c.database);
  }
  return { go: true };
}

/** Σ current peaks over usable: how far a database's current settings can go over its budget. */
export function overBudget(currentPeaks: readonly (number | null)[], usable: number): number {
  let total = 0;
  for (const p of currentPeaks) {
    if (p === null) return Number.POSITIVE_INFINITY;
    total += p;
  }
  return total - usable;
}
