// Shared parts of the real-node suites (issue 14): the example app (Gunicorn + SQLAlchemy + PyMySQL from Debian) as a
// Deployment of real pods, a private MariaDB with the app's and the monitor's accounts, a sampler of the server's own
// connection count, and a bounded load generator that timestamps every error 1040.
//
// Pods run with hostNetwork (MariaDB listens on loopback) and Gunicorn's SO_REUSEPORT: every pod of a Deployment
// binds the same loopback port and the kernel spreads connections over them, as a Service would.
import { appendFileSync } from "node:fs";
import { Agent } from "node:http";
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import mysql from "mysql2/promise";
import { inject } from "vitest";
import { get } from "../../../bench/http-load.js";
import type { RunningController } from "../../../src/kube/controller.js";
import type { MariaDb } from "../../support/mariadb.js";
import { freePort } from "../compose/app.js";
import { startTestDatabase } from "../compose/support.js";
import { type Cluster, eventually2, getDeployment } from "../controller/harness.js";

export interface NodeDatabase {
  db: MariaDb;
  /** The app's SQLAlchemy URL (mysql+pymysql://lineage:...@127.0.0.1:port/lineage). */
  appUrl: string;
  /**
   * The controller's account. By default PROCESS and CONNECTION ADMIN on the server's port, so its probe may use the
   * server's one extra slot when full (a race). With `extraPort`, PROCESS only, on MariaDB's extra_port.
   */
  monitorUrl: string;
}

export interface NodeDatabaseOptions {
  /**
   * Also listen on MariaDB's extra_port (`--extra-port`, `--extra-max-connections=2`), whose connections are outside
   * max_connections, and give the monitor (PROCESS only, no CONNECTION ADMIN) a URL on it: the README's way in for a
   * controller installed while the server is full.
   */
  extraPort?: boolean;
}

export async function nodeDatabase(
  label: string,
  maxConnections: number,
  options: NodeDatabaseOptions = {},
): Promise<NodeDatabase> {
  if (options.extraPort) {
    const extraPort = await freePort();
    const t = await startTestDatabase(label, maxConnections, [
      `--extra-port=${extraPort}`,
      "--extra-max-connections=2",
    ]);
    const monitor = new URL(t.monitorUrl);
    monitor.port = String(extraPort);
    return { db: t.db, appUrl: t.appUrl, monitorUrl: monitor.toString() };
  }
  const t = await startTestDatabase(label, maxConnections);
  await t.db.query("GRANT CONNECTION ADMIN ON *.* TO 'monitor'@'%'");
  return t;
}

export interface AppOptions {
  name: string;
  namespace: string;
  port: number;
  /** Secret holding DATABASE_URL (created by createAppSecret). */
  secret: string;
  poolSize: number;
  maxOverflow: number;
  workers?: number;
  replicas?: number;
  /** Annotated for pooltuner against this database name; omitted, the Deployment is not managed. */
  managedBy?: string;
  /** A preStop `sleep` of this many seconds (the common wait for endpoint propagation): old pods keep serving. */
  preStopSeconds?: number;
}

/** The seed's app as a Deployment of real pods on the node. */
export function appDeployment(o: AppOptions): V1Deployment {
  const annotations: Record<string, string> = o.managedBy
    ? {
        "pooltuner.io/enabled": "true",
        "pooltuner.io/database": o.managedBy,
        "pooltuner.io/pool-size-env": "LINEAGE_DB_POOL_SIZE",
        "pooltuner.io/max-overflow-env": "LINEAGE_DB_MAX_OVERFLOW",
        "pooltuner.io/workers-env": "GUNICORN_WORKERS",
        "pooltuner.io/account": "lineage",
      }
    : {};
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: o.name, namespace: o.namespace, annotations },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: { app: o.name } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: o.name } },
        spec: {
          hostNetwork: true,
          dnsPolicy: "Default",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 15,
          containers: [
            {
              name: "web",
              image: inject("node").appImage,
              imagePullPolicy: "Never",
              env: [
                { name: "GUNICORN_BIND", value: `127.0.0.1:${o.port}` },
                { name: "GUNICORN_CMD_ARGS", value: "--reuse-port" },
                { name: "GUNICORN_WORKERS", value: String(o.workers ?? 4) },
                { name: "GUNICORN_THREADS", value: "8" },
                { name: "LINEAGE_DB_POOL_SIZE", value: String(o.poolSize) },
                { name: "LINEAGE_DB_MAX_OVERFLOW", value: String(o.maxOverflow) },
                { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: o.secret, key: "url" } } },
              ],
              // Ready once the master has forked its workers (it binds the port before forking). Not an HTTP probe:
              // with a shared port, another pod could answer it.
              readinessProbe: {
                exec: { command: ["sh", "-c", 'test "$(pgrep -c gunicorn)" -gt "$GUNICORN_WORKERS"'] },
                periodSeconds: 1,
                failureThreshold: 1,
              },
              resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "2", memory: "2Gi" } },
              ...(o.preStopSeconds
                ? { lifecycle: { preStop: { exec: { command: ["sleep", String(o.preStopSeconds)] } } } }
                : {}),
            },
          ],
        },
      },
    },
  };
}

