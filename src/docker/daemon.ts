// `pooltuner compose`: the daemon beside docker-compose. Level-based like a controller: the unit of work is a
// database (every service on it shares one budget); events, polls and timers only queue its name, and a reconcile
// reads the containers and the database afresh and runs the shared reconcile pass (src/runtime/reconcile-pass.ts)
// with this daemon's observer (src/docker/observe.ts) and actuator (src/docker/actuator.ts: recreate the service's
// containers one at a time). The applied values live on the containers themselves, so a restarted daemon finds
// nothing to do (Reloader #166/#216).
import type Docker from "dockerode";
import { type Damping, DEFAULT_RESTART_LIMITS, type Policy, type RestartLimits } from "../core/index.js";
import type { DatabaseConfig } from "../runtime/config.js";
import { DatabaseMonitor } from "../runtime/database-monitor.js";
import { LastKnownFile } from "../runtime/last-known.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import type { PassReport } from "../runtime/pass-types.js";
import { Poller } from "../runtime/poller.js";
import { errText, ReconcilePass } from "../runtime/reconcile-pass.js";
import { RestartCoordinator } from "../runtime/restart-coordinator.js";
import { sleep } from "../runtime/sleep.js";
import { type WebhookConfig, WebhookNotifier } from "../runtime/webhooks.js";
import { type ReconcileResult, WorkQueue } from "../runtime/work-queue.js";
import { PREFIX } from "../sources/identity.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { ComposeActuator } from "./actuator.js";
import type { EnvFileLocation } from "./env-file.js";
import { watchContainerEvents } from "./events.js";
import { StuckServices } from "./frozen.js";
import { hasPooltunerLabels } from "./labels.js";
import { ComposeNotices, DockerObserver, type DockerWorkload } from "./observe.js";
import { type RecreateOptions, recoverInterrupted } from "./recreate.js";

/** Databases probed at once. */
const POLL_CONCURRENCY = 8;

export interface ComposeDaemonOptions {
  readonly docker: Docker;
  readonly databases: readonly DatabaseConfig[];
  readonly policy: Policy;
  /** Profiles the `profile` label may name (built-ins plus the configuration's); default the built-ins. */
  readonly profiles?: ProfileRegistry;
  /** The global pause from the config file: everything planned and counted, nothing changed. */
  readonly paused?: boolean;
  readonly damping: Damping;
  /** Plan and log what would change; never recreate or write. */
  readonly dryRun: boolean;
  /** Only these compose projects, when given. */
  readonly projects?: readonly string[];
  /** How often every database is probed (max_connections, other clients). */
  readonly pollIntervalMs: number;
  /** Full resync of containers even without events: a watchdog for a silently stalled event stream. */
  readonly resyncIntervalMs: number;
  /** Other clients' connections are taken at their highest over this window. */
  readonly unmanagedWindowMs: number;
  readonly recreate: RecreateOptions;
  /** Where applied values are persisted for the next `docker compose up -d`; undefined: not persisted. */
  readonly persist?: EnvFileLocation;
  /** After a failed apply, the same change waits this long before it is tried again (no restart loops). */
  readonly failureBackoffMs: number;
  /** Where the limits of the last fresh answer are kept (src/runtime/last-known.ts); undefined: nowhere. */
  readonly lastKnownFile?: string;
  /** A probe answer older than this counts as none; default 3 poll intervals, at least 30 s. */
  readonly probeMaxAgeMs?: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
  /** Restarts across all databases: in progress at once (default 1), started per hour (default 0: no limit). */
  readonly restartLimits?: RestartLimits;
  /** The wall clock change windows are read against (tests move it); default the system clock. */
  readonly wallClock?: () => number;
  /** Told of applies and conditions; URLs are secrets. */
  readonly webhooks?: readonly WebhookConfig[];
  /** The first wait before a failed webhook post is tried again (default 1 s, doubling). */
  readonly webhookRetryMs?: number;
}

/** What one reconcile of a database did; `once` returns them, tests read them. */
export type ReconcileReport = PassReport;

