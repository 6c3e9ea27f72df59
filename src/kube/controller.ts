// `pooltuner controller`: informers feed database keys into the work queue; a poll loop probes every database and
// queues it when what the planner sees changed; the leader reconciles. Every replica keeps a warm cache; only the
// leader probes and writes. Options are passed in explicitly (no globals, no env reads here).

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type Damping, DEFAULT_RESTART_LIMITS, type RestartLimits, type UpdateMode } from "../core/index.js";
import type { DaemonConfig } from "../runtime/config.js";
import { DatabaseMonitor } from "../runtime/database-monitor.js";
import { startHttpServer } from "../runtime/http-server.js";
import type { Logger } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import { Poller } from "../runtime/poller.js";
import { RestartCoordinator } from "../runtime/restart-coordinator.js";
import { WebhookNotifier } from "../runtime/webhooks.js";
import { WorkQueue } from "../runtime/work-queue.js";
import { DEFAULT_REQUEST_TIMEOUT_MS, type KubeConfig, limitRequests } from "./client.js";
import { ClusterCache } from "./cluster-cache.js";
import { EventRecorder, errorSummary } from "./events.js";
import { leadership } from "./leadership.js";
import { KubeMetrics } from "./metrics.js";
import { DatabaseReconciler } from "./reconciler.js";
import { WorkloadRouter } from "./routing.js";
import type { DecreaseSurge } from "./strategy.js";
import { accessOf, describeAccess } from "./tenancy.js";

/** Databases probed at once. */
const POLL_CONCURRENCY = 8;

export interface LeaderElectionSettings {
  readonly enabled: boolean;
  /** Where the Lease lives: the controller's own namespace. */
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  /** A Deployment in the Lease's namespace that owns the Lease, so the garbage collector deletes it with it. */
  readonly ownerDeployment?: string;
}

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  readonly config: DaemonConfig;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly labelSelector?: string;
  readonly updateMode: UpdateMode;
  readonly pollIntervalMs: number;
  readonly damping: Damping;
  /** After a refused patch, the same change waits this long (default 5 min). */
  readonly failureBackoffMs?: number;
  readonly rolloutTimeoutMs: number;
  readonly rolloutCheckMs: number;
  /** `drop` (default): a decrease from over budget rolls out with maxSurge 0 (src/kube/strategy.ts); `keep`: never. */
  readonly decreaseSurge?: DecreaseSurge;
  /** Events for one database within this window make one reconcile. */
  readonly debounceMs: number;
  /** Every database is reconciled at least this often, whatever the events said (level-based safety net). */
  readonly resyncMs: number;
  /** Other clients' connections are smoothed (highest sample) over this window. */
  readonly unmanagedWindowMs: number;
  readonly leaderElection: LeaderElectionSettings;
  /** Every API call (but watches) fails after this long; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** This replica's name in the Lease and in events; default hostname + random suffix. */
  readonly identity?: string;
  /** Serve /healthz, /readyz, /metrics; omit to not listen (tests run several in one process). */
  readonly http?: { readonly port: number; readonly host?: string };
  readonly watchdogMs?: number;
  /** Restarts across all databases: in progress at once (default 1), started per hour (default 0: no limit). */
  readonly restartLimits?: RestartLimits;
  /** The wall clock change windows are read against (tests move it); default the system clock. */
  readonly wallClock?: () => number;
  /** The first wait before a failed webhook post is tried again (default 1 s, doubling). */
  readonly webhookRetryMs?: number;
  /** pooltuner's version, for pooltuner_build_info. */
  readonly version?: string;
  readonly log: Logger;
}

export interface RunningController {
  readonly identity: string;
  readonly metrics: Metrics;
  readonly reconciler: DatabaseReconciler;
  readonly cache: ClusterCache;
  /** Resolves when the controller has stopped: "stopped" after stop(), "lost" when leadership was lost. */
  readonly done: Promise<"stopped" | "lost">;
  isLeader(): boolean;
  ready(): boolean;
  /** Patches and events sent so far (successful or not). */
  writes(): number;
  /** Waits until nothing is queued or running. */
  idle(): Promise<void>;
  /** Graceful: finish, release the lease so a standby takes over at once. */
  stop(): Promise<void>;
  /** Like a crash: stop without releasing the lease (tests of failover). */
  kill(): Promise<void>;
  /** The port /metrics listens on, when http was requested (0 picks a free one). */
  readonly port?: number;
}

