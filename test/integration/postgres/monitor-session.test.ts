// The daemons' DatabaseMonitor (the shared pass's probe) on a postgres:// URL, against a private PostgreSQL 15 of
// this file's own (max_connections 10): its kept connection reads a full server, is replaced after
// pg_terminate_backend, and max_connections is read again on every poll — it changes only with a restart, after
// which the kept connection is found dead and opened again within the same poll.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { probe } from "../../../src/postgres/probe.js";
import { DatabaseMonitor } from "../../../src/runtime/database-monitor.js";
import { type PostgresServer, startPostgres } from "../../support/postgres.js";

const MAX = 10;
const RESERVED = 2;
const secret = () => `pw-${randomBytes(8).toString("hex")}`;
const keeper = { name: "pt_keeper", password: secret() }; // pg_monitor
const filler = { name: "pt_fill", password: secret() };

let server: PostgresServer;
const opened: pg.Client[] = [];
const urlOf = (r: { name: string; password: string }) =>
  `postgresql://${r.name}:${r.password}@${server.host}:${server.port}/postgres`;

async function backendsOf(role: string): Promise<number[]> {
  const rows = await server.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'",
    [role],
  );
  return rows.map((r) => r.pid);
}

/** Opens filler connections until the server refuses one with 53300; returns how many got in. */
async function fill(): Promise<number> {
  for (let n = 0; n <= MAX; n++) {
    const c = new pg.Client({
      host: server.host,
      port: server.port,
      user: filler.name,
      password: filler.password,
      database: "postgres",
    });
    c.on("error", () => {});
    try {
      await c.connect();
      opened.push(c);
    } catch (err) {
      expect((err as { code?: string }).code).toBe("53300");
      return n;
    }
  }
  throw new Error("the server never refused a connection");
}

beforeAll(async () => {
  server = await startPostgres({ label: "pg-session", maxConnections: MAX, superuserReservedConnections: RESERVED });
  console.log(`[pg-session] private PostgreSQL up in ${server.startupMs} ms`);
  await server.query(`CREATE ROLE ${keeper.name} LOGIN PASSWORD '${keeper.password}' IN ROLE pg_monitor`);
  await server.query(`CREATE ROLE ${filler.name} LOGIN PASSWORD '${filler.password}'`);
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.end().catch(() => {})));
  await vi.waitFor(async () => expect(await backendsOf(filler.name)).toEqual([]), { timeout: 10_000, interval: 50 });
});

afterAll(async () => {
  await server?.stop();
});

const config = () => [{ name: "pg", url: urlOf(keeper) }];

describe("a kept PostgreSQL probe connection", () => {
  test("keeps reading a full server that refuses a new probe; close() ends it on the server", async () => {
    const monitor = new DatabaseMonitor(config(), { windowMs: 60_000, now: Date.now });
    try {
      await monitor.poll("pg");
      expect(monitor.status("pg")?.ok).toBe(true);
      // the helper's superuser session + the monitor's + the fillers = the ordinary slots
      const fillers = await fill();
      expect(fillers).toBe(MAX - RESERVED - 2);
      const refused = await probe(urlOf(keeper)).catch((e: unknown) => e);
      expect(refused).toMatchObject({ kind: "server-full" });

      await monitor.poll("pg");
      const st = monitor.status("pg");
      expect(st?.ok).toBe(true);
      if (!st?.ok) return;
      expect(st.reading.connectionsByUser[filler.name]).toBe(fillers);
      expect(await backendsOf(keeper.name)).toHaveLength(1); // reads do not open new connections
    } finally {
      await monitor.close();
    }
    await vi.waitFor(async () => expect(await backendsOf(keeper.name)).toEqual([]), { timeout: 10_000, interval: 50 });
  });

  test("a terminated connection is replaced at the next read; on a full server it cannot be, and says so", async () => {
    const monitor = new DatabaseMonitor(config(), { windowMs: 60_000, now: Date.now });
    try {
      await monitor.poll("pg");
      const [first] = await backendsOf(keeper.name);
      await server.query("SELECT pg_terminate_backend($1)", [first]);
      await monitor.poll("pg");
      expect(monitor.status("pg")?.ok).toBe(true);
      const [second] = await backendsOf(keeper.name);
      expect(second).toBeGreaterThan(0);
      expect(second).not.toBe(first);

      await fill();
      await server.query("SELECT pg_terminate_backend($1)", [second]);
      // Unlike MariaDB's SUPER slot, the terminated session's slot is free again: a filler takes it first.
      let refilled = 0;
      await vi.waitFor(
        async () => {
          refilled += await fill();
          expect(refilled).toBe(1);
        },
        { timeout: 10_000, interval: 50 },
      );
      await monitor.poll("pg");
      const st = monitor.status("pg");
      expect(st?.ok).toBe(false);
      if (st?.ok === false) expect(st.kind).toBe("server-full");
    } finally {
      await monitor.close();
    }
  });

  test("a database's CONNECTION LIMIT changed alone is a changed reading (the pass re-plans), and reaches the snapshot", async () => {
    const monitor = new DatabaseMonitor(config(), { windowMs: 60_000, now: Date.now });
    await server.query("CREATE DATABASE pt_shop");
    try {
      expect(await monitor.poll("pg")).toBe(true); // first answer
      expect(await monitor.poll("pg")).toBe(false); // nothing changed
      await server.query("ALTER DATABASE pt_shop CONNECTION LIMIT 4");
      expect(await monitor.poll("pg")).toBe(true);
      expect(monitor.snapshot("pg", new Set())?.catalogs).toEqual({ pt_shop: { maxConnections: 4, unmanaged: 0 } });
    } finally {
      await monitor.close();
      await server.query("DROP DATABASE pt_shop");
    }
  });

  test("max_connections is read again on every poll: a restart with a new value is seen through the same monitor", async () => {
    const monitor = new DatabaseMonitor(config(), { windowMs: 60_000, now: Date.now });
    try {
      await monitor.poll("pg");
      const before = monitor.status("pg");
      expect(before?.ok && before.reading.maxConnections).toBe(MAX);
      expect(before?.ok && monitor.snapshot("pg", new Set())?.maxConnections).toBe(MAX - RESERVED);

      await server.restart({ maxConnections: MAX + 5, superuserReservedConnections: RESERVED + 1 });
      await monitor.poll("pg");
      const after = monitor.status("pg");
      expect(after?.ok).toBe(true);
      if (!after?.ok) return;
      expect(after.reading.maxConnections).toBe(MAX + 5);
      expect(monitor.snapshot("pg", new Set())?.maxConnections).toBe(MAX + 5 - (RESERVED + 1));
    } finally {
      await monitor.close();
      await server.restart({ maxConnections: MAX, superuserReservedConnections: RESERVED });
    }
  });
});
