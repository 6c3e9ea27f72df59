// Several configured databases on one server (issue 13): one MariaDB holding many applications' schemas, each a
// database of pooltuner's configuration, probed over its own kept connection under the one monitoring login. Each
// probe sees the others; they are real connections and count as other clients, but as a constant: a restarted
// process, whose probes connect 8 at a time, must see from its first reading the server its predecessor saw, or it
// plans budgets that are not there (the bench's 27 writes after a controller restart). A private server, so every
// connection on it is this test's.
import { randomBytes } from "node:crypto";
import mysql, { type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { DatabaseMonitor } from "../../../src/runtime/database-monitor.js";
import { createLogger } from "../../../src/runtime/logger.js";
import { Poller } from "../../../src/runtime/poller.js";
import { eventually } from "../../support/cluster.js";
import { connectRoot, type MariaDb, startMariaDb } from "../../support/mariadb.js";

/** Configured databases on the one server; more than the controller's 8 probes at once. */
const DATABASES = 12;
/** Connections of a client that is not pooltuner (an application no workload of these databases declares). */
const OTHERS = 3;
/** The test's own root connection (it counts the probes) is one more other client. */
const ROOT = 1;
const secret = () => `pw-${randomBytes(8).toString("hex")}`;
const monitorAccount = { user: "pt_monitor", password: secret() };
const otherAccount = { user: "pt_other", password: secret() };

let db: MariaDb;
let root: Awaited<ReturnType<typeof connectRoot>>;
const opened: Connection[] = [];
const monitors: DatabaseMonitor[] = [];
const names = Array.from({ length: DATABASES }, (_, i) => `db-${String(i).padStart(2, "0")}`);

const urlOf = (a: { user: string; password: string }) => `mysql://${a.user}:${a.password}@${db.host}:${db.port}/`;

async function count(user: string): Promise<number> {
  const rows = await root.query<Array<{ n: number }>>(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?",
    [user],
  );
  return Number(rows[0]?.n ?? 0);
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  await eventually(what, async () => ((await check()) ? true : undefined), { timeoutMs, intervalMs: 50 });
}

async function connectAs(a: { user: string; password: string }): Promise<Connection> {
  const c = await mysql.createConnection({ host: db.host, port: db.port, user: a.user, password: a.password });
  c.on("error", () => {});
  opened.push(c);
  return c;
}

/** A monitor of every configured database, and one round of its poller as the controller runs it (8 at a time). */
async function monitorAfterOneRound(): Promise<DatabaseMonitor> {
  const monitor = new DatabaseMonitor(
    names.map((name) => ({ name, url: urlOf(monitorAccount) })),
    { windowMs: 60_000, now: Date.now },
  );
  monitors.push(monitor);
  const abort = new AbortController();
  const poller = new Poller({
    monitor,
    intervalMs: 3_600_000,
    concurrency: 8,
    enqueue: () => {},
    log: createLogger({ level: "silent", name: "shared-server-test" }),
    signal: abort.signal,
  });
  poller.start();
  await until("every database probed once", () => poller.allPolled());
  abort.abort();
  return monitor;
}

/** Other clients per database as the planner would see them (no managed workload: every user is another client). */
const unmanaged = (m: DatabaseMonitor) => names.map((n) => m.snapshot(n, new Set())?.unmanaged);

beforeAll(async () => {
  db = await startMariaDb({ label: "shared-server", maxConnections: 100 });
  root = await connectRoot(db.rootUrl);
  for (const a of [monitorAccount, otherAccount]) {
    await root.query(`CREATE USER '${a.user}'@'%' IDENTIFIED BY '${a.password}'`);
  }
  await root.query(`GRANT PROCESS ON *.* TO '${monitorAccount.user}'@'%'`);
  for (let i = 0; i < OTHERS; i++) await connectAs(otherAccount);
});

afterEach(async () => {
  for (const m of monitors.splice(0)) await m.close();
});

afterAll(async () => {
  for (const c of opened) c.destroy();
  await root?.close();
  await db?.stop();
});

describe("several configured databases on one server", () => {
  test("a restarted monitor sees the other probes at full strength from its first reading", async () => {
    // What the server holds once everything is connected: each database's probe sees the other 11, the 3 and root.
    const expected = Array.from({ length: DATABASES }, () => DATABASES - 1 + OTHERS + ROOT);
    const first = await monitorAfterOneRound();
    await until(`${DATABASES} probe connections`, async () => (await count(monitorAccount.user)) === DATABASES);
    for (const n of names) await first.poll(n);
    expect(unmanaged(first)).toEqual(expected);
    await first.close();
    await until("the first monitor's connections gone", async () => (await count(monitorAccount.user)) === 0);

    // The restart: the first 8 probes connect together and read before the last 4 are in.
    const second = await monitorAfterOneRound();
    expect(unmanaged(second)).toEqual(expected);
    await second.close();
  });

  test("connections under the monitoring login beyond this process's probes are another client's", async () => {
    // Another process with the same account (a second pooltuner, an exporter) holds 2 connections.
    const foreign = [await connectAs(monitorAccount), await connectAs(monitorAccount)];
    const m = await monitorAfterOneRound();
    for (const n of names) await m.poll(n);
    expect(unmanaged(m)).toEqual(Array.from({ length: DATABASES }, () => DATABASES - 1 + 2 + OTHERS + ROOT));
    await m.close();
    for (const c of foreign) c.destroy();
  });
});