export async function startController(o: ControllerOptions): Promise<RunningController> {
  const parts = buildParts(o);
  const { log, identity, kubeMetrics, cache, queue, reconciler, poller, router, signal, monitor } = parts;
  const databases = o.config.databases.map((d) => d.name);
  const enqueueAll = () => {
    for (const db of databases) queue.add(db);
    for (const key of router.keys()) queue.add(key);
  };
  // The port first: one that cannot be taken fails the start before any timer, watch, queue or lease is running.
  const ready = () => cache.hasSynced() && (!parts.leading || poller.allPolled()) && !signal.aborted;
  const healthy = () => !signal.aborted && cache.maxIdleMs() < 4 * (o.watchdogMs ?? 120_000);
  const httpServer = o.http ? await startHttpServer({ ...o.http, metrics: parts.metrics, healthy, ready }) : undefined;
  const resyncTimer = setInterval(() => {
    if (parts.leading) enqueueAll();
  }, o.resyncMs);
  cache.start();
  queue.start((key) => reconciler.reconcile(key));

  const lease = leadership(o, parts, () => {
    poller.start();
    enqueueAll();
  });
  parts.writableForMs = lease.writableForMs;
  lease.onStop(async () => {
    clearInterval(resyncTimer);
    await cache.stop();
    await monitor.close(); // the probes' kept connections
    parts.notifier?.stop();
    await httpServer?.close();
  });
  const address = httpServer?.server.address();
  const port = typeof address === "object" && address ? address.port : undefined;
  log.info(
    {
      identity,
      databases,
      namespaces: o.namespaces.length > 0 ? o.namespaces : "all",
      updateMode: o.updateMode,
      pollIntervalMs: o.pollIntervalMs,
      leaderElection: o.leaderElection.enabled,
    },
    "controller started",
  );
  kubeMetrics.leader.set(parts.leading ? 1 : 0);
  return {
    identity,
    metrics: parts.metrics,
    reconciler,
    cache,
    done: lease.done,
    ...(port !== undefined ? { port } : {}),
    isLeader: () => parts.leading && !signal.aborted && parts.writableForMs() > 0,
    ready,
    writes: () => parts.writes,
    idle: () => queue.idle(),
    stop: () => lease.shutdown("stopped"),
    kill: () => lease.shutdown("stopped", { release: false }),
  };
}

