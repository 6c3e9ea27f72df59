// The seed incident on PostgreSQL (issue 11): the Django example (examples/django: Django 3.2 + psycopg2 under
// Gunicorn gthread, CONN_MAX_AGE = 60, so every thread keeps a connection) in two containers, 4 workers x 8 threads
// each, against a private PostgreSQL 15 with max_connections = 20 (3 reserved for superusers). Under 64 concurrent
// clients the app's threads want 64 connections: SQLSTATE 53300. pooltuner compose recreates the replicas with its
// plan (GUNICORN_THREADS); the same load then has no 53300 at all.
//
// The monitor is an ordinary role (pg_monitor): on a full PostgreSQL 15 it gets 53300 too, since the reserved slots
// are for superusers only. So, as in a real deployment that ran before the incident, a first pass (dry run) reads the
// limits before the load and keeps them (src/runtime/last-known.ts); the pass after the load may find the server
// still full (the threads keep their connections for CONN_MAX_AGE) and plans its decrease from them.

import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeSpread, type LoadResult, runLoad } from "../../../bench/http-load.js";
import { DEFAULT_DAMPING, DEFAULT_POLICY } from "../../../src/core/index.js";
import { ComposeDaemon, type ComposeDaemonOptions } from "../../../src/docker/daemon.js";
import { Metrics } from "../../../src/runtime/metrics.js";
import { BASE_DJANGO_IMAGE } from "../../support/docker.js";
import { type PostgresServer, startPostgres } from "../../support/postgres.js";
import { buildExampleImage, freePort, waitHealthy } from "./app.js";
import {
  captureLogger,
  cleanupRun,
  containerEnv,
  newRun,
  projectContainers,
  RUN_LABEL,
  testDocker,
} from "./support.js";

const DJANGO_BASE = BASE_DJANGO_IMAGE;
const EXAMPLE_DIR = new URL("../../../examples/django/", import.meta.url).pathname;
const MAX_CONNECTIONS = 20;
const SUPERUSER_RESERVED = 3;
const REPLICAS = 2;
const WORKERS = 4;
const SEED_THREADS = 8;
const LOAD = { concurrency: 64, durationMs: 8_000, serverFullCode: "53300" };

const docker = testDocker();
const run = newRun();
const project = `dj${run}`;
let server: PostgresServer;
let monitorUrl: string;
let stateDir: string;
let urls: string[];

beforeAll(async () => {
  server = await startPostgres({
    label: "compose-django",
    maxConnections: MAX_CONNECTIONS,
    superuserReservedConnections: SUPERUSER_RESERVED,
  });
  const appPassword = randomBytes(8).toString("hex");
  const monitorPassword = randomBytes(8).toString("hex");
  // The test's one superuser session (server.query keeps it) stays open throughout: another client, counted below.
  await server.query(`CREATE ROLE djapp LOGIN PASSWORD '${appPassword}'`);
  await server.query("CREATE DATABASE djapp OWNER djapp");
  await server.query(`CREATE ROLE monitor LOGIN PASSWORD '${monitorPassword}'`);
  await server.query("GRANT pg_monitor TO monitor");
  monitorUrl = `postgres://monitor:${monitorPassword}@127.0.0.1:${server.port}/postgres`;
  stateDir = await mkdtemp(join(tmpdir(), "pooltuner-django-"));

  const image = await buildExampleImage(docker, {
    dir: EXAMPLE_DIR,
    files: ["app.py", "gunicorn.conf.py"],
    base: DJANGO_BASE,
    repository: "pooltuner-test/django",
    cmd: ["gunicorn", "-c", "gunicorn.conf.py", "app:application"],
  });
  const ports: number[] = [];
  const ids: string[] = [];
  for (let i = 1; i <= REPLICAS; i++) {
    const port = await freePort();
    ports.push(port);
    const c = await startDjangoReplica(docker, {
      image,
      index: i,
      port,
      databaseUrl: `postgres://djapp:${appPassword}@127.0.0.1:${server.port}/djapp`,
    });
    ids.push(c.id);
  }
  await waitHealthy(docker, ids);
  urls = ports.map((p) => `http://127.0.0.1:${p}/work`);
});

