// The probe against real MariaDB servers started by test/support/mariadb.ts (never a mock).
// The shared server (max_connections=30) comes from the global setup; the performance_schema one is started here.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import mysql, { type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, inject, test, vi } from "vitest";
import { ProbeError } from "../../../src/mysql/errors.js";
import { type ProbeResult, probe } from "../../../src/mysql/probe.js";
import { connectRoot, type MariaDb, startMariaDb } from "../../support/mariadb.js";

const server = inject("mariadb");
const secret = () => `pw-${randomBytes(8).toString("hex")}`;

interface Account {
  user: string;
  password: string;
}

// Each account gets a fresh random password; names are unique to this file.
const app: Account = { user: "pt_app", password: secret() };
const monitor: Account = { user: "pt_monitor", password: secret() }; // PROCESS only
const noProcess: Account = { user: "pt_noproc", password: secret() }; // no privileges at all
const limited: Account = { user: "pt_limited", password: secret() }; // MAX_USER_CONNECTIONS 4
const privReader: Account = { user: "pt_privreader", password: secret() }; // SELECT on mysql.global_priv
const filler: Account = { user: "pt_filler", password: secret() }; // fills the server

type Root = Awaited<ReturnType<typeof connectRoot>>;
let root: Root;
const opened: Connection[] = [];

function urlFor(a: Account, host = server.host, port = server.port, database = ""): string {
  return `mysql://${encodeURIComponent(a.user)}:${encodeURIComponent(a.password)}@${host}:${port}/${database}`;
}

async function open(a: Account, n: number, host = server.host, port = server.port): Promise<Connection[]> {
  const conns: Connection[] = [];
  for (let i = 0; i < n; i++) {
    const conn = await mysql.createConnection({ host, port, user: a.user, password: a.password });
    conn.on("error", () => {});
    conns.push(conn);
    opened.push(conn);
  }
  return conns;
}

async function closeAll(conns: Connection[]): Promise<void> {
  await Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
  for (const c of conns) opened.splice(opened.indexOf(c), 1);
}

/** Server-side count of a user's connections, as root sees them (includes sleeping ones). */
async function serverCount(r: Root, user: string): Promise<number> {
  const rows = await r.query<Array<{ n: number }>>(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?",
    [user],
  );
  return Number(rows[0]?.n ?? 0);
}

async function threadsConnected(r: Root): Promise<number> {
  const rows = await r.query<Array<{ Value: string }>>("SHOW GLOBAL STATUS LIKE 'Threads_connected'");
  return Number(rows[0]?.Value);
}

/** Closing is asynchronous on the server side: wait until it has let go of a user's connections. */
async function waitUntilGone(r: Root, ...users: string[]): Promise<void> {
  await vi.waitFor(
    async () => {
      for (const u of users) expect(await serverCount(r, u)).toBe(0);
    },
    { timeout: 10_000, interval: 50 },
  );
}

async function createAccounts(r: Root): Promise<void> {
  const create = async (a: Account, extra = "") =>
    r.query(`CREATE OR REPLACE USER '${a.user}'@'%' IDENTIFIED BY '${a.password}' ${extra}`);
  await create(app);
  await create(monitor);
  await r.query(`GRANT PROCESS ON *.* TO '${monitor.user}'@'%'`);
  await create(noProcess);
  await create(limited, "WITH MAX_USER_CONNECTIONS 4");
  await create(privReader);
  await r.query(`GRANT SELECT ON mysql.global_priv TO '${privReader.user}'@'%'`);
  await create(filler);
}

async function dropAccounts(r: Root): Promise<void> {
  for (const a of [app, monitor, noProcess, limited, privReader, filler]) {
    await r.query(`DROP USER IF EXISTS '${a.user}'@'%'`);
  }
}

/** Asserts that an async call rejects with a ProbeError and returns it. */
async function probeError(call: Promise<unknown>): Promise<ProbeError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProbeError);
  return err as ProbeError;
}

function expectNoSecret(err: unknown, password: string): void {
  const e = err as Error;
  expect(e.message).not.toContain(password);
  expect(String(e.stack)).not.toContain(password);
  expect(JSON.stringify(e)).not.toContain(password);
  expect(String((e as { cause?: unknown }).cause ?? "")).not.toContain(password);
}