/** The controller's parts, wired; `leading` and `writes` change as it runs. */
function buildParts(o: ControllerOptions) {
  const log = o.log;
  const identity = o.identity ?? `${hostname()}-${randomBytes(3).toString("hex")}`;
  const databases = o.config.databases.map((d) => d.name);
  const abort = new AbortController();
  const signal = abort.signal;
  const metrics = new Metrics({ version: o.version ?? "unknown", daemon: "controller" });
  const kubeMetrics = new KubeMetrics(metrics.registry);
  const state = {
    leading: !o.leaderElection.enabled,
    writes: 0,
    /** Set once leadership is wired: until then nothing may be written. */
    writableForMs: (): number => 0,
  };
  // Every call times out and is cut at shutdown; every write first asks whether this replica may still write.
  const kubeConfig = limitRequests(o.kubeConfig, {
    timeoutMs: o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    signal,
    writableForMs: () => state.writableForMs(),
    onRequest: (verb) => kubeMetrics.requests.inc({ verb }),
  });
  const monitor = new DatabaseMonitor(o.config.databases, {
    windowMs: o.unmanagedWindowMs,
    now: Date.now,
    onProbe: (db, seconds, ok, at) => metrics.recordProbe(db, seconds, ok, at),
  });
  const events = new EventRecorder({
    kubeConfig,
    instance: identity,
    log,
    onWrite: (_type, _reason, ok) => {
      state.writes += 1;
      kubeMetrics.writes.inc({ what: "event", result: ok ? "ok" : "error" });
    },
  });
  const queue = new WorkQueue({
    debounceMs: o.debounceMs,
    baseBackoffMs: 1_000,
    maxBackoffMs: 60_000,
    signal,
    onError: (key, err, retryInMs) =>
      log.warn({ database: key, err: errorSummary(err), retryInMs }, "reconcile failed; retrying"),
    watch: metrics.queueWatch(),
  });
  const enqueue = (db: string) => queue.add(db);
  const restarts = new RestartCoordinator({
    limits: o.restartLimits ?? DEFAULT_RESTART_LIMITS,
    databases,
    enqueue,
  });
  const windows = new Map(o.config.databases.map((d) => [d.name, d.changeWindows]));
  const notifier = o.config.webhooks
    ? new WebhookNotifier({
        webhooks: o.config.webhooks,
        log,
        now: Date.now,
        ...(o.webhookRetryMs !== undefined ? { retryBaseMs: o.webhookRetryMs } : {}),
        onResult: (webhook, kind, result) => metrics.notifications.inc({ webhook, kind, result }),
      })
    : undefined;
  const router = new WorkloadRouter({ databases, enqueue, metrics, kubeMetrics, events });
  const cache = new ClusterCache({
    kubeConfig,
    namespaces: o.namespaces,
    ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
    onWorkload: (kind, event, obj) => router.onWorkload(kind, event, obj),
    onHpa: (event, h) => router.onHpa(event, h),
    // A namespace paused or resumed: every database may have workloads there (namespace changes are rare).
    onNamespace: (event) => {
      if (event !== "add") for (const db of databases) enqueue(db);
    },
    onSynced: (informer) => log.debug({ informer }, "cache synced"),
    onRestart: (informer, reason, err, delayMs) => {
      kubeMetrics.informerRestarts.inc({ informer, reason });
      log.warn({ informer, reason, err: errorSummary(err), delayMs }, "restarting list/watch");
    },
    ...(o.watchdogMs !== undefined ? { watchdogMs: o.watchdogMs } : {}),
  });
  const access = new Map(o.config.databases.map((d) => [d.name, accessOf(d, o.namespaces)]));
  for (const [database, a] of access) {
    // Serving no namespace is deny-by-default at work, but rarely what was meant: say so louder.
    const none = a.namespaces !== "any" && a.namespaces.size === 0;
    log[none ? "warn" : "info"]({ database }, `database ${database} serves ${describeAccess(a)}`);
  }
  const reconciler = new DatabaseReconciler({
    ...o,
    kubeConfig,
    cache,
    membersOf: (database) => router.membersOf(database),
    monitor,
    databases,
    access: (database) => access.get(database) ?? accessOf({}, []),
    policy: o.config.policy,
    ...(o.config.profiles ? { profiles: o.config.profiles } : {}),
    ...(o.config.paused ? { paused: true } : {}),
    pausedRepeatMs: o.pollIntervalMs,
    // A probe takes at most ~10 s (connect + query timeouts); beyond that its last answer is stale.
    probeMaxAgeMs: Math.max(3 * o.pollIntervalMs, 30_000),
    events,
    metrics,
    kubeMetrics,
    onWrite: () => {
      state.writes += 1;
    },
    isLeader: () => state.leading && !signal.aborted && state.writableForMs() > 0,
    restarts,
    changeWindows: (database) => windows.get(database),
    ...(o.wallClock ? { wallClock: o.wallClock } : {}),
    ...(notifier ? { notifier } : {}),
  });
  // Leader only: standbys would only add load on the servers.
  const poller = new Poller({
    monitor,
    intervalMs: o.pollIntervalMs,
    concurrency: POLL_CONCURRENCY,
    enqueue,
    log,
    signal,
    active: () => state.leading,
  });
  return Object.assign(state, {
    log,
    identity,
    abort,
    signal,
    metrics,
    kubeMetrics,
    queue,
    router,
    cache,
    reconciler,
    poller,
    monitor,
    notifier,
  });
}
