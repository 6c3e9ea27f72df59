// The daemons' kept probe connection against a real, full MariaDB (issue 14): a server that is full refuses every
// new connection — the SUPER/CONNECTION ADMIN extra slot too, once someone holds it — yet a monitor that connected
// earlier keeps reading it. A private server with max_connections=10 (MariaDB's minimum), filled by this test's
// own connections. It also listens on MariaDB's extra_port, whose own few connections are outside max_connections:
// the way for a monitor to get into a server that is already full the first time it connects.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import mysql, { type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { ProbeError } from "../../../src/mysql/errors.js";
import { probe } from "../../../src/mysql/probe.js";
import { DatabaseMonitor } from "../../../src/runtime/database-monitor.js";
import { createLogger } from "../../../src/runtime/logger.js";
import { Poller } from "../../../src/runtime/poller.js";
import { connectRoot, type MariaDb, startMariaDb } from "../../support/mariadb.js";

const MAX = 10;
const secret = () => `pw-${randomBytes(8).toString("hex")}`;
const monitorAccount = { user: "pt_keeper", password: secret() }; // PROCESS only
const filler = { user: "pt_fill", password: secret() };

let db: MariaDb;
let extraPort: number;
let root: Awaited<ReturnType<typeof connectRoot>>;
const opened: Connection[] = [];

const urlOf = (a: { user: string; password: string }) => `mysql://${a.user}:${a.password}@${db.host}:${db.port}/`;

