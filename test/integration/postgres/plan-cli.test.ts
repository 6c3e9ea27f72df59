// `pooltuner plan/check --postgres-url` against the suite's real PostgreSQL 15, the CLI spawned as a process, on a
// compose file whose app finds its database in a SQLAlchemy DATABASE_URL (postgresql+psycopg2://). Expected numbers
// are worked out here from the server's settings and the connections this test opened.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { Plan } from "../../../src/core/index.js";
import { connectSuper, untilOnlySuperuser } from "../../support/postgres.js";
import { runCli } from "../cli/run-cli.js";

const server = inject("postgres");
const secret = () => `pw-${randomBytes(8).toString("hex")}`;
const shop = { name: "pt_shop", password: secret() }; // the app's role, named in its DATABASE_URL
const monitor = { name: "pt_cli_monitor", password: secret() }; // pg_monitor
const other = { name: "pt_cli_other", password: secret() };
const ROLES = [shop, monitor, other];

let su: Awaited<ReturnType<typeof connectSuper>>;
let dir: string;
let compose: string;
const held: pg.Client[] = [];

const urlFor = (r: { name: string; password: string }, password = r.password) =>
  `postgres://${r.name}:${encodeURIComponent(password)}@${server.host}:${server.port}/postgres`;

async function hold(r: { name: string; password: string }, n: number, database = "postgres"): Promise<void> {
  for (let i = 0; i < n; i++) {
    const c = new pg.Client({
      host: server.host,
      port: server.port,
      user: r.name,
      password: r.password,
      database,
    });
    c.on("error", () => {});
    await c.connect();
    held.push(c);
  }
}

interface JsonReport {
  plan: Plan;
  inputs: {
    databases: { origin: { kind: string; visibility?: string; connectionsByUser?: Record<string, number> } }[];
  };
}

async function json(args: string[]): Promise<{ code: number; out: JsonReport; text: string }> {
  const r = await runCli([...args, "-o", "json"]);
  return { code: r.code, out: JSON.parse(r.stdout) as JsonReport, text: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  su = await connectSuper(server.superUrl);
  for (const r of ROLES) {
    await su.query(`DROP ROLE IF EXISTS ${r.name}`);
    await su.query(`CREATE ROLE ${r.name} LOGIN PASSWORD '${r.password}'`);
  }
  await su.query(`GRANT pg_monitor TO ${monitor.name}`);
  dir = await mkdtemp(join(tmpdir(), "pooltuner-pg-cli-"));
  compose = join(dir, "docker-compose.yml");
  // 2 containers x 4 workers x (2 + 3): 40 connections at peak.
  await writeFile(
    compose,
    [
      "name: shop",
      "services:",
      "  web:",
      "    image: shop:latest",
      "    environment:",
      `      DATABASE_URL: postgresql+psycopg2://${shop.name}:app-secret-value@db:5432/shop`,
      '      SHOP_DB_POOL_SIZE: "2"',
      '      SHOP_DB_MAX_OVERFLOW: "3"',
      '      GUNICORN_WORKERS: "4"',
      "    deploy:",
      "      replicas: 2",
      "    labels:",
      '      io.pooltuner.enabled: "true"',
      "      io.pooltuner.database: shop",
      "      io.pooltuner.pool-size-env: SHOP_DB_POOL_SIZE",
      "      io.pooltuner.max-overflow-env: SHOP_DB_MAX_OVERFLOW",
      "      io.pooltuner.workers-env: GUNICORN_WORKERS",
      "",
    ].join("\n"),
  );
});

afterEach(async () => {
  await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})));
  await su.query(`ALTER ROLE ${shop.name} CONNECTION LIMIT -1`);
  await untilOnlySuperuser(su);
});

afterAll(async () => {
  for (const r of ROLES) await su.query(`DROP ROLE IF EXISTS ${r.name}`);
  await su.close();
  await rm(dir, { recursive: true, force: true });
});