export class ComposeDaemon {
  private readonly monitor: DatabaseMonitor;
  private readonly now: () => number;
  private readonly pass: ReconcilePass<DockerWorkload>;
  private readonly notifier?: WebhookNotifier;
  /** Services whose recreation never got ready: their databases are frozen until a person acts. */
  private readonly stuck = new StuckServices();
  /** Where the restart limits queue a database's pass (the work queue while run() runs). */
  private enqueue: (database: string) => void = () => {};
  private inflight = 0;
  private synced = false;
  private lastLoop = Date.now();
  readonly reports: ReconcileReport[] = [];

  constructor(private readonly o: ComposeDaemonOptions) {
    this.now = o.now ?? Date.now;
    this.monitor = new DatabaseMonitor(o.databases, {
      windowMs: o.unmanagedWindowMs,
      now: this.now,
      onProbe: (db, seconds, ok, at) => o.metrics.recordProbe(db, seconds, ok, at),
    });
    const windows = new Map(o.databases.map((d) => [d.name, d.changeWindows]));
    if (o.webhooks && o.webhooks.length > 0) {
      this.notifier = new WebhookNotifier({
        webhooks: o.webhooks,
        log: o.logger,
        now: this.now,
        ...(o.webhookRetryMs !== undefined ? { retryBaseMs: o.webhookRetryMs } : {}),
        onResult: (webhook, kind, result) => o.metrics.notifications.inc({ webhook, kind, result }),
      });
    }
    this.pass = new ReconcilePass<DockerWorkload>({
      monitor: this.monitor,
      observer: new DockerObserver({
        docker: o.docker,
        databases: this.monitor.names(),
        ...(o.projects ? { projects: o.projects } : {}),
        addressOf: (db) => this.monitor.address(db),
        logger: o.logger,
        ...(o.profiles ? { profiles: o.profiles } : {}),
        stuck: this.stuck,
      }),
      actuator: new ComposeActuator({ ...o, stuck: this.stuck }),
      notices: new ComposeNotices(o.logger),
      policy: o.policy,
      damping: o.damping,
      failureBackoffMs: o.failureBackoffMs,
      // A probe takes at most ~10 s (connect + query timeouts); beyond that its last answer is stale.
      probeMaxAgeMs: o.probeMaxAgeMs ?? Math.max(3 * o.pollIntervalMs, 30_000),
      recheckMs: 1_000,
      metrics: o.metrics,
      log: o.logger,
      now: this.now,
      accountKey: `${PREFIX.docker}account label`,
      ...(o.paused ? { paused: true } : {}),
      ...(o.lastKnownFile ? { lastKnown: new LastKnownFile(o.lastKnownFile) } : {}),
      restarts: new RestartCoordinator({
        limits: o.restartLimits ?? DEFAULT_RESTART_LIMITS,
        databases: this.monitor.names(),
        enqueue: (d) => this.enqueue(d),
      }),
      changeWindows: (database) => windows.get(database),
      ...(o.wallClock ? { wallClock: o.wallClock } : {}),
      ...(this.notifier ? { notifier: this.notifier } : {}),
    });
  }

  /** The loop is alive (a stuck poll timer turns it false). */
  healthy(): boolean {
    return Date.now() - this.lastLoop < Math.max(60_000, 3 * this.o.pollIntervalMs);
  }

  /** Containers listed once and every database probed once. */
  ready(): boolean {
    return this.synced && this.monitor.names().every((n) => this.monitor.status(n) !== undefined);
  }

  /** One pass: settle interrupted recreates, probe every database, reconcile each once. */
  async once(): Promise<ReconcileReport[]> {
    await this.recover();
    const out: ReconcileReport[] = [];
    try {
      for (const name of this.monitor.names()) {
        await this.monitor.poll(name);
        out.push(await this.reconcile(name));
      }
      // The restart limits hand a free slot to the most urgent database once every database has said what it wants:
      // the ones told to wait for that are run once more (a slot still taken stays taken: one pass, one restart).
      for (const [i, r] of out.entries()) {
        if (r.deferred.some((d) => d.reason === "restart-cap")) out[i] = await this.reconcile(r.database);
      }
    } finally {
      // One shot: no connection outlives it, and what it told is delivered (or given up on) before it ends.
      await this.monitor.release();
      await this.notifier?.flush();
    }
    this.synced = true;
    return out;
  }