/** The pool settings in the Deployment's template (the app's env names). */
export function poolOf(d: V1Deployment): { poolSize: number; maxOverflow: number } {
  const env = Object.fromEntries((d.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
  return { poolSize: Number(env.LINEAGE_DB_POOL_SIZE), maxOverflow: Number(env.LINEAGE_DB_MAX_OVERFLOW) };
}

export async function createAppSecret(c: Cluster, namespace: string, name: string, url: string): Promise<void> {
  await c.core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: { url } } });
}

/** Until every replica of the Deployment's current template is ready and the old ones are gone. */
/** The seed's app (Secret `lineage-db`, Deployment `lineage` at 2+3, managed against `lineage`), rolled out; its port. */
export async function deploySeedApp(c: Cluster, namespace: string, appUrl: string): Promise<number> {
  await createAppSecret(c, namespace, "lineage-db", appUrl);
  const port = await freePort();
  await c.apps.createNamespacedDeployment({
    namespace,
    body: appDeployment({
      name: "lineage",
      namespace,
      port,
      secret: "lineage-db",
      poolSize: 2,
      maxOverflow: 3,
      managedBy: "lineage",
    }),
  });
  await rolledOutOnNode(c, namespace, "lineage");
  return port;
}

export async function rolledOutOnNode(c: Cluster, namespace: string, name: string, timeoutMs = 120_000) {
  return eventually2(
    `${namespace}/${name} rolled out on the real node`,
    async () => {
      const d = await getDeployment(c, namespace, name);
      const st = d.status ?? {};
      const want = d.spec?.replicas ?? 1;
      const pods = await podsOf(c, namespace, name);
      return (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        (st.updatedReplicas ?? 0) === want &&
        (st.replicas ?? 0) === want &&
        (st.availableReplicas ?? 0) === want &&
        pods.length === want
        ? d
        : undefined;
    },
    timeoutMs,
  );
}

/** Rolled out, and every old pod gone (not only replaced: a lingering or slow pod still holds its pool). */
export async function settledOnNode(c: Cluster, namespace: string, name: string): Promise<void> {
  await rolledOutOnNode(c, namespace, name, 180_000);
  await eventually2(
    `no pod of ${namespace}/${name} terminating`,
    async () => ((await podsOf(c, namespace, name)).every((p) => !p.metadata?.deletionTimestamp) ? true : undefined),
    120_000,
  );
}

/** The controller's reconciles of `database` so far (pooltuner_reconciles_total): a test waits for it to move. */
export async function reconcileCount(ctl: RunningController | undefined, database: string): Promise<number> {
  const m = await ctl?.metrics.registry.getSingleMetric("pooltuner_reconciles_total")?.get();
  return (m?.values ?? []).filter((v) => v.labels.database === database).reduce((sum, v) => sum + v.value, 0);
}

/** Every pod of the app, terminating ones included. */
export async function podsOf(c: Cluster, namespace: string, app: string): Promise<V1Pod[]> {
  return (await c.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

/** The pool settings the app's processes serve, asked through the shared port until `processes` have answered. */
export async function poolsServed(port: number, processes: number): Promise<string[]> {
  const byPid = new Map<number, string>();
  for (let i = 0; i < 400 && byPid.size < processes; i++) {
    const r = await get(`http://127.0.0.1:${port}/pool`, new Agent({ keepAlive: false }), 5_000);
    if (r.status !== 200) continue;
    const p = JSON.parse(r.body) as { pid: number; pool_size: number; max_overflow: number };
    byPid.set(p.pid, `${p.pool_size}+${p.max_overflow}`);
  }
  return [...new Set(byPid.values())].sort();
}

/** Threads_connected read every 100 ms over one root connection opened before any storm. */
export class ConnectionSampler {
  readonly samples: { at: number; threads: number; app: number }[] = [];
  private timer?: NodeJS.Timeout;
  private conn?: mysql.Connection;
  private busy = false;

  async start(rootUrl: string): Promise<void> {
    this.conn = await mysql.createConnection({ uri: rootUrl, connectTimeout: 5_000 });
    this.conn.on("error", () => {});
    this.timer = setInterval(() => void this.sample(), 100);
  }

  private async sample(): Promise<void> {
    if (this.busy || !this.conn) return;
    this.busy = true;
    try {
      const [rows] = await this.conn.query(
        "SELECT (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED') AS threads, (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'lineage') AS app",
      );
      const r = (rows as { threads: string; app: number }[])[0];
      if (r) this.samples.push({ at: Date.now(), threads: Number(r.threads), app: Number(r.app) });
    } catch {
      // a sample lost under load is a gap, not a failure
    } finally {
      this.busy = false;
    }
  }

  /** Largest sampled Threads_connected and the app account's connections within [from, to]. */
  max(from = 0, to = Number.POSITIVE_INFINITY): { threads: number; app: number; samples: number } {
    const w = this.samples.filter((s) => s.at >= from && s.at <= to);
    return {
      threads: Math.max(0, ...w.map((s) => s.threads)),
      app: Math.max(0, ...w.map((s) => s.app)),
      samples: w.length,
    };
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.conn?.end().catch(() => this.conn?.destroy());
  }
}

export interface LoadSummary {
  ok: number;
  tooManyConnections: number;
  otherErrors: number;
  seconds: number;
  okPerSecond: number;
  /** Epoch ms of the last response carrying error 1040 (undefined: none). */
  lastTooManyAt?: number;
}

const MAX_CLIENTS = 256;
const MAX_LOAD_MS = 180_000;

/**
 * A bounded load (loopback only, at most 256 clients, at most 3 minutes) that runs until stop() or its deadline.
 * Counts successes, errors 1040 (the app answers 503 with error_code 1040) with the time of the last one, and others.
 */
export function startLoad(url: string, concurrency: number, maxMs = MAX_LOAD_MS) {
  if (new URL(url).hostname !== "127.0.0.1") throw new Error(`refusing to load ${url}: loopback only`);
  // A new TCP connection per request: a kept-alive one stays with the Gunicorn worker that accepted it, so which
  // workers (and how many pools) serve the load would depend on how the first connections happened to land.
  const agent = new Agent({ keepAlive: false, maxSockets: Math.min(MAX_CLIENTS, concurrency) });
  const started = performance.now();
  const deadline = started + Math.min(maxMs, MAX_LOAD_MS);
  let stopped = false;
  const totals = { ok: 0, tooMany: 0, other: 0, lastTooManyAt: undefined as number | undefined };
  const client = async () => {
    while (!stopped && performance.now() < deadline) {
      const r = await get(url, agent, 30_000);
      if (r.status === 200) totals.ok++;
      else if (/"error_code":\s*1040\b/.test(r.body)) {
        totals.tooMany++;
        totals.lastTooManyAt = Date.now();
      } else totals.other++;
    }
  };
  const running = Promise.all(Array.from({ length: Math.min(MAX_CLIENTS, concurrency) }, client));
  return {
    totals,
    async stop(): Promise<LoadSummary> {
      stopped = true;
      await running;
      agent.destroy();
      const seconds = (performance.now() - started) / 1000;
      return {
        ok: totals.ok,
        tooManyConnections: totals.tooMany,
        otherErrors: totals.other,
        seconds: Math.round(seconds * 100) / 100,
        okPerSecond: Math.round(totals.ok / seconds),
        ...(totals.lastTooManyAt !== undefined ? { lastTooManyAt: totals.lastTooManyAt } : {}),
      };
    },
  };
}

/**
 * A load of fixed duration. Throughput counts the requests answered within the window over the window's length:
 * requests still in flight when it ends finish (and their errors count) but do not stretch the divisor, so two
 * windows of the same length compare alike.
 */
export async function runLoadFor(url: string, concurrency: number, ms: number): Promise<LoadSummary> {
  const started = performance.now();
  const load = startLoad(url, concurrency, ms);
  await new Promise((r) => setTimeout(r, ms));
  const okWithin = load.totals.ok;
  const seconds = (performance.now() - started) / 1000;
  const all = await load.stop();
  return {
    ...all,
    ok: okWithin,
    seconds: Math.round(seconds * 100) / 100,
    okPerSecond: Math.round(okWithin / seconds),
  };
}

export const show = (r: LoadSummary) =>
  `${r.ok} ok in ${r.seconds} s (${r.okPerSecond}/s), ${r.tooManyConnections} x 1040, ${r.otherErrors} other errors`;

export interface TransitionRow {
  readonly scenario: string;
  /** The planned peak (or the bound the test holds it to), worked out by hand in the test. */
  readonly plannedPeak: number;
  /** Largest count of the app account's connections the database showed. */
  readonly maxObserved: number;
  readonly errors1040: number;
  readonly durationMs: number;
}

/** For `npm run bench:transitions`: one JSON line per transition, when the bench asked for them. */
export function recordTransition(row: TransitionRow): void {
  const out = process.env.POOLTUNER_TRANSITIONS_OUT;
  if (out) appendFileSync(out, `${JSON.stringify(row)}\n`);
}