afterAll(async () => {
  await cleanupRun(docker, run);
  await server?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** One replica of the app service as compose names and labels it, on host networking (postgres is on loopback). */
async function startDjangoReplica(
  d: Docker,
  spec: { image: string; index: number; port: number; databaseUrl: string },
): Promise<Docker.Container> {
  const c = await d.createContainer({
    name: `${project}-app-${spec.index}`,
    Image: spec.image,
    Env: [
      `GUNICORN_BIND=127.0.0.1:${spec.port}`,
      `GUNICORN_WORKERS=${WORKERS}`,
      `GUNICORN_THREADS=${SEED_THREADS}`,
      "CONN_MAX_AGE=60",
      `DATABASE_URL=${spec.databaseUrl}`,
    ],
    Labels: {
      [RUN_LABEL]: run,
      "com.docker.compose.project": project,
      "com.docker.compose.service": "app",
      "com.docker.compose.container-number": String(spec.index),
      "com.docker.compose.oneoff": "False",
      "io.pooltuner.enabled": "true",
      "io.pooltuner.database": "django",
      "io.pooltuner.profile": "django",
      "io.pooltuner.workers-env": "GUNICORN_WORKERS",
    },
    Healthcheck: {
      Test: ["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${spec.port}/healthz`],
      Interval: 1e9,
      Timeout: 2e9,
      Retries: 30,
    },
    StopTimeout: 10,
    HostConfig: { NetworkMode: "host", RestartPolicy: { Name: "unless-stopped", MaximumRetryCount: 0 } },
  });
  await c.start();
  return c;
}

function daemon(dryRun: boolean, logger = captureLogger().logger): ComposeDaemon {
  const options: ComposeDaemonOptions = {
    docker,
    databases: [{ name: "django", url: monitorUrl }],
    policy: DEFAULT_POLICY,
    damping: { ...DEFAULT_DAMPING, cooldownMs: 0 },
    dryRun,
    projects: [project],
    pollIntervalMs: 500,
    resyncIntervalMs: 60_000,
    unmanagedWindowMs: 0,
    recreate: { settleMs: 1_000, startTimeoutMs: 60_000 },
    failureBackoffMs: 60_000,
    lastKnownFile: join(stateDir, "last-known.json"),
    logger,
    metrics: new Metrics(),
  };
  return new ComposeDaemon(options);
}

async function threadsServed(): Promise<number[]> {
  const out: number[] = [];
  for (const u of urls)
    out.push(((await (await fetch(u.replace("/work", "/pool"))).json()) as { threads: number }).threads);
  return out;
}

/** The most sessions of the app's role PostgreSQL had at once while `during` ran (sampled every 100 ms). */
async function mostAppSessions(during: Promise<LoadResult>): Promise<{ load: LoadResult; most: number }> {
  let most = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const [row] = await server.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = 'djapp'",
      );
      most = Math.max(most, Number(row?.n));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const load = await during.finally(() => {
    done = true;
  });
  await sampling;
  return { load, most };
}

const show = (r: LoadResult) =>
  `${r.requests} requests in ${r.seconds} s: ${r.ok} ok (${r.okPerSecond}/s), ${r.tooManyConnections} x 53300, ${r.otherErrors} other errors, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms; ${describeSpread(r)}` +
  (r.otherSamples.length > 0 ? `; first other errors: ${r.otherSamples.map((s) => JSON.stringify(s)).join(", ")}` : "");

it("the Django seed (2 x 4 workers x 8 threads, CONN_MAX_AGE 60) gets 53300 under load; after pooltuner none", async () => {
  expect(await threadsServed()).toEqual([SEED_THREADS, SEED_THREADS]);

  // The daemon that was running before the incident: it reads and keeps the limits, and changes nothing (dry run).
  const [first] = await daemon(true).once();
  expect(first?.outcome).toBe("planned");
  expect(first?.applied).toEqual([{ workload: `compose:${project}/app`, change: "dry-run decrease", containers: [] }]);
  const kept = JSON.parse(await readFile(join(stateDir, "last-known.json"), "utf8")) as {
    databases: Record<string, { maxConnections: number; usable: number }>;
  };
  // The limit pooltuner plans against is what ordinary roles get: the superusers' slots are never planned into.
  expect(kept.databases.django?.maxConnections).toBe(MAX_CONNECTIONS - SUPERUSER_RESERVED);
  console.log(
    `[compose-django] first pass (dry run): usable ${first?.plan?.databases[0]?.usable} of max_connections ${MAX_CONNECTIONS}, kept in last-known.json`,
  );

  const before = await runLoad({ urls, ...LOAD });
  console.log(
    `[compose-django] seed ${REPLICAS} x ${WORKERS} workers x ${SEED_THREADS} threads vs max_connections ${MAX_CONNECTIONS}: ${show(before)}`,
  );
  expect(before.tooManyConnections, `seed: ${show(before)}`).toBeGreaterThan(0);

  const captured = captureLogger();
  const [report] = await daemon(false, captured.logger).once();
  console.log(
    `[compose-django] pooltuner: ${report?.lastKnown ? `server full, planned from the last known limits (usable ${report.lastKnown.usable})` : "probe answered"}; applied ${JSON.stringify(report?.applied)}`,
  );
  expect(report?.failed).toEqual([]);
  expect(report?.applied).toEqual([
    { workload: `compose:${project}/app`, change: "decrease", containers: [`${project}-app-1`, `${project}-app-2`] },
  ]);

  // The plan, checked by hand (DESIGN §3), not against pooltuner's numbers: PostgreSQL admits ordinary roles to
  // max_connections − superuser_reserved_connections; the policy's reserve is max(2, ceil(5 % of the limit)); the
  // other clients are the test's one superuser session. Peak: containers × workers × threads (stop-first, no surge).
  const usable = MAX_CONNECTIONS - SUPERUSER_RESERVED - Math.max(2, Math.ceil((5 * MAX_CONNECTIONS) / 100)) - 1;
  const containers = (await projectContainers(docker, project)).map((c) => c.name);
  expect(containers).toEqual([`${project}-app-1`, `${project}-app-2`]);
  let peak = 0;
  const threads: number[] = [];
  for (const name of containers) {
    const env = await containerEnv(docker, name);
    threads.push(Number(env.get("GUNICORN_THREADS")));
    peak += Number(env.get("GUNICORN_WORKERS")) * Number(env.get("GUNICORN_THREADS"));
  }
  console.log(`[compose-django] after: GUNICORN_THREADS ${threads.join(", ")}: peak ${peak} of usable ${usable}`);
  expect(threads.every((t) => t >= 1 && t < SEED_THREADS)).toBe(true);
  expect(peak).toBeLessThanOrEqual(usable);
  // The running processes serve the new value (the recreate waited for the healthcheck).
  expect(await threadsServed()).toEqual(threads);

  const { load: after, most } = await mostAppSessions(runLoad({ urls, ...LOAD }));
  console.log(`[compose-django] after pooltuner: ${show(after)}; the app's sessions at most ${most}`);
  expect(after.tooManyConnections, `after: ${show(after)}`).toBe(0);
  expect(after.ok, `after: ${show(after)}`).toBeGreaterThan(0);
  expect(most).toBeLessThanOrEqual(peak);
});