beforeAll(async () => {
  root = await connectRoot(server.rootUrl);
  await createAccounts(root);
});

const allUsers = () => [app, monitor, noProcess, limited, privReader, filler].map((a) => a.user);

// Every test starts from a quiet server: no connection of a test account left, even one still closing.
afterEach(async () => {
  await closeAll([...opened]);
  await root.query("SET GLOBAL max_connections = 30");
  await waitUntilGone(root, ...allUsers());
});

afterAll(async () => {
  await dropAccounts(root);
  await root.close();
});

describe("shared server (performance_schema OFF)", () => {
  test("counts N real connections of another account, per user and in Threads_connected", async () => {
    const before = await probe(urlFor(monitor));
    expect(before.visibility).toBe("processlist");
    expect(before.connectionsByUser[app.user]).toBeUndefined();
    await waitUntilGone(root, monitor.user);

    await open(app, 5);
    const during = await probe(urlFor(monitor));
    expect(during.connectionsByUser[app.user]).toBe(5);
    expect(during.threadsConnected).toBe(before.threadsConnected + 5);
    // The probe's own connection is not counted; root's helper connection is.
    expect(during.connectionsByUser[monitor.user]).toBeUndefined();
    expect(during.connectionsByUser.root).toBeGreaterThanOrEqual(1);
    expect(during.warnings.join("\n")).not.toMatch(/PROCESS/);
    expect(during.version).toMatch(/MariaDB/);
    expect(during.account).toEqual({ user: monitor.user, host: "%" });
    expect(during.target).toBe(`${monitor.user}@${server.host}:${server.port}`);

    await closeAll([...opened]);
    await waitUntilGone(root, app.user);
    const after = await probe(urlFor(monitor));
    expect(after.connectionsByUser[app.user]).toBeUndefined();
  });

  test("the probe opens exactly one connection and closes it", async () => {
    const connections = async () => {
      const rows = await root.query<Array<{ Value: string }>>("SHOW GLOBAL STATUS LIKE 'Connections'");
      return Number(rows[0]?.Value);
    };
    const before = await connections();
    await probe(urlFor(monitor));
    expect(await connections()).toBe(before + 1);
    await waitUntilGone(root, monitor.user);
  });

  test("SET GLOBAL max_connections shows up on the next probe", async () => {
    const first = await probe(urlFor(monitor));
    expect(first.maxConnections).toBe(30);
    expect(first.maxUserConnections).toBe(0);

    await root.query("SET GLOBAL max_connections = 47");
    const second = await probe(urlFor(monitor));
    expect(second.maxConnections).toBe(47);
  });

  test("an account without PROCESS reports own-account-only with a warning", async () => {
    await open(app, 3);
    await open(noProcess, 2);
    const result = await probe(urlFor(noProcess));
    expect(result.visibility).toBe("own-account-only");
    expect(result.connectionsByUser).toEqual({ [noProcess.user]: 2 }); // its own other connections only
    expect(result.threadsConnected).toBeGreaterThanOrEqual(3 + 2 + 1); // the server-wide total is still visible
    expect(result.warnings.join("\n")).toMatch(/lacks the PROCESS privilege.*sees only its own connections/);
    expect(result.warnings.join("\n")).toContain(`Threads_connected is ${result.threadsConnected}`);
  });

  test("a monitoring account with only PROCESS sees the other accounts", async () => {
    await open(app, 2);
    await open(noProcess, 1);
    const result = await probe(urlFor(monitor));
    expect(result.visibility).toBe("processlist");
    expect(result.connectionsByUser).toMatchObject({ [app.user]: 2, [noProcess.user]: 1 });
  });

  test("per-account MAX_USER_CONNECTIONS: full table for root, own limit only for others", async () => {
    const asRoot = await probe(server.rootUrl);
    expect(asRoot.accountLimitsReadable).toBe(true);
    expect(asRoot.accountLimits).toContainEqual({ user: limited.user, host: "%", maxUserConnections: 4 });
    expect(asRoot.accountLimits.every((l) => l.maxUserConnections !== 0)).toBe(true);

    const asMonitor = await probe(urlFor(monitor));
    expect(asMonitor.accountLimitsReadable).toBe(false);
    expect(asMonitor.accountLimits).toEqual([]);
    expect(asMonitor.warnings.join("\n")).toMatch(/cannot read per-account MAX_USER_CONNECTIONS limits/);

    const asLimited = await probe(urlFor(limited));
    expect(asLimited.accountLimitsReadable).toBe(false);
    expect(asLimited.accountLimits).toEqual([{ user: limited.user, host: "%", maxUserConnections: 4 }]);

    // MariaDB keeps the limit in mysql.global_priv (JSON); that table alone is enough.
    const asPrivReader = await probe(urlFor(privReader));
    expect(asPrivReader.accountLimitsReadable).toBe(true);
    expect(asPrivReader.accountLimits).toContainEqual({ user: limited.user, host: "%", maxUserConnections: 4 });
  });

  test("an account at its MAX_USER_CONNECTIONS gets kind account-limit (1226)", async () => {
    await open(limited, 4);
    const err = await probeError(probe(urlFor(limited)));
    expect(err.kind).toBe("account-limit");
    expect(err.errno).toBe(1226);
    expect(err.message).toContain(`${limited.user}@${server.host}:${server.port}`);
    expectNoSecret(err, limited.password);
  });

  test("wrong password: kind auth, and the password appears nowhere", async () => {
    const wrong = { user: app.user, password: `Wrong-${secret()}` };
    const err = await probeError(probe(urlFor(wrong)));
    expect(err.kind).toBe("auth");
    expect(err.errno).toBe(1045);
    expect(err.message).toContain(`${app.user}@${server.host}:${server.port}`);
    expect(err.message).toMatch(/authentication failed/);
    expectNoSecret(err, wrong.password);
  });

  test("unknown user: kind auth", async () => {
    const err = await probeError(probe(urlFor({ user: "pt_nobody", password: secret() })));
    expect(err.kind).toBe("auth");
  });

  test("a database the account may not use: kind privilege (1044), connection closed", async () => {
    const err = await probeError(probe(urlFor(noProcess, server.host, server.port, "mysql")));
    expect(err.kind).toBe("privilege");
    expect(err.errno).toBe(1044);
    expect(err.message).toMatch(/needs only PROCESS/);
    await waitUntilGone(root, noProcess.user);
  });

  test("closed port: kind unreachable, naming host:port and user", async () => {
    const port = await closedPort();
    const err = await probeError(probe(urlFor(app, "127.0.0.1", port)));
    expect(err.kind).toBe("unreachable");
    expect(err.code).toBe("ECONNREFUSED");
    expect(err.message).toContain(`${app.user}@127.0.0.1:${port}`);
    expectNoSecret(err, app.password);
  });

  test("server full: every max_connections slot taken by a non-SUPER account gives kind server-full (1040)", async () => {
    await root.query("SET GLOBAL max_connections = 10"); // MariaDB's minimum
    const before = await probe(server.rootUrl);
    const fillers: Connection[] = [];
    let refused: unknown;
    for (let i = 0; i < 20 && refused === undefined; i++) {
      try {
        fillers.push(...(await open(filler, 1)));
      } catch (err) {
        refused = err;
      }
    }
    expect((refused as { errno?: number }).errno).toBe(1040);
    // Non-SUPER clients get exactly max_connections slots in total (root's helper connection is one of them).
    expect(await threadsConnected(root)).toBe(10);
    expect(fillers.length).toBe(9);

    const err = await probeError(probe(urlFor(monitor)));
    expect(err.kind).toBe("server-full");
    expect(err.errno).toBe(1040);
    expect(err.message).toMatch(/is full.*max_connections/);
    expectNoSecret(err, monitor.password);

    // MariaDB counts a non-SUPER 1040 only in Aborted_connects; Connection_errors_max_connections moves only
    // once the extra SUPER slot is taken too. Root uses that slot here.
    const after = await probe(server.rootUrl);
    expect(after.abortedConnects).toBeGreaterThanOrEqual((before.abortedConnects ?? Number.NaN) + 2);
    expect(after.connectionErrorsMaxConnections).toBe(before.connectionErrorsMaxConnections);
    expect(after.maxUsedConnections).toBeGreaterThanOrEqual(11);

    // The probes' connections close asynchronously on the server: wait for the extra slot to be free again.
    await vi.waitFor(async () => expect(await threadsConnected(root)).toBe(10), { timeout: 10_000, interval: 50 });
    const extraSlot = await connectRoot(server.rootUrl);
    try {
      expect((await probeError(probe(server.rootUrl))).kind).toBe("server-full");
      const rows = await extraSlot.query<Array<{ Value: string }>>(
        "SHOW GLOBAL STATUS LIKE 'Connection_errors_max_connections'",
      );
      expect(Number(rows[0]?.Value)).toBe(before.connectionErrorsMaxConnections + 1);
    } finally {
      await extraSlot.close();
    }
  });
});

