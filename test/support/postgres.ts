// A private PostgreSQL server per test suite (DESIGN §5), from Debian's postgresql-15 binaries: own datadir
// (initdb), own port, unix socket in its temp dir, chosen max_connections, random superuser password. PostgreSQL
// refuses to run as root, so initdb and postgres run as the `postgres` system user (or `nobody`), which owns the
// temp dir. Nothing here is mocked; a server that does not start fails with the tail of its log.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort, isAlive, readTail, sleep } from "./server-process.js";

const execFileP = promisify(execFile);

/** What the global setup hands to tests through vitest's provide/inject (must stay serializable). */
export interface PostgresInfo {
  host: string;
  port: number;
  /** `postgres://admin:<password>@host:port/postgres`: a test-only secret for a throwaway server. */
  superUrl: string;
  /** The directory holding the server's unix socket. */
  socketDir: string;
  maxConnections: number;
  superuserReservedConnections: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    postgres: PostgresInfo;
  }
}

export interface PostgresOptions {
  /** Default 20. */
  maxConnections?: number;
  /** Default 3 (PostgreSQL's own default). */
  superuserReservedConnections?: number;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
  /** Whole start (initdb + boot) deadline; default 60 s. */
  startTimeoutMs?: number;
  /** Short name that appears in the temp dir and in error messages. */
  label?: string;
}