  /** Run until `signal` aborts; finishes a recreate in progress before returning. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.o.logger;
    await this.recover();
    const queue = new WorkQueue({
      debounceMs: 500,
      baseBackoffMs: 1_000,
      maxBackoffMs: 60_000,
      signal,
      onError: (key, err, retry) =>
        log.error(
          { database: key, err: errText(err), retryInMs: retry },
          `reconcile of ${key} failed: ${errText(err)}`,
        ),
      watch: this.o.metrics.queueWatch(),
    });
    const names = this.monitor.names();
    this.enqueue = (n) => queue.add(n);
    const addAll = () => {
      for (const n of names) queue.add(n);
    };
    // Every database answers (or fails) once before the first reconcile, as before; then the Poller probes at once,
    // every interval, failures sooner (src/runtime/poller.ts), each over a kept connection.
    for (const n of names) await this.monitor.poll(n);
    const poller = new Poller({
      monitor: this.monitor,
      intervalMs: this.o.pollIntervalMs,
      concurrency: POLL_CONCURRENCY,
      enqueue: (n) => queue.add(n),
      log,
      signal,
    });
    poller.start();
    queue.start(async (key) => {
      this.inflight++;
      try {
        return await this.reconcileForQueue(key);
      } finally {
        this.inflight--;
      }
    });

    const events = watchContainerEvents(this.o.docker, {
      signal,
      onEvent: (e) => {
        if (hasPooltunerLabels(e.labels)) addAll();
      },
      onConnected: (attempt) => {
        if (attempt > 0) log.info("Docker event stream reconnected; resyncing");
        this.synced = true;
        addAll();
      },
      onDisconnected: (reason, retry) =>
        log.warn({ retryInMs: retry }, `Docker event stream lost (${reason}); reconnecting in ${retry} ms`),
    });

    let lastResync = Date.now();
    // The loop's heartbeat (healthy()) and the periodic resync; probing is the Poller's.
    const tick = async () => {
      while (!signal.aborted) {
        await sleep(this.o.pollIntervalMs, signal);
        if (signal.aborted) break;
        this.lastLoop = Date.now();
        if (Date.now() - lastResync >= this.o.resyncIntervalMs) {
          lastResync = Date.now();
          addAll();
        }
      }
    };
    await Promise.all([events, tick()]);
    poller.stop();
    while (this.inflight > 0) await sleep(100, new AbortController().signal);
    await this.monitor.close();
    this.notifier?.stop();
  }

  private async recover(): Promise<void> {
    if (this.o.dryRun) return;
    const r = await recoverInterrupted(this.o.docker, {
      ...(this.o.projects ? { projects: this.o.projects } : {}),
      recreate: this.o.recreate,
    });
    for (const line of r.actions) this.o.logger.warn(line);
    // Reported, never fatal: one backup that cannot be settled must not keep the daemon from starting.
    for (const line of r.problems) this.o.logger.error(line);
  }

  private async reconcileForQueue(database: string): Promise<ReconcileResult | undefined> {
    const { requeueAfter } = await this.reconcileOnce(database);
    return requeueAfter !== undefined ? { requeueAfter } : undefined;
  }

  /** Plan one database and apply at most one change. */
  async reconcile(database: string): Promise<ReconcileReport> {
    return (await this.reconcileOnce(database)).report;
  }

  private async reconcileOnce(database: string): Promise<{ report: ReconcileReport; requeueAfter?: number }> {
    const result = await this.pass.run(database);
    const r = result.report;
    const outcome = r.failed.length > 0 ? "failed" : r.outcome === "planned" ? "ok" : "skipped";
    this.o.metrics.reconciles.inc({ database: r.database, result: outcome });
    this.reports.push(r);
    if (this.reports.length > 100) this.reports.shift();
    return result;
  }
}
