// The daemon-wide side of the restart limits (core admit()): one instance per daemon, shared by the passes of every
// database. It remembers what each database wants to start (its pass's one action, after the pass's own gates), the
// restarts in progress (a slot is held from the start of a restart until a pass of its database sees the workload no
// longer rolling out: a Deployment's rollout, a compose recreate) and when the restarts of the last hour started.
//
// A free slot goes to the most urgent of what every database wants: before handing it out, the other databases not
// heard from within `knownForMs` are asked (their passes are queued) and the slot waits for them at most `gatherMs`. With one database there is
// no one to ask. A stuck rollout holds no slot (it is no longer "rolling out"): its database is frozen on its own, and
// the others go on.
import { type Admission, admit, RATE_WINDOW_MS, type RestartCandidate, type RestartLimits } from "../core/index.js";

export interface RestartCoordinatorOptions {
  readonly limits: RestartLimits;
  /** Every configured database. */
  readonly databases: readonly string[];
  /** Runs a database's pass soon (the daemon's work queue). */
  readonly enqueue: (database: string) => void;
  /** How long a free slot waits for the other databases to say what they want; default 5 s. */
  readonly gatherMs?: number;
  /**
   * A database's last answer counts as known this long (default 60 s): only databases not heard from since are asked,
   * so a freed slot does not run every database's pass when there are many.
   */
  readonly knownForMs?: number;
}

interface Offer {
  readonly candidate: RestartCandidate;
  readonly at: number;
}

export class RestartCoordinator {
  private readonly offers = new Map<string, Offer>();
  /** When each database's pass last said what it wants (an offer or none). */
  private readonly heard = new Map<string, number>();
  private readonly claims = new Map<string, { workload: string; at: number }>();
  private started: number[] = [];
  /** A round of asking, opened when a free slot was first wanted. */
  private round: { at: number; waiting: Set<string> } | undefined;
  private readonly gatherMs: number;

  constructor(private readonly o: RestartCoordinatorOptions) {
    this.gatherMs = o.gatherMs ?? 5_000;
  }

  get limits(): RestartLimits {
    return this.o.limits;
  }

  /** Restarts in progress. */
  inProgress(): number {
    return this.claims.size;
  }

  /** Restarts started within the last hour. */
  startedLastHour(now: number): number {
    return this.started.filter((t) => now - t < RATE_WINDOW_MS).length;
  }

  /**
   * A pass of `database` observed its workloads: a restart it holds a slot for is over once its workload is no
   * longer rolling out (or is gone). Called at the start of every pass that observed the workloads.
   */
  observed(database: string, rollingOut: (workload: string) => boolean): void {
    const claim = this.claims.get(database);
    if (!claim || rollingOut(claim.workload)) return;
    this.claims.delete(database);
    // A slot freed: whoever waits for one is asked again.
    for (const d of this.offers.keys()) if (d !== database) this.o.enqueue(d);
  }

  /** The pass of `database` wants nothing started now. */
  none(database: string, now: number): void {
    this.offers.delete(database);
    this.hear(database, now);
  }

  /** The pass of `database` wants to start `c` now: whether it may, and if so, the slot is its own. */
  request(c: RestartCandidate, now: number): Admission {
    this.offers.set(c.database, { candidate: c, at: now });
    this.hear(c.database, now);
    this.prune(now);
    const slotFree = this.claims.size < Math.max(1, this.o.limits.maxConcurrent);
    if (slotFree) {
      const unheard = this.unheard(c.database, now);
      if (unheard.length > 0) return { go: false, reason: "restart-cap", behind: unheard };
    }
    const others = [...this.offers.values()].filter((x) => x.candidate.database !== c.database).map((x) => x.candidate);
    const admission = admit(c, others, { inProgress: this.claims.size, started: this.started }, this.o.limits, now);
    if (admission.go) {
      this.offers.delete(c.database);
      this.claims.set(c.database, { workload: c.workload, at: now });
      this.started.push(now);
      this.round = undefined;
    } else {
      for (const d of admission.behind) this.o.enqueue(d);
    }
    return admission;
  }

  /**
   * The restart that `request` admitted did not start (a dry run, a conflict, a failure that left the workload as it
   * was): its slot is free again; `uncount` also takes it out of the hourly count (nothing restarted).
   */
  release(database: string, now: number, uncount: boolean): void {
    const claim = this.claims.get(database);
    if (!claim) return;
    this.claims.delete(database);
    if (uncount) {
      const i = this.started.lastIndexOf(claim.at);
      if (i >= 0) this.started.splice(i, 1);
    }
    for (const d of this.offers.keys()) if (d !== database) this.o.enqueue(d);
    this.prune(now);
  }

  /** Databases whose want is not known since the current round opened (they are asked); empty once gathered. */
  private unheard(self: string, now: number): string[] {
    // A round long over (nothing was admitted since) is not this one.
    if (this.round && now - this.round.at > 4 * this.gatherMs) this.round = undefined;
    if (!this.round) {
      // Who answered within the last gatherMs is known; the others are asked.
      const knownFor = this.o.knownForMs ?? 60_000;
      const known = (d: string) => now - (this.heard.get(d) ?? Number.NEGATIVE_INFINITY) <= knownFor;
      const waiting = new Set(this.o.databases.filter((d) => d !== self && !known(d)));
      this.round = { at: now, waiting };
      for (const d of waiting) this.o.enqueue(d);
    }
    // Asked long enough (a database whose pass cannot run): the slot goes by what is known.
    if (now - this.round.at > this.gatherMs) return [];
    return [...this.round.waiting].filter((d) => d !== self);
  }

  private hear(database: string, now: number): void {
    this.heard.set(database, now);
    if (!this.round) return;
    this.round.waiting.delete(database);
    // Everyone answered: the ones waiting for the slot are asked again at once.
    if (this.round.waiting.size === 0) for (const d of this.offers.keys()) if (d !== database) this.o.enqueue(d);
  }

  private prune(now: number): void {
    this.started = this.started.filter((t) => now - t < RATE_WINDOW_MS);
  }
}
