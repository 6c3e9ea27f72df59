// One controller, two engines, three application profiles (issue 11): on a private MariaDB the seed's SQLAlchemy app
// and a Spring Boot (hikari) app; on a private PostgreSQL 15 another SQLAlchemy app and a Rails app. All start far
// above what their server takes; one run plans and patches each against its own server's limits.
//
// Worked out by hand (the test's own admin connection is the one other client on each server; reserve
// max(2, 5 %); 2 CPU / 2 GiB containers pick the seed's small row: 1+2 per process, 2 workers × 3 = 6 per JVM):
//   MariaDB  max_connections 80: usable 80 − 4 − 1 = 75
//     shop   (sqlalchemy) 2 replicas + 1 surge = 3 pods × 4 workers × (1+2) = 36
//     spring (hikari)     3 pods × 1 JVM × 6                                = 18   → 54 fits: the table's caps
//   Postgres max_connections 30, superuser_reserved_connections 3: usable 27 − 2 − 1 = 24
//     blog   (sqlalchemy) 3 pods × 4 workers = 12 processes
//     rails  (rails)      3 pods × 2 Puma workers (WEB_CONCURRENCY) = 6 processes
//     18 processes at 1 each = 18; the 6 left give +1 only to rails (6 processes), not to blog (12): blog 1+0,
//     rails 2 threads; 12 + 12 = 24.
import { randomBytes } from "node:crypto";
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import { type PostgresServer, startPostgres } from "../../support/postgres.js";
import {
  type AppSpec,
  type Cluster,
  cluster,
  createApp,
  createNamespace,
  type Database,
  database,
  eventually2,
  getDeployment,
  poolOf,
  rolledOut,
  runController,
  seedApp,
  statusOf,
} from "./harness.js";

let c: Cluster;
let mysqlDb: Database;
let pgDb: PostgresServer;
let pgMonitorUrl: string;
let ns: string;
let controller: RunningController;
const HIKARI_MAX = "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE";
const HIKARI_IDLE = "SPRING_DATASOURCE_HIKARI_MINIMUMIDLE";

beforeAll(async () => {
  c = await cluster();
  mysqlDb = await database("ctl-mixed", 80);
  await mysqlDb.db.query("SELECT 1"); // the test's admin connection: open now, as the arithmetic above counts it
  pgDb = await startPostgres({ label: "ctl-mixed", maxConnections: 30, superuserReservedConnections: 3 });
  const password = randomBytes(8).toString("hex");
  await pgDb.query(`CREATE ROLE monitor LOGIN PASSWORD '${password}'`);
  await pgDb.query("GRANT pg_monitor TO monitor");
  pgMonitorUrl = `postgres://monitor:${password}@${pgDb.host}:${pgDb.port}/postgres`;
  ns = await createNamespace(c, "mixed");
  await createApp(c, seedApp("shop", ns, "orders"));
  await createApp(c, seedApp("blog", ns, "posts"));
  await createApp(c, profiled("spring", "orders", "hikari", { [HIKARI_MAX]: "20", [HIKARI_IDLE]: "20" }));
  await createApp(c, profiled("rails", "posts", "rails", { WEB_CONCURRENCY: "2", RAILS_MAX_THREADS: "5" }));
  controller = await runController(c, {
    databases: [
      { name: "orders", url: mysqlDb.monitorUrl },
      { name: "posts", url: pgMonitorUrl },
    ],
    namespaces: [ns],
  });
});

/** A workload of `profile`: only the keys a non-SQLAlchemy app needs (no pool or Gunicorn env names). */
function profiled(name: string, databaseName: string, profile: string, env: Record<string, string>): AppSpec {
  return {
    name,
    namespace: ns,
    replicas: 2,
    annotations: {
      "pooltuner.io/enabled": "true",
      "pooltuner.io/database": databaseName,
      "pooltuner.io/account": "app",
      "pooltuner.io/profile": profile,
    },
    env: Object.entries(env).map(([k, value]) => ({ name: k, value })),
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    limits: { cpu: "2", memory: "2Gi" },
  };
}

const envOf = (d: V1Deployment) =>
  Object.fromEntries((d.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));

/** Applied (status not pending) and rolled out: what the controller chose for `name`. */
async function rolledOutWith(name: string): Promise<V1Deployment> {
  await eventually2(`${ns}/${name} applied`, async () => {
    const s = statusOf(await getDeployment(c, ns, name)) as { pending?: boolean; applied?: unknown } | undefined;
    return s?.pending === false && s.applied ? true : undefined;
  });
  return rolledOut(c, ns, name);
}

afterAll(async () => {
  await controller?.stop();
  await mysqlDb?.db.stop();
  await pgDb?.stop();
});

describe("a MySQL and a PostgreSQL database in one controller, three profiles", () => {
  it("plans and patches each workload against its own server, each profile writing its own env", async () => {
    const names = ["shop", "spring", "blog", "rails"];
    const [shop, spring, blog, rails] = (await Promise.all(names.map((n) => rolledOutWith(n)))) as [
      V1Deployment,
      V1Deployment,
      V1Deployment,
      V1Deployment,
    ];
    expect(poolOf(shop)).toEqual({ poolSize: 1, maxOverflow: 2 });
    expect(envOf(spring)).toMatchObject({ [HIKARI_MAX]: "6", [HIKARI_IDLE]: "6" });
    expect(poolOf(blog)).toEqual({ poolSize: 1, maxOverflow: 0 });
    expect(envOf(rails)).toMatchObject({ RAILS_MAX_THREADS: "2", WEB_CONCURRENCY: "2" });
    // Nothing of either URL's password in what the controller wrote.
    const written = JSON.stringify([shop, spring, blog, rails].map((d) => d.metadata?.annotations));
    expect(written).not.toContain(new URL(pgMonitorUrl).password);
    expect(written).not.toContain(new URL(mysqlDb.monitorUrl).password);
  });
});
