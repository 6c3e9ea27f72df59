// Probes every configured database each interval, a few at a time (each probe is a connection, and many configured
// databases may share one server), and queues a database when what the planner sees changed (or on its first
// answer). Shared by the daemons' loops; stops with its signal.
import type { DatabaseMonitor } from "./database-monitor.js";
import type { Logger } from "./logger.js";

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
    if (st && !st.ok) this.o.log.warn({ database: db, kind: st.kind, err: st.message }, "database probe failed");
    if (changed || !this.polledOnce.has(db)) this.o.enqueue(db);
    this.polledOnce.add(db);
  }
}
