// A list/watch cache that keeps running. @kubernetes/client-node's informer stops for good on any error but 410
// (kubernetes-client/javascript #596, #1496): here every error restarts it with capped exponential backoff, and a
// watchdog restarts a stream that went silent or a LIST that hangs. Relists replay objects as adds/updates, so
// consumers must be idempotent; ours only turn events into queue keys. A LIST is read in pages, each page cut down
// by `transform` before the next is asked for, so the peak of a (re)list at 10,000 objects is one page of full
// objects, not all of them (issue 13).
import {
  ADD,
  CONNECT,
  DELETE,
  ERROR,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  UPDATE,
} from "@kubernetes/client-node";

export type InformerEvent = "add" | "update" | "delete";

export interface ListPage {
  readonly limit: number;
  readonly _continue?: string;
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** For logs and metrics, e.g. `deployments` or `deployments/shop`. */
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  /** Watch path, e.g. `/apis/apps/v1/deployments`. */
  readonly path: string;
  /** One page of the LIST (the informer follows `_continue` until the last page). */
  readonly list: (page: ListPage) => Promise<KubernetesListObject<T>>;
  /** Objects per LIST page; default 500 (the API server's own default for clients that page). */
  readonly pageSize?: number;
  /**
   * Cuts an object down to what is read from the cache (src/kube/cached-fields.ts), in place: a watch event's object
   * is already in the client's cache when it reaches us. Default: drop managedFields only.
   */
  readonly transform?: (obj: T) => T;
  /** Items of a LIST carry no kind/apiVersion; these are set on them so every cached object is self-describing. */
  readonly kind: string;
  readonly apiVersion: string;
  readonly labelSelector?: string;
  readonly onEvent: (event: InformerEvent, obj: T) => void;
  /** A LIST completed: the cache now reflects the server (also after a relist). */
  readonly onSynced?: () => void;
  readonly onRestart?: (reason: string, err: unknown, delayMs: number) => void;
  /** Restart when nothing (connect, list, event) happened for this long. The client's own 30 s idle timeout
   * reconnects healthy quiet streams well within it. Default 120 s. */
  readonly watchdogMs?: number;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A LIST that takes longer fails and is retried. Default 60 s. */
  readonly listTimeoutMs?: number;
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private synced = false;
  private stopped = true;
  private lastActivity = Date.now();
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private restarting = false;
  /** Restarts so far, for metrics and tests. */
  restarts = 0;

  constructor(private readonly options: ResilientInformerOptions<T>) {
    const { kind, apiVersion } = options;
    const transform = options.transform;
    const stamp = (obj: T): T => {
      obj.kind ??= kind;
      obj.apiVersion ??= apiVersion;
      if (transform) return transform(obj);
      // Often the largest part of an object and never read here: not worth keeping for every cached object.
      if (obj.metadata) delete obj.metadata.managedFields;
      return obj;
    };
    const pageSize = options.pageSize ?? 500;
    // Every page, cut down as it arrives; the last page's resourceVersion is the list's (all pages of a paged LIST
    // are served at the resourceVersion of the first, so the watch resumes from a consistent point).
    const listAll = async (): Promise<KubernetesListObject<T>> => {
      const items: T[] = [];
      let page = await options.list({ limit: pageSize });
      for (;;) {
        for (const item of page.items) items.push(stamp(item));
        this.touch();
        const next = page.metadata?._continue;
        if (!next) break;
        page = await options.list({ limit: pageSize, _continue: next });
      }
      return { ...page, items };
    };
    // The generated client has no request timeout: a LIST that hangs would stall the informer forever, so it is
    // raced against one and fails like any other error (the informer then reports it and is restarted).
    const list = async (): Promise<KubernetesListObject<T>> => {
      this.touch();
      const timeoutMs = options.listTimeoutMs ?? 60_000;
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        listAll(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`LIST ${options.path} took longer than ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      this.touch();
      // The informer applies the items to its cache right after this resolves; announce the sync after that.
      setImmediate(() => {
        if (this.stopped) return;
        this.synced = true;
        this.failures = 0;
        options.onSynced?.();
      });
      return result;
    };
    this.informer = makeInformer<T>(options.kubeConfig, options.path, list, options.labelSelector);
    for (const [verb, event] of [
      [ADD, "add"],
      [UPDATE, "update"],
      [DELETE, "delete"],
    ] as const) {
      this.informer.on(verb, (obj: T) => {
        this.touch();
        this.failures = 0; // the stream works: the next failure starts the backoff again from the bottom
        options.onEvent(event, stamp(obj));
      });
    }
    this.informer.on(CONNECT, () => this.touch());
    this.informer.on(ERROR, (err) => this.scheduleRestart("error", err));
  }

  /** Whether the cache has completed a LIST since start. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Seconds since the stream last showed life; for health checks. */
  idleMs(): number {
    return Date.now() - this.lastActivity;
  }

  list(): readonly T[] {
    return this.informer.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.touch();
    void this.informer.start().catch((err) => this.scheduleRestart("start", err));
    const every = Math.max(1_000, Math.floor((this.options.watchdogMs ?? 120_000) / 4));
    this.watchdog = setInterval(() => {
      if (this.stopped || this.restarting) return;
      if (this.idleMs() > (this.options.watchdogMs ?? 120_000)) {
        this.scheduleRestart("watchdog", new Error(`no list or watch activity for ${this.idleMs()} ms`));
      }
    }, every);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.restartTimer = undefined;
    this.watchdog = undefined;
    await this.informer.stop();
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  private scheduleRestart(reason: string, err: unknown): void {
    if (this.stopped || this.restarting) return;
    this.restarting = true;
    this.failures += 1;
    const base = this.options.baseBackoffMs ?? 1_000;
    const max = this.options.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, base * 2 ** Math.min(this.failures - 1, 20));
    this.options.onRestart?.(reason, err, delay);
    void this.informer.stop();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarting = false;
      if (this.stopped) return;
      this.restarts += 1;
      this.touch();
      void this.informer.start().catch((e) => this.scheduleRestart("start", e));
    }, delay);
  }
}