export interface PostgresServer extends PostgresInfo {
  superPassword: string;
  readonly pid: number;
  /** Temp dir holding datadir, socket and log; removed by stop(). */
  baseDir: string;
  /** Milliseconds from initdb to the first accepted connection. */
  startupMs: number;
  /** Runs one statement as the superuser over a single, lazily opened connection (it holds one slot). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Current tail of the server's log. */
  logTail(lines?: number): Promise<string>;
  /** Stops the server and starts it again on the same datadir and port, with `changes` to the options. */
  restart(changes?: PostgresOptions): Promise<void>;
  /** SIGINT (fast shutdown), then SIGKILL after `timeoutMs` (default 20 s); removes the temp dir. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

export const PG_BIN = "/usr/lib/postgresql/15/bin";
const DIR_PREFIX = "pooltuner-postgres-";
const BIND_RETRIES = 3;
export const SUPERUSER = "admin";

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const label = options.label ?? "postgres";
  for (const bin of ["initdb", "postgres"]) {
    if (!existsSync(join(PG_BIN, bin))) {
      throw new Error(
        `${label}: ${join(PG_BIN, bin)} not found; run scripts/testbed/postgres.sh ensure (Debian's postgresql-15)`,
      );
    }
  }
  await removeStaleInstances();
  const started = Date.now();
  const deadline = started + (options.startTimeoutMs ?? 60_000);
  const owner = await serverUser(label);
  const baseDir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${label}-`));
  try {
    await writeFile(join(baseDir, "owner.pid"), String(process.pid));
    await chmod(baseDir, 0o700);
    await chown(baseDir, owner.uid, owner.gid);
    const superPassword = randomBytes(12).toString("hex");
    const pwfile = join(baseDir, "pwfile");
    await writeFile(pwfile, `${superPassword}\n`, { mode: 0o600 });
    await chown(pwfile, owner.uid, owner.gid);
    await initdb(baseDir, owner, label);
    await rm(pwfile, { force: true });

    for (let attempt = 1; ; attempt++) {
      const port = await freePort("127.0.0.1");
      const booted = await boot(baseDir, port, superPassword, owner, options, deadline, label, started);
      if (booted.kind === "ok") return booted.server;
      if (booted.kind === "port-taken" && attempt < BIND_RETRIES) continue;
      throw new Error(booted.message);
    }
  } catch (err) {
    await rm(baseDir, { recursive: true, force: true });
    throw err;
  }
}

/** The unprivileged user that owns and runs the server: `postgres` (Debian's package makes it), else `nobody`. */
async function serverUser(label: string): Promise<{ name: string; uid: number; gid: number }> {
  if (process.getuid?.() !== 0) {
    return { name: "(self)", uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
  }
  const passwd = await readFile("/etc/passwd", "utf8");
  for (const name of ["postgres", "nobody"]) {
    const line = passwd.split("\n").find((l) => l.startsWith(`${name}:`));
    const [, , uid, gid] = line?.split(":") ?? [];
    if (uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(`${label}: running as root and neither a postgres nor a nobody user exists to run the server`);
}

async function initdb(baseDir: string, owner: { uid: number; gid: number }, label: string): Promise<void> {
  try {
    await execFileP(
      join(PG_BIN, "initdb"),
      [
        `--pgdata=${join(baseDir, "data")}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${join(baseDir, "pwfile")}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
      ],
      { timeout: 60_000, maxBuffer: 4 * 1024 * 1024, uid: owner.uid, gid: owner.gid, cwd: baseDir },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const out = `${e.stdout ?? ""}\n${e.stderr ?? ""}`.trim().split("\n").slice(-20).join("\n");
    throw new Error(`${label}: initdb failed: ${e.message}\n${out}`);
  }
}

type BootResult = { kind: "ok"; server: PostgresServer } | { kind: "port-taken" | "failed"; message: string };

interface Running {
  readonly child: ChildProcess;
  readonly exitPromise: Promise<void>;
  readonly hasExited: () => boolean;
  readonly killOnExit: () => void;
}
type SpawnResult = { kind: "ok"; running: Running } | { kind: "port-taken" | "failed"; message: string };

function settingsFor(baseDir: string, port: number, options: PostgresOptions): Record<string, string> {
  return {
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: baseDir,
    max_connections: String(options.maxConnections ?? 20),
    superuser_reserved_connections: String(options.superuserReservedConnections ?? 3),
    // A throwaway server: no durability, little memory.
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    shared_buffers: "16MB",
    logging_collector: "off",
    log_min_messages: "warning",
    ...options.settings,
  };
}

/** Starts postgres on the datadir and waits until it accepts the superuser; on failure, the log's tail. */
async function spawnServer(
  baseDir: string,
  port: number,
  superPassword: string,
  owner: { uid: number; gid: number },
  options: PostgresOptions,
  deadline: number,
  label: string,
): Promise<SpawnResult> {
  const host = "127.0.0.1";
  const logFile = join(baseDir, "server.log");
  const settings = settingsFor(baseDir, port, options);
  const log = await open(logFile, "a");
  const child = spawn(
    join(PG_BIN, "postgres"),
    ["-D", join(baseDir, "data"), ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])],
    { stdio: ["ignore", log.fd, log.fd], uid: owner.uid, gid: owner.gid, cwd: baseDir },
  );
  await log.close();
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  child.once("error", () => {}); // spawn failures also end in "exit"
  const killOnExit = () => killAndForget(child);
  process.once("exit", killOnExit);
  const running: Running = { child, exitPromise, hasExited: () => exited !== undefined, killOnExit };

  let lastError = "";
  while (exited === undefined) {
    if (Date.now() > deadline) {
      await terminate(running, 5_000);
      return {
        kind: "failed",
        message: `${label}: postgres did not accept connections on ${host}:${port} in time (last error: ${lastError})\n${await readTail(logFile, 30, "(no server log)")}`,
      };
    }
    const c = new pg.Client({
      host,
      port,
      user: SUPERUSER,
      password: superPassword,
      database: "postgres",
      connectionTimeoutMillis: 2_000,
    });
    c.on("error", () => {});
    try {
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      lastError = (err as { code?: string }).code ?? String(err);
      await c.end().catch(() => {});
      await sleep(50);
    }
  }
  if (exited !== undefined) {
    process.removeListener("exit", killOnExit);
    const text = await readTail(logFile, 30, "(no server log)");
    const how = `exit code ${exited.code ?? "-"}${exited.signal ? `, signal ${exited.signal}` : ""}`;
    return {
      kind: /could not bind|Address already in use/i.test(text) ? "port-taken" : "failed",
      message: `${label}: postgres exited during start-up (${how}) on ${host}:${port}\n${text}`,
    };
  }
  return { kind: "ok", running };
}

async function boot(
  baseDir: string,
  port: number,
  superPassword: string,
  owner: { uid: number; gid: number },
  options: PostgresOptions,
  deadline: number,
  label: string,
  started: number,
): Promise<BootResult> {
  const host = "127.0.0.1";
  const spawned = await spawnServer(baseDir, port, superPassword, owner, options, deadline, label);
  if (spawned.kind !== "ok") return spawned;
  let running = spawned.running;
  const startupMs = Date.now() - started;
  const config = { host, port, user: SUPERUSER, password: superPassword, database: "postgres" };

  let superClient: pg.Client | undefined;
  let stopped: Promise<void> | undefined;
  const dropSuper = async () => {
    const c = superClient;
    superClient = undefined;
    await c?.end().catch(() => {});
  };
  const server: PostgresServer = {
    host,
    port,
    superUrl: `postgres://${SUPERUSER}:${superPassword}@${host}:${port}/postgres`,
    socketDir: baseDir,
    maxConnections: options.maxConnections ?? 20,
    superuserReservedConnections: options.superuserReservedConnections ?? 3,
    superPassword,
    get pid() {
      return running.child.pid ?? -1;
    },
    baseDir,
    startupMs,
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      if (!superClient) {
        const c = new pg.Client(config);
        c.on("error", () => {
          if (superClient === c) superClient = undefined;
        });
        await c.connect();
        superClient = c;
      }
      return (await superClient.query(sql, params)).rows as T[];
    },
    logTail: (lines = 30) => readTail(join(baseDir, "server.log"), lines, "(no server log)"),
    async restart(changes: PostgresOptions = {}) {
      await dropSuper();
      await terminate(running, 20_000);
      const next = { ...options, ...changes };
      const again = await spawnServer(baseDir, port, superPassword, owner, next, Date.now() + 60_000, label);
      if (again.kind !== "ok") throw new Error(again.message);
      running = again.running;
      server.maxConnections = next.maxConnections ?? 20;
      server.superuserReservedConnections = next.superuserReservedConnections ?? 3;
    },
    stop(timeoutMs = 20_000) {
      stopped ??= (async () => {
        await dropSuper();
        await terminate(running, timeoutMs);
        await rm(baseDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return { kind: "ok", server };
}

/** Runs statements as the superuser on an already running server (e.g. from `inject("postgres").superUrl`). */
export async function connectSuper(superUrl: string): Promise<{
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}> {
  const c = new pg.Client({ connectionString: superUrl, connectionTimeoutMillis: 5_000 });
  c.on("error", () => {});
  await c.connect();
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      return (await c.query(sql, params)).rows as T[];
    },
    close: () => c.end().catch(() => {}),
  };
}

/** SIGINT (fast shutdown: ends the sessions, then exits), SIGKILL after `timeoutMs`. */
async function terminate(r: Running, timeoutMs: number): Promise<void> {
  if (!r.hasExited()) {
    r.child.kill("SIGINT");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      r.exitPromise.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut && !r.hasExited()) {
      r.child.kill("SIGKILL");
      await r.exitPromise;
    }
  }
  process.removeListener("exit", r.killOnExit);
}

// Last resort when the test process exits without stop(): synchronous only; the next start removes the dir.
function killAndForget(child: ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

/** Servers whose owning test process died (crash, SIGKILL) are killed and their temp dirs removed. */
async function removeStaleInstances(): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(tmpdir());
  } catch {
    return;
  }
  for (const name of entries.filter((n) => n.startsWith(DIR_PREFIX))) {
    const dir = join(tmpdir(), name);
    const owner = Number(await readFile(join(dir, "owner.pid"), "utf8").catch(() => "NaN"));
    if (!Number.isInteger(owner) || isAlive(owner)) continue;
    const pidLine = (await readFile(join(dir, "data", "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0];
    const serverPid = Number(pidLine);
    if (Number.isInteger(serverPid) && serverPid > 0 && isAlive(serverPid)) {
      const cmdline = await readFile(`/proc/${serverPid}/cmdline`, "utf8").catch(() => "");
      if (cmdline.includes(dir)) {
        try {
          process.kill(serverPid, "SIGKILL");
        } catch {
          // raced with its exit
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** Client backends the server has now, as a superuser session counts them (its own included). */
export async function clientBackends(su: {
  query: Awaited<ReturnType<typeof connectSuper>>["query"];
}): Promise<number> {
  const [row] = await su.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'",
  );
  return Number(row?.n);
}

/**
 * Until the superuser's session is the only client backend: the server notices closed sessions a moment after the
 * client ends them. Throws when they are still there after `timeoutMs`, so a test never starts from a leftover.
 */
export async function untilOnlySuperuser(
  su: { query: Awaited<ReturnType<typeof connectSuper>>["query"] },
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let n = await clientBackends(su);
  while (n > 1) {
    if (Date.now() > deadline) throw new Error(`${n - 1} client sessions still open ${timeoutMs} ms after they ended`);
    await new Promise((r) => setTimeout(r, 50));
    n = await clientBackends(su);
  }
}
