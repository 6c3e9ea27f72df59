// `pooltuner controller`: informers feed database keys into the work queue; a poll loop probes every database and
// queues it when what the planner sees changed; the leader reconciles. Every replica keeps a warm cache; only the
// leader probes and writes. Options are passed in explicitly (no globals, no env reads here).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Damping } from "../core/index.js";
import type { DaemonConfig } from "../runtime/config.js";
import { DatabaseMonitor } from "../runtime/database-monitor.js";
import { startHttpServer } from "../runtime/http-server.js";
import type { Logger } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import { WorkQueue } from "../runtime/work-queue.js";
import { ClusterCache } from "./cluster-cache.js";
import { EventRecorder, errorSummary } from "./events.js";
import type { InformerEvent } from "./informer.js";
import { LeaderElector } from "./leader.js";
import { KubeMetrics } from "./metrics.js";
import {
  type HpaObject,
  hasPooltunerKeys,
  hpaTargetKey,
  keyOf,
  type WorkloadKind,
  type WorkloadObject,
  workloadId,
} from "./objects.js";
import { DatabaseReconciler, type WorkloadRef } from "./reconciler.js";
import { optionsOf } from "./workloads.js";

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
}

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  readonly config: DaemonConfig;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly labelSelector?: string;
  readonly updateMode: "auto" | "off";
  readonly pollIntervalMs: number;
  readonly damping: Damping;
  readonly rolloutTimeoutMs: number;
  readonly rolloutCheckMs: number;
  /** Events for one database within this window make one reconcile. */
  readonly debounceMs: number;
  /** Every database is reconciled at least this often, whatever the events said (level-based safety net). */
  readonly resyncMs: number;
  /** Other clients' connections are smoothed (highest sample) over this window. */
  readonly unmanagedWindowMs: number;
  readonly leaderElection: LeaderElectionSettings;
  /** This replica's name in the Lease and in events; default hostname + random suffix. */
  readonly identity?: string;
  /** Serve /healthz, /readyz, /metrics; omit to not listen (tests run several in one process). */
  readonly http?: { readonly port: number; readonly host?: string };
  readonly watchdogMs?: number;
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
  const log = o.log;
  const identity = o.identity ?? `${hostname()}-${randomBytes(3).toString("hex")}`;
  const databases = o.config.databases.map((d) => d.name);
  const abort = new AbortController();
  const signal = abort.signal;
  const metrics = new Metrics();
  const kubeMetrics = new KubeMetrics(metrics.registry);
  let writes = 0;
  let leading = !o.leaderElection.enabled;
  kubeMetrics.leader.set(leading ? 1 : 0);

  const monitor = new DatabaseMonitor(o.config.databases, { windowMs: o.unmanagedWindowMs, now: Date.now });
  const polledOnce = new Set<string>();
  const events = new EventRecorder({
    kubeConfig: o.kubeConfig,
    instance: identity,
    log,
    onWrite: (_type, _reason, ok) => {
      writes += 1;
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
  });

  // Which database key each annotated workload was last routed to, so a changed or removed annotation also
  // re-plans the database it left.
  const routed = new Map<string, string>();
  // ...and the inverse, so a reconcile visits only its database's workloads, not the whole cache.
  const byDatabase = new Map<string, Map<string, WorkloadRef>>();
  const route = (key: string, database: string | undefined, ref: WorkloadRef) => {
    const before = routed.get(key);
    if (before !== undefined && before !== database) byDatabase.get(before)?.delete(key);
    if (database === undefined) {
      routed.delete(key);
      return;
    }
    routed.set(key, database);
    if (!byDatabase.has(database)) byDatabase.set(database, new Map());
    byDatabase.get(database)?.set(key, ref);
  };
  const routeWorkload = (kind: WorkloadKind, event: InformerEvent, obj: WorkloadObject) => {
    const key = keyOf(obj, kind);
    const ref = { kind, namespace: obj.metadata?.namespace ?? "default", name: obj.metadata?.name ?? "" };
    const before = routed.get(key);
    if (event === "delete" || !hasPooltunerKeys(obj)) {
      route(key, undefined, ref);
      if (before !== undefined) {
        queue.add(before);
        forgetWorkload(kind, obj, before);
      }
      return;
    }
    const now = DatabaseReconciler.databaseKeyOf(optionsOf(obj, kind), databases);
    route(key, now, ref);
    queue.add(now);
    if (before !== undefined && before !== now) queue.add(before);
  };
  // A workload that left: drop its series and remembered events, so neither grows with churn.
  const forgetWorkload = (kind: WorkloadKind, obj: WorkloadObject, database: string) => {
    const ns = obj.metadata?.namespace ?? "default";
    const name = obj.metadata?.name ?? "";
    const labels = { workload: workloadId(kind, ns, name), database };
    for (const g of [
      metrics.currentPeak,
      metrics.recommendedPeak,
      metrics.recommendedPoolSize,
      metrics.recommendedMaxOverflow,
      kubeMetrics.rollingOut,
      kubeMetrics.pending,
    ]) {
      g.remove(labels);
    }
    kubeMetrics.invalid.remove({ workload: labels.workload });
    events.forget({ kind, apiVersion: "apps/v1", namespace: ns, name });
  };
  const routeHpa = (_event: InformerEvent, h: HpaObject) => {
    const target = hpaTargetKey(h);
    const db = target ? routed.get(target) : undefined;
    if (db !== undefined) queue.add(db);
  };

  const cache = new ClusterCache({
    kubeConfig: o.kubeConfig,
    namespaces: o.namespaces,
    ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
    onWorkload: routeWorkload,
    onHpa: routeHpa,
    onSynced: (informer) => log.debug({ informer }, "cache synced"),
    onRestart: (informer, reason, err, delayMs) => {
      kubeMetrics.informerRestarts.inc({ informer, reason });
      log.warn({ informer, reason, err: errorSummary(err), delayMs }, "restarting list/watch");
    },
    ...(o.watchdogMs !== undefined ? { watchdogMs: o.watchdogMs } : {}),
  });

  const reconciler = new DatabaseReconciler({
    kubeConfig: o.kubeConfig,
    cache,
    membersOf: (database) => byDatabase.get(database)?.values() ?? [],
    monitor,
    databases,
    policy: o.config.policy,
    damping: o.damping,
    updateMode: o.updateMode,
    rolloutTimeoutMs: o.rolloutTimeoutMs,
    rolloutCheckMs: o.rolloutCheckMs,
    // A probe takes at most ~10 s (connect + query timeouts); beyond that its last answer is stale.
    probeMaxAgeMs: Math.max(3 * o.pollIntervalMs, 30_000),
    events,
    metrics,
    kubeMetrics,
    onWrite: () => {
      writes += 1;
    },
    log,
    isLeader: () => leading && !signal.aborted,
  });

  const enqueueAll = () => {
    for (const db of databases) queue.add(db);
    for (const key of new Set(routed.values())) queue.add(key);
  };

  // Probe every database each interval (leader only: standbys would only add load on the servers).
  const pollOnce = async (db: string) => {
    const changed = await monitor.poll(db);
    const st = monitor.status(db);
    if (st && !st.ok) log.warn({ database: db, kind: st.kind, err: st.message }, "database probe failed");
    if (changed || !polledOnce.has(db)) queue.add(db);
    polledOnce.add(db);
  };
  let pollTimer: NodeJS.Timeout | undefined;
  let polling = false;
  const pollLoop = async () => {
    if (signal.aborted || !leading || polling) return;
    polling = true;
    try {
      // A few at a time: each probe is a connection, and many configured databases may share one server.
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(POLL_CONCURRENCY, databases.length) }, async () => {
          while (next < databases.length && !signal.aborted) await pollOnce(databases[next++] as string);
        }),
      );
    } finally {
      polling = false;
    }
  };
  const startPolling = () => {
    void pollLoop();
    pollTimer ??= setInterval(() => void pollLoop(), o.pollIntervalMs);
  };
  // The port first: one that cannot be taken fails the start before any timer, watch, queue or lease is running.
  const ready = () => cache.hasSynced() && (!leading || databases.every((db) => polledOnce.has(db))) && !signal.aborted;
  const healthy = () => !signal.aborted && cache.maxIdleMs() < 4 * (o.watchdogMs ?? 120_000);
  const httpServer = o.http
    ? await startHttpServer({
        port: o.http.port,
        ...(o.http.host ? { host: o.http.host } : {}),
        metrics,
        healthy,
        ready,
      })
    : undefined;
  const resyncTimer = setInterval(() => {
    if (leading) enqueueAll();
  }, o.resyncMs);

  cache.start();
  queue.start((key) => reconciler.reconcile(key));

  let resolveDone: (v: "stopped" | "lost") => void = () => {};
  const done = new Promise<"stopped" | "lost">((r) => {
    resolveDone = r;
  });
  let releaseLease = true;
  const elector = o.leaderElection.enabled
    ? new LeaderElector({
        kubeConfig: o.kubeConfig,
        namespace: o.leaderElection.namespace,
        name: o.leaderElection.name,
        identity,
        leaseDurationMs: o.leaderElection.leaseDurationMs,
        renewDeadlineMs: o.leaderElection.renewDeadlineMs,
        retryPeriodMs: o.leaderElection.retryPeriodMs,
        log,
        shouldRelease: () => releaseLease,
      })
    : undefined;

  let stopping: Promise<void> | undefined;
  const shutdown = (outcome: "stopped" | "lost"): Promise<void> => {
    stopping ??= (async () => {
      leading = false;
      kubeMetrics.leader.set(0);
      abort.abort();
      if (pollTimer) clearInterval(pollTimer);
      clearInterval(resyncTimer);
      await electorRun;
      await cache.stop();
      await httpServer?.close();
      log.info({ identity, outcome }, "controller stopped");
      resolveDone(outcome);
    })();
    return stopping;
  };

  let electorRun: Promise<unknown> = Promise.resolve();
  if (elector) {
    electorRun = elector
      .run(signal, {
        onStartedLeading: () => {
          leading = true;
          kubeMetrics.leader.set(1);
          startPolling();
          enqueueAll();
        },
        onStoppedLeading: (reason) => {
          leading = false;
          kubeMetrics.leader.set(0);
          log.info({ identity, reason }, "stopped leading");
        },
      })
      .then((how) => {
        if (how === "lost") void shutdown("lost");
      });
  } else {
    startPolling();
    enqueueAll();
  }

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

  return {
    identity,
    metrics,
    reconciler,
    cache,
    done,
    ...(port !== undefined ? { port } : {}),
    isLeader: () => leading && !signal.aborted,
    ready,
    writes: () => writes,
    idle: () => queue.idle(),
    stop: () => shutdown("stopped"),
    kill: () => {
      releaseLease = false;
      return shutdown("stopped");
    },
  };
}
