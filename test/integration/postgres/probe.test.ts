// The PostgreSQL driver against a real PostgreSQL 15 (test/support/postgres.global.ts: max_connections 20,
// superuser_reserved_connections 3, autovacuum_naptime 1 s). Every expectation is worked out in the test from what it opened itself: the
// connections it holds per role, the limits it set, the slots left. Nothing is mocked.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { postgresDriver } from "../../../src/postgres/driver.js";
import { type PostgresReading, ProbeSession, probe } from "../../../src/postgres/probe.js";
import { DatabaseProbeError } from "../../../src/runtime/database-probe.js";
import {
  connectSuper,
  clientBackends as countClientBackends,
  SUPERUSER,
  untilOnlySuperuser,
} from "../../support/postgres.js";

const server = inject("postgres");
const secret = () => `pw-${randomBytes(8).toString("hex")}`;

interface Role {
  readonly name: string;
  readonly password: string;
}
const monitor: Role = { name: "pt_monitor", password: secret() }; // pg_monitor
const plain: Role = { name: "pt_plain", password: secret() }; // no grants at all
const app: Role = { name: "pt_app", password: secret() };
const other: Role = { name: "pt_other", password: secret() };
const repl: Role = { name: "pt_repl", password: secret() }; // REPLICATION, for a WAL sender
const ROLES = [monitor, plain, app, other, repl];
const LIMITED_DB = "pt_limited";
const PARALLEL_TABLE = "pt_parallel";
const VACUUM_TABLE = "pt_vacuum";
/** A logical replication connection: a WAL sender attached to a database (pg's types do not list the option). */
const REPLICATION = { replication: "database" } as pg.ClientConfig;

type Super = Awaited<ReturnType<typeof connectSuper>>;
let su: Super;
const held: pg.Client[] = [];

const urlFor = (r: Role, password = r.password, db = "postgres") =>
  `postgres://${r.name}:${encodeURIComponent(password)}@${server.host}:${server.port}/${db}`;

async function connect(r: Role, extra: pg.ClientConfig = {}): Promise<pg.Client> {
  const c = new pg.Client({
    host: server.host,
    port: server.port,
    user: r.name,
    password: r.password,
    database: "postgres",
    ...extra,
  });
  c.on("error", () => {});
  await c.connect();
  return c;
}

async function hold(r: Role, n: number, extra: pg.ClientConfig = {}): Promise<void> {
  for (let i = 0; i < n; i++) held.push(await connect(r, extra));
}

/** Client backends the server has now, counted by the superuser (the superuser's own session included). */
const clientBackends = () => countClientBackends(su);

beforeAll(async () => {
  su = await connectSuper(server.superUrl);
  for (const r of ROLES) {
    await su.query(`DROP ROLE IF EXISTS ${r.name}`);
    await su.query(`CREATE ROLE ${r.name} LOGIN PASSWORD '${r.password}'`);
  }
  await su.query(`GRANT pg_monitor TO ${monitor.name}`);
  await su.query(`ALTER ROLE ${repl.name} REPLICATION`);
  await su.query(`DROP DATABASE IF EXISTS ${LIMITED_DB}`);
  await su.query(`CREATE DATABASE ${LIMITED_DB} CONNECTION LIMIT 6`);
  await su.query(`DROP TABLE IF EXISTS ${PARALLEL_TABLE}`);
  await su.query(`CREATE TABLE ${PARALLEL_TABLE} AS SELECT g FROM generate_series(1, 100000) g`);
  await su.query(`GRANT SELECT ON ${PARALLEL_TABLE} TO ${other.name}`);
  await su.query(`DROP TABLE IF EXISTS ${VACUUM_TABLE}`);
  await su.query(
    `CREATE TABLE ${VACUUM_TABLE} WITH (autovacuum_vacuum_threshold = 1, autovacuum_vacuum_scale_factor = 0) ` +
      "AS SELECT g FROM generate_series(1, 1000) g",
  );
});

afterEach(async () => {
  await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})));
  for (const r of ROLES) await su.query(`ALTER ROLE ${r.name} CONNECTION LIMIT -1`);
  // The server notices closed sessions a moment later; the next test starts from no client but the superuser's.
  await untilOnlySuperuser(su);
});

afterAll(async () => {
  await su.query(`DROP DATABASE IF EXISTS ${LIMITED_DB}`);
  await su.query(`DROP TABLE IF EXISTS ${PARALLEL_TABLE}`);
  await su.query(`DROP TABLE IF EXISTS ${VACUUM_TABLE}`);
  for (const r of ROLES) await su.query(`DROP ROLE IF EXISTS ${r.name}`);
  await su.close();
});