describe("second server with performance_schema ON", () => {
  let ps: MariaDb;
  let psRoot: Root;
  const psReader: Account = { user: "pt_psreader", password: secret() }; // SELECT on performance_schema

  beforeAll(async () => {
    // MariaDB only lets SET GLOBAL max_user_connections change it when the server started with a non-zero value.
    ps = await startMariaDb({
      label: "mysql-ps",
      performanceSchema: true,
      maxConnections: 20,
      extraArgs: ["--max-user-connections=50"],
    });
    psRoot = await connectRoot(ps.rootUrl);
    await createAccounts(psRoot);
    await psRoot.query(`CREATE USER '${psReader.user}'@'%' IDENTIFIED BY '${psReader.password}'`);
    await psRoot.query(`GRANT SELECT ON performance_schema.* TO '${psReader.user}'@'%'`);
  });

  afterEach(async () => {
    await closeAll([...opened]);
    await waitUntilGone(psRoot, ...allUsers(), psReader.user);
  });

  afterAll(async () => {
    await psRoot?.close();
    await ps?.stop();
  });

  test("counts per user from performance_schema.accounts, without its own connection", async () => {
    await open(app, 3, ps.host, ps.port);
    await open(psReader, 1, ps.host, ps.port);
    const result: ProbeResult = await probe(urlFor(psReader, ps.host, ps.port));
    expect(result.visibility).toBe("performance_schema");
    expect(result.connectionsByUser[app.user]).toBe(3);
    expect(result.connectionsByUser[psReader.user]).toBe(1); // the other one, not the probe
    expect(result.maxConnections).toBe(20);
    expect(result.maxUserConnections).toBe(50);
    expect(result.warnings.join("\n")).not.toMatch(/PROCESS|performance_schema/);

    await closeAll([...opened]);
    await waitUntilGone(psRoot, app.user);
    await vi.waitFor(
      async () => {
        const later = await probe(urlFor(psReader, ps.host, ps.port));
        expect(later.connectionsByUser[app.user]).toBeUndefined();
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  test("a PROCESS-only account cannot read performance_schema and falls back to PROCESSLIST", async () => {
    await open(app, 2, ps.host, ps.port);
    const result = await probe(urlFor(monitor, ps.host, ps.port));
    expect(result.visibility).toBe("processlist");
    expect(result.connectionsByUser[app.user]).toBe(2);
  });

  test("SET GLOBAL max_user_connections shows up, and hitting it gives kind account-limit (1203)", async () => {
    await psRoot.query("SET GLOBAL max_user_connections = 2");
    try {
      const result = await probe(urlFor(monitor, ps.host, ps.port));
      expect(result.maxUserConnections).toBe(2);
      await open(app, 2, ps.host, ps.port);
      const err = await probeError(probe(urlFor(app, ps.host, ps.port)));
      expect(err.kind).toBe("account-limit");
      expect(err.errno).toBe(1203);
      expectNoSecret(err, app.password);
    } finally {
      await psRoot.query("SET GLOBAL max_user_connections = 50");
    }
  });

  test("a stopped server (SIGSTOP) gives kind timeout within the connect timeout", async () => {
    process.kill(ps.pid, "SIGSTOP");
    try {
      const started = Date.now();
      const err = await probeError(probe(urlFor(monitor, ps.host, ps.port), { connectTimeoutMs: 1_000 }));
      expect(err.kind).toBe("timeout");
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(err.message).toContain(`${monitor.user}@${ps.host}:${ps.port}`);
    } finally {
      process.kill(ps.pid, "SIGCONT");
    }
    const recovered = await probe(urlFor(monitor, ps.host, ps.port));
    expect(recovered.maxConnections).toBe(20);
  });
});

/** A port nothing listens on: bound by the kernel, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}