describe("pooltuner with --postgres-url", { timeout: 60_000 }, () => {
  it("plans into the ordinary slots, counts other roles' sessions, not the app's own (its role from DATABASE_URL)", async () => {
    await hold(other, 3);
    await hold(shop, 2); // the workload's own connections: not other clients'
    const r = await json(["check", compose, "--postgres-url", urlFor(monitor)]);
    expect(r.code).toBe(1); // 40 can exceed
    const limit = server.maxConnections - server.superuserReservedConnections; // 17
    const unmanaged = 3 + 1; // pt_cli_other's three and the test's superuser session
    const reserve = Math.max(2, Math.ceil(0.05 * limit)); // the default reserve 2,5%
    const db = r.out.plan.databases[0];
    expect(db).toMatchObject({ name: "shop", limit, reserve, unmanaged, unmanagedAssumed: false });
    expect(r.out.plan.workloads[0]?.account).toBe(shop.name);
    expect(r.out.inputs.databases[0]?.origin).toMatchObject({ kind: "probe", visibility: "pg_stat_activity" });
    expect(r.out.inputs.databases[0]?.origin.connectionsByUser).toMatchObject({ [shop.name]: 2, [other.name]: 3 });
    // 8 processes into 17 - 2 - 4 = 11: 1 each (8) fits, 2 each (16) does not.
    expect(r.out.plan.workloads[0]?.recommended).toMatchObject({ cap: 1, peak: 8 });
    expect(r.text).not.toContain(monitor.password);
    expect(r.text).not.toContain("app-secret-value");
  });

  it("plans within the role's CONNECTION LIMIT", async () => {
    await su.query(`ALTER ROLE ${shop.name} CONNECTION LIMIT 6`);
    const r = await json(["plan", compose, "--postgres-url", `shop=${urlFor(monitor)}`]);
    expect(r.code).toBe(1); // 8 processes cannot get 1 each from 6
    expect(r.out.plan.findings).toContainEqual(
      expect.objectContaining({
        kind: "infeasible",
        scope: { kind: "account", account: shop.name },
        needed: 8,
        available: 6,
        missing: 2,
      }),
    );
  });

  it("plans within the database's CONNECTION LIMIT (the app's URL names it), whatever the role", async () => {
    await su.query("DROP DATABASE IF EXISTS shop");
    await su.query("CREATE DATABASE shop CONNECTION LIMIT 10");
    try {
      await hold(other, 3, "shop"); // another role's sessions in the same database count against its limit
      const r = await json(["plan", compose, "--postgres-url", urlFor(monitor)]);
      expect(r.code).toBe(1); // 8 processes, 10 - 3 = 7 left in shop
      expect(r.out.plan.workloads[0]?.catalog).toBe("shop");
      expect(r.out.plan.findings).toContainEqual(
        expect.objectContaining({
          kind: "infeasible",
          scope: { kind: "catalog", catalog: "shop" },
          needed: 8,
          available: 7,
          missing: 1,
        }),
      );

      await su.query("ALTER DATABASE shop CONNECTION LIMIT 20");
      const ok = await runCli(["plan", compose, "--postgres-url", urlFor(monitor)]);
      expect(ok.code).toBe(0);
      // limit 20, other clients 3, usable 17, allocated 8 x 1 (the server's 17 - 2 - 4 = 11 binds first)
      expect(ok.stdout).toMatch(/^ {2}database shop\s+CONNECTION LIMIT\s+20\s+-\s+3\s+17\s+8\s+9$/m);
    } finally {
      await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})));
      await su.query("DROP DATABASE IF EXISTS shop WITH (FORCE)");
    }
  });

  it("the same URL through --mysql-url or POOLTUNER_POSTGRES_URL: the scheme picks the driver", async () => {
    const viaMysqlFlag = await json(["plan", compose, "--mysql-url", urlFor(monitor)]);
    expect(viaMysqlFlag.out.plan.databases[0]?.limit).toBe(server.maxConnections - server.superuserReservedConnections);
    const viaEnv = await runCli(["plan", compose, "-o", "json"], { POOLTUNER_POSTGRES_URL: urlFor(monitor) });
    expect(viaEnv.code).toBe(0);
    expect((JSON.parse(viaEnv.stdout) as JsonReport).plan.databases[0]?.unmanagedAssumed).toBe(false);
  });

  it("a wrong password: exit 3, and neither password is printed", async () => {
    const wrong = "not-the-password-123";
    const r = await runCli(["check", compose, "--postgres-url", urlFor(monitor, wrong)]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/database shop: authentication failed for pt_cli_monitor@/);
    expect(`${r.stdout}${r.stderr}`).not.toContain(wrong);
    expect(`${r.stdout}${r.stderr}`).not.toContain(monitor.password);
  });
});