describe("probe against PostgreSQL 15", () => {
  it("reads max_connections and the superuser-reserved slots; the planner gets only the ordinary ones", async () => {
    const r = await probe(urlFor(monitor));
    expect(r.version).toMatch(/^PostgreSQL 15\./);
    expect(r.versionNum).toBeGreaterThanOrEqual(150000);
    expect(r.maxConnections).toBe(server.maxConnections);
    expect(r.superuserReservedConnections).toBe(server.superuserReservedConnections);
    expect(r.reservedConnections).toBe(0); // reserved_connections exists from 16 on
    expect(r.target).toBe(`${monitor.name}@${server.host}:${server.port}`);
    const snap = postgresDriver.snapshot({ config: { name: "pg" }, reading: r, managedUsers: new Set() });
    expect(snap.maxConnections).toBe(20 - 3);
  });

  it("counts other clients per role: exactly the connections the test opened, its own superuser session, not the probe", async () => {
    await hold(other, 3);
    await hold(app, 2);
    const r = await probe(urlFor(monitor));
    expect(r.visibility).toBe("pg_stat_activity");
    // su: the test's one superuser session
    expect(r.connectionsByUser).toEqual({ [other.name]: 3, [app.name]: 2, [SUPERUSER]: 1 });
    expect(r.threadsConnected).toBe(3 + 2 + 1 + 1);
    const snap = postgresDriver.snapshot({ config: { name: "pg" }, reading: r, managedUsers: new Set([app.name]) });
    expect(snap.unmanaged).toBe(3 + 1);
  });

  it("a WAL sender, parallel workers and an autovacuum worker run while every client slot is taken, and are not counted", async () => {
    const session = new ProbeSession(urlFor(monitor));
    try {
      await session.read();
      const worker = await connect(other);
      held.push(worker);
      let admitted = 0;
      for (;;) {
        try {
          held.push(await connect(other));
          admitted++;
        } catch {
          break;
        }
      }
      await expect(connect(app)).rejects.toMatchObject({ code: "53300" });
      // Both come from pools of their own: max_wal_senders and max_worker_processes.
      await hold(repl, 1, REPLICATION);
      await worker.query(
        "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; " +
          "SET min_parallel_table_scan_size = 0",
      );
      const [plan] = await worker
        .query(`EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM ${PARALLEL_TABLE}`)
        .then((res) => res.rows as { "QUERY PLAN": unknown }[]);
      expect(JSON.stringify(plan?.["QUERY PLAN"])).toMatch(/"Workers Launched":2\b/);
      // Dead rows past the table's threshold: the launcher (autovacuum_naptime 1 s on this server) starts a worker,
      // which vacuums the table although no client slot is free.
      const vacuums = async () =>
        Number(
          (
            await su.query<{ n: string }>(
              `SELECT autovacuum_count AS n FROM pg_stat_user_tables WHERE relname = '${VACUUM_TABLE}'`,
            )
          )[0]?.n,
        );
      const before = await vacuums();
      await su.query(`UPDATE ${VACUUM_TABLE} SET g = g + 1`);
      await vi.waitFor(
        async () => {
          expect(await vacuums()).toBeGreaterThan(before);
        },
        { timeout: 30_000, interval: 200 },
      );

      const r = await session.read();
      expect(r.connectionsByUser).toEqual({ [other.name]: admitted + 1, [SUPERUSER]: 1 });
      expect(r.threadsConnected).toBe(server.maxConnections - server.superuserReservedConnections);
    } finally {
      await session.close();
    }
  });

  it("without pg_monitor, other roles' sessions are still counted by role (a WAL sender with a database too: more, never less)", async () => {
    await hold(other, 3);
    await hold(repl, 1, REPLICATION);
    const r = await probe(urlFor(plain));
    expect(r.visibility).toBe("pg_stat_activity-restricted");
    expect(r.connectionsByUser).toEqual({ [other.name]: 3, [repl.name]: 1, [SUPERUSER]: 1 });
    expect(r.warnings.join("\n")).toMatch(/grant pg_monitor or pg_read_all_stats/);
  });

  it("reads role and database CONNECTION LIMITs; a role's limit bounds the workloads logging in as it", async () => {
    await su.query(`ALTER ROLE ${app.name} CONNECTION LIMIT 4`);
    const r = await probe(urlFor(monitor));
    expect(r.accountLimits).toContainEqual({ user: app.name, maxUserConnections: 4 });
    expect(r.accountLimits.map((a) => a.user)).not.toContain(SUPERUSER);
    expect(r.databaseLimits).toContainEqual({ database: LIMITED_DB, maxConnections: 6 });
    const snap = postgresDriver.snapshot({ config: { name: "pg" }, reading: r, managedUsers: new Set([app.name]) });
    expect(snap.accounts).toEqual({ [app.name]: { maxUserConnections: 4 } });
    // The limit is the server's: the fifth connection of the role is refused.
    await hold(app, 4);
    await expect(connect(app)).rejects.toMatchObject({ code: "53300" });
  });

  it("the probe's own role at its CONNECTION LIMIT: account-limit", async () => {
    await su.query(`ALTER ROLE ${monitor.name} CONNECTION LIMIT 1`);
    await hold(monitor, 1);
    const err = await probe(urlFor(monitor)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseProbeError);
    expect(err).toMatchObject({ kind: "account-limit" });
    expect((err as Error).message).toMatch(/too many connections for role "pt_monitor"/);
  });

  it("a full server: ordinary roles get max_connections − reserved − held; a new probe is server-full, a kept one still reads", async () => {
    const session = new ProbeSession(urlFor(monitor));
    try {
      await session.read(); // holds its connection from now on
      const before = await clientBackends(); // su + the session
      let admitted = 0;
      let refusal: unknown;
      for (;;) {
        try {
          held.push(await connect(other));
          admitted++;
        } catch (err) {
          refusal = err;
          break;
        }
        if (admitted > server.maxConnections) throw new Error("the server admitted more than max_connections");
      }
      expect(admitted).toBe(server.maxConnections - server.superuserReservedConnections - before);
      expect(refusal).toMatchObject({ code: "53300" });

      const err = await probe(urlFor(monitor)).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "server-full" });
      expect((err as Error).message).toMatch(/is full \(SQLSTATE 53300\)/);
      expect((err as Error).message).not.toContain(monitor.password);

      const kept: PostgresReading = await session.read();
      expect(kept.connectionsByUser[other.name]).toBe(admitted);
      expect(kept.threadsConnected).toBe(server.maxConnections - server.superuserReservedConnections);
    } finally {
      await session.close();
    }
  });

  it("a wrong password: auth, and no password text in the error (URL userinfo or ?password=)", async () => {
    const wrong = "wrong-Secret-4711";
    for (const url of [
      urlFor(monitor, wrong),
      `postgres://${monitor.name}@${server.host}:${server.port}/postgres?password=${wrong}`,
    ]) {
      const err = await probe(url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseProbeError);
      expect(err).toMatchObject({ kind: "auth" });
      const text = `${(err as Error).message}\n${(err as Error).stack}\n${JSON.stringify(err)}`;
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(monitor.password);
      expect((err as Error).message).toContain(`${monitor.name}@${server.host}:${server.port}`);
    }
  });

  it("nothing listening: unreachable; the unix socket directory works as a host", async () => {
    const err = await probe(`postgres://${monitor.name}:${monitor.password}@127.0.0.1:1/postgres`).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ kind: "unreachable" });
    expect((err as Error).message).not.toContain(monitor.password);
    const viaSocket = await probe(
      `postgresql://${monitor.name}:${monitor.password}@${encodeURIComponent(server.socketDir)}:${server.port}/postgres`,
    );
    expect(viaSocket.maxConnections).toBe(server.maxConnections);
  });

  it("timeouts: a listener that never answers the startup, and a stalled server process mid-read", async () => {
    // Accepts and says nothing, like a firewalled or hung server.
    const sockets: Socket[] = [];
    const silent = createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    try {
      const err = await probe(`postgres://${monitor.name}:${monitor.password}@127.0.0.1:${port}/postgres`, {
        connectTimeoutMs: 500,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "timeout" });
      expect((err as Error).message).not.toContain(monitor.password);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => silent.close(r));
    }

    const monitorBackends = async () =>
      (
        await su.query<{ pid: number; app: string }>(
          "SELECT pid, application_name AS app FROM pg_stat_activity " +
            `WHERE usename = '${monitor.name}' AND backend_type = 'client backend'`,
        )
      ).map((r) => ({ pid: Number(r.pid), app: r.app }));
    await vi.waitFor(async () => expect(await monitorBackends()).toEqual([]), { timeout: 10_000, interval: 50 });
    const session = new ProbeSession(urlFor(monitor), { queryTimeoutMs: 500, connectTimeoutMs: 500 });
    try {
      await session.read();
      const backends = await monitorBackends();
      expect(backends).toEqual([{ pid: expect.any(Number), app: "pooltuner-probe" }]);
      const first = backends[0]?.pid as number;
      const stopped: number[] = [];
      const stop = (pid: number) => {
        process.kill(pid, "SIGSTOP");
        stopped.push(pid);
      };
      try {
        // Its server process stopped (SIGSTOP): the read times out on it, drops it and answers over a new one.
        stop(first);
        const replaced = await session.read();
        expect(replaced.connectionsByUser[monitor.name]).toBe(1); // the stopped one, still a session
        const second = (await monitorBackends()).find((b) => b.pid !== first)?.pid as number;
        expect(second).toBeGreaterThan(0);
        // That one stopped too, and the postmaster (no new session can start): timeout, not a hang.
        const postmaster = Number(
          (await readFile(join(server.socketDir, "data", "postmaster.pid"), "utf8")).split("\n")[0],
        );
        stop(second);
        stop(postmaster);
        const err = await session.read().catch((e: unknown) => e);
        expect(err).toMatchObject({ kind: "timeout" });
        expect((err as Error).message).not.toContain(monitor.password);
      } finally {
        for (const pid of stopped.reverse()) process.kill(pid, "SIGCONT");
      }
      const again = await session.read();
      expect(again.maxConnections).toBe(server.maxConnections);
    } finally {
      await session.close();
    }
  });
});
