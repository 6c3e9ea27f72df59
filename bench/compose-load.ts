// The seed incident as a measurement: the example app (N replicas x W Gunicorn workers at pool 2 + overflow 3)
// against a private MariaDB with a small max_connections, loaded before and after `pooltuner compose` applies its
// plan. Prints both runs: successful requests per second, error 1040 count, latency. Needs the Docker test bed
// (scripts/testbed/docker.sh ensure) and MariaDB binaries; everything stays on loopback and is removed at the end.
//
//   npx tsx bench/compose-load.ts [--replicas 2] [--workers 4] [--max-connections 20] [--concurrency 64] [--seconds 8]
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { parseArgs, promisify } from "node:util";
import Docker from "dockerode";
import { pino } from "pino";
import { DEFAULT_DAMPING, DEFAULT_POLICY } from "../src/core/index.js";
import { ComposeDaemon } from "../src/docker/daemon.js";
import { Metrics } from "../src/runtime/metrics.js";
import { buildAppImage, freePort, startAppReplica, waitHealthy } from "../test/integration/compose/app.js";
import { startMariaDb } from "../test/support/mariadb.js";
import { describeSpread, type LoadResult, runLoad } from "./http-load.js";

const { values: args } = parseArgs({
  options: {
    replicas: { type: "string", default: "2" },
    workers: { type: "string", default: "4" },
    "max-connections": { type: "string", default: "20" },
    concurrency: { type: "string", default: "64" },
    seconds: { type: "string", default: "8" },
  },
});
const replicas = Number(args.replicas);
const workers = Number(args.workers);
const maxConnections = Number(args["max-connections"]);
const load = { concurrency: Number(args.concurrency), durationMs: Number(args.seconds) * 1000 };

const socket = (
  await promisify(execFile)("bash", ["scripts/testbed/docker.sh", "ensure"], { maxBuffer: 1 << 26 })
).stdout
  .trim()
  .split("\n")
  .pop() as string;
const docker = new Docker({ socketPath: socket });
const project = `bench${randomBytes(3).toString("hex")}`;
const db = await startMariaDb({ label: "compose-bench", maxConnections });
const appPassword = randomBytes(8).toString("hex");
const monitorPassword = randomBytes(8).toString("hex");

const row = (label: string, r: LoadResult) =>
  `${label.padEnd(34)} ${String(r.okPerSecond).padStart(6)} ok/s ${String(r.tooManyConnections).padStart(7)} x 1040 ${String(r.otherErrors).padStart(5)} other   p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  (${describeSpread(r)})`;

try {
  await db.query("CREATE DATABASE lineage");
  await db.query(`CREATE USER 'lineage'@'%' IDENTIFIED BY '${appPassword}'`);
  await db.query("GRANT ALL ON lineage.* TO 'lineage'@'%'");
  await db.query(`CREATE USER 'monitor'@'%' IDENTIFIED BY '${monitorPassword}'`);
  await db.query("GRANT PROCESS ON *.* TO 'monitor'@'%'");
  const image = await buildAppImage(docker);
  const urls: string[] = [];
  const ids: string[] = [];
  for (let i = 1; i <= replicas; i++) {
    const port = await freePort();
    const c = await startAppReplica(docker, {
      image,
      project,
      index: i,
      port,
      databaseUrl: `mysql+pymysql://lineage:${appPassword}@127.0.0.1:${db.port}/lineage`,
      poolSize: 2,
      maxOverflow: 3,
      workers,
      labels: {
        "io.pooltuner.enabled": "true",
        "io.pooltuner.pool-size-env": "LINEAGE_DB_POOL_SIZE",
        "io.pooltuner.max-overflow-env": "LINEAGE_DB_MAX_OVERFLOW",
        "io.pooltuner.workers-env": "GUNICORN_WORKERS",
      },
    });
    ids.push(c.id);
    urls.push(`http://127.0.0.1:${port}/work`);
  }
  await waitHealthy(docker, ids);
  console.log(
    `${replicas} replicas x ${workers} workers x (2 + 3) = ${replicas * workers * 5} possible connections, max_connections ${maxConnections}; ` +
      `${load.concurrency} clients for ${args.seconds} s per run`,
  );
  const before = await runLoad({ urls, ...load });
  console.log(row("seed settings (2 + 3)", before));

  const daemon = new ComposeDaemon({
    docker,
    databases: [{ name: "default", url: `mysql://monitor:${monitorPassword}@127.0.0.1:${db.port}/` }],
    policy: DEFAULT_POLICY,
    damping: DEFAULT_DAMPING,
    dryRun: false,
    projects: [project],
    pollIntervalMs: 15_000,
    resyncIntervalMs: 300_000,
    unmanagedWindowMs: 0,
    recreate: { settleMs: 2_000, startTimeoutMs: 60_000 },
    failureBackoffMs: 900_000,
    logger: pino({ level: "warn" }),
    metrics: new Metrics(),
  });
  const t0 = performance.now();
  const [report] = await daemon.once();
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const rec = report?.plan?.workloads[0]?.recommended;
  const label = `pooltuner (${rec?.poolSize} + ${rec?.maxOverflow})`;
  console.log(
    `pooltuner applied ${rec?.poolSize} + ${rec?.maxOverflow} per process (peak ${rec?.peak}, usable ${report?.plan?.databases[0]?.usable}) ` +
      `by recreating ${report?.applied[0]?.containers.length ?? 0} containers in ${seconds} s`,
  );
  const after = await runLoad({ urls, ...load });
  console.log(row(label, after));
} finally {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`] },
  });
  for (const c of list) await docker.getContainer(c.Id).remove({ force: true });
  await db.stop();
}