async function count(user: string): Promise<number> {
  const rows = await root.query<Array<{ n: number }>>(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?",
    [user],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Opens filler connections until the server refuses one with 1040; returns how many got in. */
async function fill(): Promise<number> {
  let n = 0;
  for (let i = 0; i < 3 * MAX; i++) {
    try {
      const c = await mysql.createConnection({ host: db.host, port: db.port, ...filler });
      c.on("error", () => {});
      opened.push(c);
      n += 1;
    } catch (err) {
      expect((err as { errno?: number }).errno).toBe(1040);
      return n;
    }
  }
  throw new Error("the server never refused a connection");
}

/** Takes the one extra slot MariaDB keeps for SUPER; after this, nobody at all gets in. */
async function takeExtraSlot(): Promise<Awaited<ReturnType<typeof connectRoot>>> {
  const extra = await connectRoot(db.rootUrl);
  const refused = await connectRoot(db.rootUrl).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e as { errno?: number },
  );
  expect(refused?.errno).toBe(1040);
  return extra;
}

async function freeAll(): Promise<void> {
  await Promise.all(opened.splice(0).map((c) => c.end().catch(() => c.destroy())));
  await vi.waitFor(async () => expect(await count(filler.user)).toBe(0), { timeout: 10_000, interval: 50 });
}

beforeAll(async () => {
  extraPort = await freePort();
  db = await startMariaDb({
    label: "full",
    maxConnections: MAX,
    extraArgs: [`--extra-port=${extraPort}`, "--extra-max-connections=1"],
  });
  root = await connectRoot(db.rootUrl);
  await root.query(`CREATE USER '${monitorAccount.user}'@'%' IDENTIFIED BY '${monitorAccount.password}'`);
  await root.query(`GRANT PROCESS ON *.* TO '${monitorAccount.user}'@'%'`);
  await root.query(`CREATE USER '${filler.user}'@'%' IDENTIFIED BY '${filler.password}'`);
});

afterEach(async () => {
  await freeAll();
  await root.query(`SET GLOBAL max_connections = ${MAX}`);
});

afterAll(async () => {
  await root?.close();
  await db?.stop();
});

const config = () => [{ name: "full", url: urlOf(monitorAccount) }];

describe("a kept probe connection", () => {
  test("a monitor that connected earlier keeps reading a server that is full, the extra SUPER slot included", async () => {
    const monitor = new DatabaseMonitor(config(), { windowMs: 60_000, now: Date.now });
    try {
      await monitor.poll("full");
      expect(monitor.status("full")?.ok).toBe(true);

      // root's helper connection + the monitor's + the fillers = max_connections; then the SUPER slot goes too.
      const fillers = await fill();
      expect(fillers).toBe(MAX - 2);
      const extra = await takeExtraSlot();
      try {
        // Nobody new gets in: a one-shot probe (what each poll did before issue 14) is refused.
        const refused = await probe(urlOf(monitorAccount)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(refused).toBeInstanceOf(ProbeError);
        expect((refused as ProbeError).kind).toBe("server-full");

        // The kept connection still reads the live numbers, including a limit changed meanwhile.
        await extra.query("SET GLOBAL max_connections = 11");
        await monitor.poll("full");
        const st = monitor.status("full");
        expect(st?.ok).toBe(true);
        if (!st?.ok) return;
        expect(st.reading.maxConnections).toBe(11);
        expect(st.reading.connectionsByUser[filler.user]).toBe(fillers);
        // Still one connection of the monitoring account on the server: reads do not open new ones.
        expect(await count(monitorAccount.user)).toBe(1);
      } finally {
        await extra.close();
      }
    } finally {
      await monitor.close();
    }
    // close() ends it on the server.
    await vi.waitFor(async () => expect(await count(monitorAccount.user)).toBe(0), { timeout: 10_000, interval: 50 });
  });

  test("a killed connection is replaced at the next read; while the server is full, it cannot be, and says so", async () => {
    const monitor = new DatabaseMonitor(config(), { windowMs: 60_000, now: Date.now });
    try {
      await monitor.poll("full");
      const idOf = async () =>
        (
          await root.query<Array<{ ID: number }>>("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", [
            monitorAccount.user,
          ])
        ).map((r) => Number(r.ID));
      const [first] = await idOf();
      expect(first).toBeGreaterThan(0);
      await root.query(`KILL ${first}`);
      await monitor.poll("full");
      expect(monitor.status("full")?.ok).toBe(true);
      const [second] = await idOf();
      expect(second).toBeGreaterThan(0);
      expect(second).not.toBe(first);

      // Killed while the server is full: there is no way back in; the failure is server-full, not a hang.
      await fill();
      const extra = await takeExtraSlot();
      try {
        await root.query(`KILL ${second}`).catch(() => {});
        await monitor.poll("full");
        const st = monitor.status("full");
        expect(st?.ok).toBe(false);
        if (st?.ok === false) expect(st.kind).toBe("server-full");
      } finally {
        await extra.close();
      }
    } finally {
      await monitor.close();
    }
  });

  test("a first connection on a full server gets in through MariaDB's extra_port, with PROCESS only", async () => {
    const fillers = await fill();
    expect(fillers).toBe(MAX - 1); // root's helper connection + the fillers
    const extra = await takeExtraSlot();
    try {
      // The ordinary port refuses the monitor (it has no CONNECTION ADMIN, and that slot is taken anyway).
      const refused = await probe(urlOf(monitorAccount)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((refused as ProbeError).kind).toBe("server-full");
      // The extra port lets it in, first time, and it reads the server as it is: the fillers as other clients.
      const monitor = new DatabaseMonitor(
        [{ name: "full", url: `mysql://${monitorAccount.user}:${monitorAccount.password}@${db.host}:${extraPort}/` }],
        { windowMs: 60_000, now: Date.now },
      );
      try {
        await monitor.poll("full");
        const st = monitor.status("full");
        expect(st?.ok).toBe(true);
        if (!st?.ok) return;
        expect(st.reading.maxConnections).toBe(MAX);
        expect(st.reading.connectionsByUser[filler.user]).toBe(fillers);
        expect(st.reading.connectionsByUser[monitorAccount.user] ?? 0).toBe(0); // its own connection is not another client's
      } finally {
        await monitor.close();
      }
    } finally {
      await extra.close();
    }
  });

  test("a failed probe is retried long before the poll interval: backoff from 250 ms", async () => {
    const monitor = new DatabaseMonitor(config(), { windowMs: 60_000, now: Date.now });
    const stop = new AbortController();
    const queued: string[] = [];
    await fill();
    const extra = await takeExtraSlot();
    const poller = new Poller({
      monitor,
      intervalMs: 600_000, // ten minutes: only the retry can bring the answer within this test
      concurrency: 1,
      enqueue: (d) => queued.push(d),
      log: createLogger({ level: "silent" }),
      signal: stop.signal,
    });
    try {
      poller.start();
      await vi.waitFor(() => expect(monitor.status("full")?.ok).toBe(false), { timeout: 10_000, interval: 20 });
      // Room again: the next retry gets in, without waiting for the interval.
      await extra.close();
      await Promise.all(opened.splice(0, 2).map((c) => c.end().catch(() => c.destroy())));
      await vi.waitFor(() => expect(monitor.status("full")?.ok).toBe(true), { timeout: 30_000, interval: 50 });
      expect(queued.filter((d) => d === "full").length).toBeGreaterThanOrEqual(2); // first answer, then the change
    } finally {
      stop.abort();
      await monitor.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
