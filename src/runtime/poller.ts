// Probes every configured database each interval, a few at a time (each probe is a connection, and many configured
// databases may share one server), and queues a database when what the planner sees changed (or on its first
// answer). Shared by the daemons' loops; stops with its signal.
// The first round runs at start(); a database whose probe fails is tried again sooner than the interval, with a
// backoff from 250 ms doubling up to the interval (every 250 ms while the server is full): a full server must not cost a whole interval before the pass
// knows (the reconcile pass plans decreases through it).
import type { DatabaseMonitor } from "./database-monitor.js";
import type { Logger } from "./logger.js";

/** The first retry of a failed probe; it doubles up to the poll interval. */
const RETRY_FIRST_MS = 250;
/**
 * A full server (1040) is tried again this often, without doubling: a refused connection costs the server nothing,
 * and a process started inside a storm gets in only in the moment a slot frees up (the server refuses even
 * CONNECTION ADMIN while connections in their handshake fill its extra slot); every second of the storm is errors.
 */
const SERVER_FULL_RETRY_MS = 250;

export interface PollerOptions {
  readonly monitor: DatabaseMonitor;
  readonly intervalMs: number;
  readonly concurrency: number;
  readonly enqueue: (database: string) => void;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Polls only while this says so (the controller: only the leader probes). */
  readonly active?: () => boolean;
}

export class Poller {
  private readonly polledOnce = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Per failing database: how many failures in a row, and the retry timer. */
  private readonly retries = new Map<string, { failures: number; timer?: NodeJS.Timeout }>();

  constructor(private readonly o: PollerOptions) {
    o.signal.addEventListener("abort", () => this.stop());
  }

  /** Every database has answered (or failed) at least once. */
  allPolled(): boolean {
    return this.o.monitor.names().every((db) => this.polledOnce.has(db));
  }

  start(): void {
    void this.pollAll();
    this.timer ??= setInterval(() => void this.pollAll(), this.o.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const r of this.retries.values()) clearTimeout(r.timer);
    this.retries.clear();
  }

  private async pollAll(): Promise<void> {
    if (this.o.signal.aborted || this.polling || !(this.o.active?.() ?? true)) return;
    this.polling = true;
    try {
      const names = this.o.monitor.names();
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(this.o.concurrency, names.length) }, async () => {
          while (next < names.length && !this.o.signal.aborted) await this.pollOne(names[next++] as string);
        }),
      );
    } finally {
      this.polling = false;
    }
  }

  private async pollOne(db: string): Promise<void> {
    const changed = await this.o.monitor.poll(db);
    const st = this.o.monitor.status(db);
    if (st && !st.ok) {
      // Warn on the first failure in a row; the quick retries after it only at debug.
      const level = this.retries.has(db) ? "debug" : "warn";
      this.o.log[level]({ database: db, kind: st.kind, err: st.message }, "database probe failed");
    }
    if (changed || !this.polledOnce.has(db)) this.o.enqueue(db);
    this.polledOnce.add(db);
    this.scheduleRetry(db, st !== undefined && !st.ok, st !== undefined && !st.ok && st.kind === "server-full");
  }

  private scheduleRetry(db: string, failed: boolean, serverFull: boolean): void {
    const r = this.retries.get(db);
    if (!failed) {
      if (r) clearTimeout(r.timer);
      this.retries.delete(db);
      return;
    }
    if (r?.timer || this.o.signal.aborted) return; // a retry is already due
    const failures = (r?.failures ?? 0) + 1;
    const delay = serverFull
      ? Math.min(this.o.intervalMs, SERVER_FULL_RETRY_MS)
      : Math.min(this.o.intervalMs, RETRY_FIRST_MS * 2 ** Math.min(failures - 1, 20));
    if (delay >= this.o.intervalMs) {
      this.retries.set(db, { failures }); // the interval's own poll comes as soon
      return;
    }
    const entry: { failures: number; timer?: NodeJS.Timeout } = { failures };
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.o.signal.aborted || !(this.o.active?.() ?? true)) return;
      void this.pollOne(db);
    }, delay);
    this.retries.set(db, entry);
  }
}
