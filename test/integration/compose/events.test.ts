// The event stream survives the Engine going away: a unix-socket proxy in front of the real test-bed daemon is
// closed (its connections dropped, new ones refused) and reopened, which is what a dockerd restart looks like to
// pooltuner, without restarting the daemon other suites share. After the gap the daemon reconnects, resyncs, and
// reacts to a scale-up through the new stream.
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { dockerClient } from "../../../src/docker/client.js";
import { ComposeDaemon } from "../../../src/docker/daemon.js";
import {
  captureLogger,
  cleanupRun,
  composeContainer,
  containerEnv,
  daemonOptions,
  eventually,
  newRun,
  startTestDatabase,
  type TestDatabase,
  testDocker,
} from "./support.js";

const docker = testDocker();
const run = newRun();
const project = `ev${run}`;
let database: TestDatabase;
let dir: string;
let proxyPath: string;
let server: Server | undefined;
const open = new Set<Socket>();

function startProxy(): Promise<void> {
  server = createServer((client) => {
    const upstream = connect(inject("dockerSocket"));
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => server?.listen(proxyPath, resolve));
}

function stopProxy(): Promise<void> {
  for (const s of open) s.destroy();
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

beforeAll(async () => {
  database = await startTestDatabase("compose-events", 20);
  dir = await mkdtemp(join(tmpdir(), "pooltuner-events-"));
  proxyPath = join(dir, "docker.sock");
  await startProxy();
});
afterAll(async () => {
  await stopProxy();
  await cleanupRun(docker, run);
  await database?.db.stop();
  await rm(dir, { recursive: true, force: true });
});

const app = (index: number) =>
  composeContainer(docker, {
    run,
    project,
    service: "app",
    index,
    labels: {
      "io.pooltuner.enabled": "true",
      "io.pooltuner.pool-size-env": "LINEAGE_DB_POOL_SIZE",
      "io.pooltuner.max-overflow-env": "LINEAGE_DB_MAX_OVERFLOW",
    },
    env: {
      GUNICORN_WORKERS: "4",
      LINEAGE_DB_POOL_SIZE: "1",
      LINEAGE_DB_MAX_OVERFLOW: "1",
      DATABASE_URL: database.appUrl,
    },
  });

it("reconnects the event stream after the Engine went away and still reacts to events", async () => {
  await app(1);
  await app(2);
  const log = captureLogger();
  // Database polls only report changes; resync is far away: after the gap only the new stream can bring the event.
  const daemon = new ComposeDaemon(
    daemonOptions(dockerClient(`unix://${proxyPath}`), database, log.logger, {
      projects: [project],
      resyncIntervalMs: 3_600_000,
    }),
  );
  const stop = new AbortController();
  const running = daemon.run(stop.signal);
  try {
    await eventually("the first reconcile", 10_000, async () => (daemon.reports.length > 0 ? true : undefined));
    expect(daemon.reports.flatMap((r) => r.applied)).toEqual([]);

    await stopProxy();
    await eventually("the lost stream to be noticed", 10_000, async () =>
      log.text().includes("Docker event stream lost") ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 2_000)); // refused reconnects back off meanwhile
    await startProxy();
    await eventually("the stream to come back", 40_000, async () =>
      log.text().includes("Docker event stream reconnected; resyncing") ? true : undefined,
    );

    await app(3);
    await eventually("the scale-up to lower the values", 60_000, async () => {
      const pools = await Promise.all(
        [1, 2, 3].map(async (i) => {
          const env = await containerEnv(docker, `${project}-app-${i}`);
          return `${env.get("LINEAGE_DB_POOL_SIZE")}+${env.get("LINEAGE_DB_MAX_OVERFLOW")}`;
        }),
      );
      return pools.every((p) => p === "1+0") ? true : undefined;
    });
  } finally {
    stop.abort();
    await running;
  }
});
