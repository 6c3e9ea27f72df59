// One `pooltuner plan` over a MySQL and a PostgreSQL database at once (issue 11, "Proof": a mixed cluster in one run):
// the seed's compose file on a private MariaDB (max_connections 30) and a PostgreSQL app on the suite's PostgreSQL 15
// (max_connections 20, 3 reserved). Each database is read by its own driver, chosen by the URL's scheme; each
// workload's role comes from its own URL. Expected numbers are worked out here from the settings.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Plan } from "../../../src/core/index.js";
import { type MariaDb, startMariaDb } from "../../support/mariadb.js";
import { connectSuper } from "../../support/postgres.js";
import { runCli } from "../cli/run-cli.js";

const pgServer = inject("postgres");
const secret = () => `pw-${randomBytes(8).toString("hex")}`;
const pgMonitor = { name: "pt_mixed_monitor", password: secret() };
const myMonitor = { user: "pt_mixed_monitor", password: secret() };
const LINEAGE = "examples/lineage/docker-compose.yml"; // 2 x 4 x (2 + 3), user lineage in LINEAGE_DB_URL

let maria: MariaDb;
let su: Awaited<ReturnType<typeof connectSuper>>;
let dir: string;
let shopCompose: string;

beforeAll(async () => {
  maria = await startMariaDb({ label: "mixed", maxConnections: 30 });
  await maria.query(`CREATE USER '${myMonitor.user}'@'%' IDENTIFIED BY '${myMonitor.password}'`);
  await maria.query(`GRANT PROCESS ON *.* TO '${myMonitor.user}'@'%'`);
  su = await connectSuper(pgServer.superUrl);
  await su.query(`DROP ROLE IF EXISTS ${pgMonitor.name}`);
  await su.query(`CREATE ROLE ${pgMonitor.name} LOGIN PASSWORD '${pgMonitor.password}' IN ROLE pg_monitor`);
  dir = await mkdtemp(join(tmpdir(), "pooltuner-mixed-"));
  shopCompose = join(dir, "docker-compose.yml");
  // 3 containers x 2 workers x (1 + 4)
  await writeFile(
    shopCompose,
    [
      "name: shop",
      "services:",
      "  api:",
      "    image: shop:latest",
      "    environment:",
      "      DATABASE_URL: postgresql+psycopg2://shop_app:app-secret-value@pg:5432/shop",
      '      SHOP_DB_POOL_SIZE: "1"',
      '      SHOP_DB_MAX_OVERFLOW: "4"',
      '      WEB_CONCURRENCY: "2"',
      "    deploy:",
      "      replicas: 3",
      "    labels:",
      '      io.pooltuner.enabled: "true"',
      "      io.pooltuner.database: shop",
      "      io.pooltuner.pool-size-env: SHOP_DB_POOL_SIZE",
      "      io.pooltuner.max-overflow-env: SHOP_DB_MAX_OVERFLOW",
      "      io.pooltuner.workers-env: WEB_CONCURRENCY",
      "",
    ].join("\n"),
  );
}, 120_000);

afterAll(async () => {
  await su?.query(`DROP ROLE IF EXISTS ${pgMonitor.name}`);
  await su?.close();
  await maria?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a MySQL and a PostgreSQL database in one plan", { timeout: 60_000 }, () => {
  it("each read by its own driver, each workload's account from its own URL", async () => {
    const r = await runCli([
      "plan",
      LINEAGE,
      shopCompose,
      "--mysql-url",
      `lineage=mysql://${myMonitor.user}:${myMonitor.password}@${maria.host}:${maria.port}/`,
      "--postgres-url",
      `shop=postgres://${pgMonitor.name}:${pgMonitor.password}@${pgServer.host}:${pgServer.port}/postgres`,
      "-o",
      "json",
    ]);
    const text = `${r.stdout}${r.stderr}`;
    expect(text).not.toContain(myMonitor.password);
    expect(text).not.toContain(pgMonitor.password);
    expect(text).not.toContain("app-secret-value");
    const out = JSON.parse(r.stdout) as {
      plan: Plan;
      inputs: { databases: { name: string; origin: { target?: string; version?: string } }[] };
    };
    const db = (name: string) => out.plan.databases.find((d) => d.name === name);
    // MariaDB: max_connections as set (its SUPER slot is above it); PostgreSQL: less its 3 reserved slots.
    expect(db("lineage")?.limit).toBe(30);
    expect(db("shop")?.limit).toBe(pgServer.maxConnections - pgServer.superuserReservedConnections);
    const origin = (name: string) => out.inputs.databases.find((d) => d.name === name)?.origin;
    expect(origin("lineage")?.version).toMatch(/MariaDB/);
    expect(origin("shop")?.version).toMatch(/^PostgreSQL 15/);
    const w = (id: string) => out.plan.workloads.find((x) => x.id === id);
    expect(w("compose:lineage/app")).toMatchObject({ database: "lineage", account: "lineage", processes: 8 });
    expect(w("compose:shop/api")).toMatchObject({
      database: "shop",
      account: "shop_app",
      catalog: "shop",
      processes: 6,
    });
    expect(r.code).toBe(0);
  });
});
