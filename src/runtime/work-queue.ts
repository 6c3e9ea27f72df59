// A keyed work queue in the shape of controller-runtime's: only keys are queued (a reconcile reads the
// world itself, so duplicate events merge), a key is never processed twice at once, and one place
// decides retries: the handler returns `{ requeueAfter }` or throws, and the queue backs off.

export interface ReconcileResult {
  /** Run this key again after this many ms (a cooldown ending, a rollout to check on). */
  readonly requeueAfter?: number;
}

export interface WorkQueueOptions {
  /** Events for one key within this window are merged into one reconcile. */
  readonly debounceMs: number;
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly signal: AbortSignal;
  readonly onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Metrics: every add, every retry after an error, and the number of keys waiting after each change. */
  readonly watch?: { added(): void; retried(): void; depth(n: number): void };
}

export class WorkQueue {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly dirty = new Set<string>();
  private readonly running = new Set<string>();
  private readonly failures = new Map<string, number>();
  private handler: ((key: string) => Promise<ReconcileResult | undefined>) | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: WorkQueueOptions) {
    options.signal.addEventListener("abort", () => {
      for (const t of this.timers.values()) clearTimeout(t);
      this.timers.clear();
      this.wakeIdle();
    });
  }

  /** Start processing with `handler`. */
  start(handler: (key: string) => Promise<ReconcileResult | undefined>): void {
    this.handler = handler;
    for (const key of this.dirty) this.schedule(key, this.options.debounceMs);
  }

  /** Queue `key` (debounced). */
  add(key: string): void {
    this.addAfter(key, this.options.debounceMs);
  }

  /** Queue `key` no later than `ms` from now; an earlier pending run wins. */
  addAfter(key: string, ms: number): void {
    if (this.options.signal.aborted) return;
    this.options.watch?.added();
    this.dirty.add(key);
    if (this.handler) this.schedule(key, ms);
    this.options.watch?.depth(this.dirty.size);
  }

  /** Resolves when nothing is pending or running (tests and one-shot runs use it). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.timers.size === 0 && this.running.size === 0;
  }

  private wakeIdle(): void {
    if (!this.isIdle() && !this.options.signal.aborted) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private schedule(key: string, ms: number): void {
    const due = Date.now() + ms;
    const existing = this.timers.get(key) as (NodeJS.Timeout & { due?: number }) | undefined;
    if (existing?.due !== undefined && existing.due <= due) return;
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => {
      this.timers.delete(key);
      void this.process(key);
    }, ms) as NodeJS.Timeout & { due?: number };
    t.due = due;
    this.timers.set(key, t);
  }

  private async process(key: string): Promise<void> {
    if (this.options.signal.aborted || !this.handler) return;
    if (this.running.has(key)) {
      // Still running: it will be picked up again when the current run ends.
      this.dirty.add(key);
      return;
    }
    this.running.add(key);
    this.dirty.delete(key);
    this.options.watch?.depth(this.dirty.size);
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result?.requeueAfter !== undefined) this.addAfter(key, result.requeueAfter);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const retry = Math.min(this.options.maxBackoffMs, this.options.baseBackoffMs * 2 ** (n - 1));
      this.options.onError?.(key, err, retry);
      this.options.watch?.retried();
      this.addAfter(key, retry);
    } finally {
      this.running.delete(key);
      this.options.watch?.depth(this.dirty.size);
      if (this.dirty.has(key) && !this.timers.has(key)) this.schedule(key, this.options.debounceMs);
      this.wakeIdle();
    }
  }
}
