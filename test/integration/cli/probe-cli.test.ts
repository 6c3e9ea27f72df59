// `pooltuner plan/check --mysql-url` against a real MariaDB (test/support/mariadb.global.ts), the CLI spawned as a
// process: the live limit, other clients' connections, per-account limits, a PROCESS-less account, a wrong password.
import { randomBytes } from "node:crypto";
import mysql, { type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { Plan } from "../../../src/core/index.js";
import { connectRoot } from "../../support/mariadb.js";
import { runCli } from "./run-cli.js";

const server = inject("mariadb");
const COMPOSE = "examples/lineage/docker-compose.yml";
const secret = () => `pw-${randomBytes(8).toString("hex")}`;

interface Account {
  readonly user: string;
  readonly password: string;
}
// `lineage` is the user in the example's LINEAGE_DB_URL: its connections are the managed workload's own.
const app: Account = { user: "lineage", password: secret() };
const monitor: Account = { user: "pt_cli_monitor", password: secret() }; // PROCESS + SELECT on mysql.global_priv
const blind: Account = { user: "pt_cli_blind", password: secret() }; // no privileges
const other: Account = { user: "pt_cli_other", password: secret() }; // another application

type Root = Awaited<ReturnType<typeof connectRoot>>;
let root: Root;
const opened: Connection[] = [];

const urlFor = (a: Account, password = a.password) =>
  `mysql://${a.user}:${encodeURIComponent(password)}@${server.host}:${server.port}/`;

async function open(a: Account, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const conn = await mysql.createConnection({
      host: server.host,
      port: server.port,
      user: a.user,
      password: a.password,
    });
    conn.on("error", () => {});
    opened.push(conn);
  }
}

/** The parts of `-o json` these tests read. */
interface JsonReport {
  plan: Plan;
  inputs: { databases: { origin: { kind: string; connectionsByUser?: Record<string, number> } }[] };
}

async function json(args: string[]): Promise<{ code: number; out: JsonReport; text: string }> {
  const r = await runCli([...args, "-o", "json"]);
  return { code: r.code, out: JSON.parse(r.stdout) as JsonReport, text: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  root = await connectRoot(server.rootUrl);
  for (const a of [app, monitor, blind, other]) {
    await root.query(`CREATE OR REPLACE USER '${a.user}'@'%' IDENTIFIED BY '${a.password}'`);
  }
  await root.query(`GRANT PROCESS ON *.* TO '${monitor.user}'@'%'`);
  await root.query(`GRANT SELECT ON mysql.global_priv TO '${monitor.user}'@'%'`);
  await root.query("SET GLOBAL max_connections = 20");
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.end().catch(() => c.destroy())));
  await root.query("SET GLOBAL max_connections = 20");
  await root.query(`ALTER USER '${app.user}'@'%' WITH MAX_USER_CONNECTIONS 0`);
});

afterAll(async () => {
  for (const a of [app, monitor, blind, other]) await root.query(`DROP USER IF EXISTS '${a.user}'@'%'`);
  await root.close();
});

describe("pooltuner with --mysql-url", { timeout: 60_000 }, () => {
  it("reads max_connections live and counts other users' connections, not the workload's own", async () => {
    await open(other, 3);
    await open(app, 2);
    const rootRows = await root.query<{ n: number }[]>(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'root'",
    );
    const rootConnections = Number(rootRows[0]?.n);
    expect(rootConnections).toBeGreaterThanOrEqual(1);

    const r = await json(["check", COMPOSE, "--mysql-url", urlFor(monitor)]);
    expect(r.code).toBe(1); // 2 x 4 x (2+3) = 40 can exceed
    const db = r.out.plan.databases[0];
    const unmanaged = 3 + rootConnections;
    expect(db).toMatchObject({ name: "lineage", limit: 20, reserve: 2, unmanaged, unmanagedAssumed: false });
    expect(db?.usable).toBe(20 - 2 - unmanaged);
    expect(r.out.inputs.databases[0]?.origin).toMatchObject({
      kind: "probe",
      target: `${monitor.user}@${server.host}:${server.port}`,
      visibility: "processlist",
    });
    expect(r.out.inputs.databases[0]?.origin.connectionsByUser).toMatchObject({ [app.user]: 2, [other.user]: 3 });
    // 8 processes, usable 14: cap 1 (8) fits, cap 2 (16) does not
    expect(r.out.plan.workloads[0]?.recommended).toMatchObject({ poolSize: 1, maxOverflow: 0, peak: 8 });
    expect(r.text).not.toContain(monitor.password);
  });

  it("sees SET GLOBAL max_connections on the next run", async () => {
    await root.query("SET GLOBAL max_connections = 100");
    const r = await runCli(["check", COMPOSE, "--mysql-url", urlFor(monitor)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^lineage\s+pt_cli_monitor@\S+ \([^)]+\)\s+100\s+5\s+\d+\s+\d+/m);
    expect(r.stdout).toContain("check: OK");
  });

  it("plans within the workload account's MAX_USER_CONNECTIONS", async () => {
    await root.query("SET GLOBAL max_connections = 100");
    await root.query(`ALTER USER '${app.user}'@'%' WITH MAX_USER_CONNECTIONS 6`);
    const r = await json(["plan", COMPOSE, "--mysql-url", urlFor(monitor)]);
    expect(r.code).toBe(1); // 8 processes cannot get 1 each from 6
    expect(r.out.plan.databases[0]?.accounts).toEqual([
      expect.objectContaining({ account: app.user, limit: 6, usable: 6 }),
    ]);
    expect(r.out.plan.findings).toContainEqual(
      expect.objectContaining({
        kind: "infeasible",
        scope: { kind: "account", account: app.user },
        needed: 8,
        available: 6,
        missing: 2,
      }),
    );

    await root.query(`ALTER USER '${app.user}'@'%' WITH MAX_USER_CONNECTIONS 20`);
    const ok = await json(["plan", COMPOSE, "--mysql-url", urlFor(monitor)]);
    expect(ok.code).toBe(0);
    // the account's 20 binds before the server's budget: 8 x 2 = 16 fits, 8 x 3 = 24 does not
    expect(ok.out.plan.workloads[0]?.recommended).toMatchObject({ poolSize: 1, maxOverflow: 1, peak: 16 });
  });

  it("without PROCESS, other clients are assumed and the output says so", async () => {
    await open(other, 5);
    const r = await runCli(["plan", COMPOSE, "--mysql-url", urlFor(blind)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^lineage\s+pt_cli_blind@\S+ \([^)]+\)\s+20\s+2\s+2 \(assumed\)\s+16/m);
    expect(r.stdout).toMatch(/other clients' connections cannot be seen \(grant PROCESS/);
  });

  it("a wrong password: exit 3, and neither password is printed", async () => {
    const wrong = "not-the-password-123";
    const r = await runCli(["check", COMPOSE, "--mysql-url", urlFor(monitor, wrong)]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/database lineage: .*pt_cli_monitor@/);
    expect(`${r.stdout}${r.stderr}`).not.toContain(wrong);
    expect(`${r.stdout}${r.stderr}`).not.toContain(monitor.password);
  });
});
