// A private MariaDB server per test run (DESIGN §5): own datadir, random port, own socket and pid file,
// chosen max_connections. Used by the mysql, Kubernetes and Docker suites; nothing here is mocked.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import mysql, { type Connection } from "mysql2/promise";
import { freePort, isAlive, readTail, sleep } from "./server-process.js";

const execFileP = promisify(execFile);

/** What the global setup hands to tests through vitest's provide/inject (must stay serializable). */
export interface MariaDbInfo {
  host: string;
  port: number;
  /** `mysql://root:<password>@host:port/`: a test-only secret for a throwaway server. */
  rootUrl: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    mariadb: MariaDbInfo;
  }
}

export interface MariaDbOptions {
  /** Default 30. */
  maxConnections?: number;
  /** MariaDB ships it OFF; default false. */
  performanceSchema?: boolean;
  /** Default 127.0.0.1. Use an address containers can reach (e.g. the docker bridge) for the Docker suite. */
  bindAddress?: string;
  /** Extra `--option=value` arguments for mariadbd. */
  extraArgs?: string[];
  /** Whole start (install + boot) deadline; default 60 s. */
  startTimeoutMs?: number;
  /** Short name that appears in the temp dir and in error messages. */
  label?: string;
}

export interface MariaDb extends MariaDbInfo {
  rootPassword: string;
  pid: number;
  /** Temp dir holding datadir, socket, pid file and error log; removed by stop(). */
  baseDir: string;
  /** Runs one statement as root over a single, lazily opened connection (it holds one slot). */
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T>;
  /** Current tail of the server's error log. */
  errorLogTail(lines?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `timeoutMs` (default 20 s); removes the temp dir. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

const MARIADBD = "/usr/sbin/mariadbd";
const INSTALL_DB = "/usr/bin/mariadb-install-db";
const DIR_PREFIX = "pooltuner-mariadb-";
const BIND_RETRIES = 3;

export async function startMariaDb(options: MariaDbOptions = {}): Promise<MariaDb> {
  const label = options.label ?? "mariadb";
  for (const bin of [MARIADBD, INSTALL_DB]) {
    if (!existsSync(bin)) {
      throw new Error(`${label}: ${bin} not found; install the Debian packages mariadb-server and mariadb-client`);
    }
  }
  await removeStaleInstances();

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  const baseDir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${label}-`));
  try {
    await writeFile(join(baseDir, "owner.pid"), String(process.pid));
    const rootPassword = randomBytes(12).toString("hex");
    await installDatadir(baseDir, label);
    await writeFile(join(baseDir, "init.sql"), initSql(rootPassword), { mode: 0o600 });

    for (let attempt = 1; ; attempt++) {
      const port = await freePort(options.bindAddress ?? "127.0.0.1");
      const started = await boot(baseDir, port, rootPassword, options, deadline, label);
      if (started.kind === "ok") return started.db;
      if (started.kind === "port-taken" && attempt < BIND_RETRIES) continue;
      throw new Error(started.message);
    }
  } catch (err) {
    await rm(baseDir, { recursive: true, force: true });
    throw err;
  }
}

/** Opens a root client on an already running server (e.g. from `inject("mariadb").rootUrl`). */
export async function connectRoot(rootUrl: string): Promise<{
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T>;
  close(): Promise<void>;
}> {
  const conn = await mysql.createConnection({ uri: rootUrl, connectTimeout: 5_000 });
  conn.on("error", () => {});
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<T> {
      const [rows] = await conn.query(sql, params);
      return rows as T;
    },
    close: () => conn.end().catch(() => conn.destroy()),
  };
}

// Root over TCP from anywhere (skip-name-resolve makes '%' match 127.0.0.1); the other default accounts go.
function initSql(rootPassword: string): string {
  return [
    "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';",
    `CREATE OR REPLACE USER 'root'@'%' IDENTIFIED BY '${rootPassword}';`,
    "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;",
    "",
  ].join("\n");
}

async function installDatadir(baseDir: string, label: string): Promise<void> {
  try {
    await execFileP(
      INSTALL_DB,
      [
        "--no-defaults",
        `--datadir=${join(baseDir, "data")}`,
        "--user=root",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--skip-name-resolve",
        // Its own temp dir: bootstrap's internal temp tables in the shared /tmp were seen removed under it while
        // other suites started servers at the same time ("Could not remove temporary table '/tmp/#sql-temptable…'").
        `--tmpdir=${baseDir}`,
      ],
      { timeout: 60_000, maxBuffer: 4 * 1024 * 1024 },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const out = `${e.stdout ?? ""}\n${e.stderr ?? ""}`.trim().split("\n").slice(-20).join("\n");
    throw new Error(`${label}: mariadb-install-db failed: ${e.message}\n${out}`);
  }
}

type BootResult = { kind: "ok"; db: MariaDb } | { kind: "port-taken" | "failed"; message: string };

async function boot(
  baseDir: string,
  port: number,
  rootPassword: string,
  options: MariaDbOptions,
  deadline: number,
  label: string,
): Promise<BootResult> {
  const bindAddress = options.bindAddress ?? "127.0.0.1";
  const host = bindAddress === "0.0.0.0" || bindAddress === "::" ? "127.0.0.1" : bindAddress;
  const errorLog = join(baseDir, "error.log");
  await rm(errorLog, { force: true });
  const args = [
    "--no-defaults", // never read /etc/mysql (a system server may be running with its own config)
    `--datadir=${join(baseDir, "data")}`,
    `--tmpdir=${baseDir}`,
    `--socket=${join(baseDir, "mysqld.sock")}`,
    `--pid-file=${join(baseDir, "mysqld.pid")}`,
    `--log-error=${errorLog}`,
    `--init-file=${join(baseDir, "init.sql")}`,
    `--port=${port}`,
    `--bind-address=${bindAddress}`,
    "--user=root",
    "--skip-name-resolve",
    "--skip-log-bin",
    `--max-connections=${options.maxConnections ?? 30}`,
    `--performance-schema=${options.performanceSchema ? "ON" : "OFF"}`,
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(MARIADBD, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8_000);
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  child.once("error", () => {}); // spawn failures also end in "exit" or show in the log
  const killOnExit = () => killAndForget(child);
  process.once("exit", killOnExit);

  const tail = async () => `${await readTail(errorLog, 30, "(no error log)")}${stderr ? `\nstderr:\n${stderr}` : ""}`;
  const rootUrl = `mysql://root:${rootPassword}@${host.includes(":") ? `[${host}]` : host}:${port}/`;

  let lastError = "";
  while (exited === undefined) {
    if (Date.now() > deadline) {
      await terminate(child, exitPromise, () => exited !== undefined, 5_000);
      process.removeListener("exit", killOnExit);
      return {
        kind: "failed",
        message: `${label}: mariadbd did not accept connections on ${host}:${port} in time (last error: ${lastError})\n${await tail()}`,
      };
    }
    try {
      const probeConn = await mysql.createConnection({
        host,
        port,
        user: "root",
        password: rootPassword,
        connectTimeout: 2_000,
      });
      await probeConn.end();
      break;
    } catch (err) {
      lastError = (err as { code?: string }).code ?? String(err);
      await sleep(100);
    }
  }
  if (exited !== undefined) {
    process.removeListener("exit", killOnExit);
    const log = await tail();
    const portTaken = /Address already in use|Can't start server: Bind/i.test(log);
    const how = `exit code ${exited.code ?? "-"}${exited.signal ? `, signal ${exited.signal}` : ""}`;
    return {
      kind: portTaken ? "port-taken" : "failed",
      message: `${label}: mariadbd exited during start-up (${how}) on ${host}:${port}\n${log}`,
    };
  }

  let rootConn: Connection | undefined;
  let stopped: Promise<void> | undefined;
  const db: MariaDb = {
    host,
    port,
    rootUrl,
    rootPassword,
    pid: child.pid ?? -1,
    baseDir,
    async query<T>(sql: string, params?: unknown[]): Promise<T> {
      if (!rootConn) {
        rootConn = await mysql.createConnection({ host, port, user: "root", password: rootPassword });
        rootConn.on("error", () => {
          rootConn = undefined;
        });
      }
      const [rows] = await rootConn.query(sql, params);
      return rows as T;
    },
    errorLogTail: (lines = 30) => readTail(errorLog, lines, "(no error log)"),
    stop(timeoutMs = 20_000) {
      stopped ??= (async () => {
        const conn = rootConn;
        rootConn = undefined;
        await conn?.end().catch(() => conn.destroy());
        await terminate(child, exitPromise, () => exited !== undefined, timeoutMs);
        process.removeListener("exit", killOnExit);
        await rm(baseDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return { kind: "ok", db };
}

async function terminate(
  child: ChildProcess,
  exitPromise: Promise<void>,
  hasExited: () => boolean,
  timeoutMs: number,
): Promise<void> {
  if (hasExited()) return;
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exitPromise.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut && !hasExited()) {
    child.kill("SIGKILL");
    await exitPromise;
  }
}

// Last resort when the test process exits without stop(): synchronous only; the next start removes the dir.
function killAndForget(child: ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

/** Instances whose owning test process died (crash, SIGKILL) are killed and their temp dirs removed. */
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
    const serverPid = Number(await readFile(join(dir, "mysqld.pid"), "utf8").catch(() => "NaN"));
    if (Number.isInteger(serverPid) && isAlive(serverPid)) {
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
