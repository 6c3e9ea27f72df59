// One-shot read of what a MySQL/MariaDB server allows and what its clients hold now (DESIGN §3).
// One connection, short timeouts, read-only; optional reads degrade to warnings instead of failing the probe.
// probe() opens and closes its connection; ProbeSession (the daemons) keeps it open between reads.
import mysql, { type Connection } from "mysql2/promise";
import { KeptConnection } from "../runtime/kept-connection.js";
import { describeTarget, type MysqlDsn, parseMysqlUrl } from "./dsn.js";
import { ProbeError, toProbeError } from "./errors.js";

export type Visibility = "performance_schema" | "processlist" | "own-account-only";

export interface AccountLimit {
  user: string;
  host: string;
  maxUserConnections: number;
}

export interface ProbeResult {
  /** `user@host:port` of the probe itself; never the password. */
  target: string;
  version: string;
  /** The account the server matched (CURRENT_USER()), e.g. `{ user: "monitor", host: "%" }`. */
  account: { user: string; host: string };
  /** Global `max_connections`. The server admits one more, for SUPER/CONNECTION ADMIN only. */
  maxConnections: number;
  /** Global `max_user_connections`; 0 means no global per-account cap. */
  maxUserConnections: number;
  /** Server-wide client connections now, visible to any account; includes the probe's own connection. */
  threadsConnected: number;
  maxUsedConnections: number;
  /**
   * Connections refused for max_connections since server start. MariaDB 10.11 counts here only refusals beyond
   * the +1 SUPER slot; an ordinary 1040 at max_connections shows up only in abortedConnects.
   */
  connectionErrorsMaxConnections: number;
  /**
   * Failed connection attempts of any cause (1040, bad password, handshake errors) since server start.
   * Always set by probe(); optional only so hand-built results (tests) need not name it.
   */
  abortedConnects?: number;
  /** Where connectionsByUser comes from; "own-account-only" means other clients are invisible. */
  visibility: Visibility;
  /** Current connections per login user, excluding the probe's own connection and server-internal threads. */
  connectionsByUser: Record<string, number>;
  /** Accounts with a non-zero per-account MAX_USER_CONNECTIONS (0 falls back to the global value). */
  accountLimits: AccountLimit[];
  /** False when the account table was not readable: accountLimits then holds at most the probe's own account. */
  accountLimitsReadable: boolean;
  warnings: string[];
}

export interface ProbeOptions {
  /** TCP connect + handshake; default 5 s. */
  connectTimeoutMs?: number;
  /** Each query; default 5 s. */
  queryTimeoutMs?: number;
}

type Row = Record<string, unknown>;

/**
 * Probes `url` (a mysql:// URL or a parsed DSN). Throws DsnError for a malformed URL and ProbeError
 * (kind unreachable | timeout | auth | privilege | server-full | account-limit | protocol) otherwise.
 */
export async function probe(url: string | MysqlDsn, options: ProbeOptions = {}): Promise<ProbeResult> {
  const dsn = typeof url === "string" ? parseMysqlUrl(url) : url;
  const target = describeTarget(dsn);
  let conn: Connection | undefined;
  try {
    conn = await connect(dsn, options);
    return await read(queryOn(conn, options), target);
  } catch (err) {
    throw toProbeError(err, target, [dsn.password]);
  } finally {
    if (conn) await close(conn);
  }
}

/**
 * A probe that keeps its one connection open between reads, for the daemons: a server that is full (error 1040,
 * exactly when pooltuner is needed) refuses a new connection, even the SUPER/CONNECTION ADMIN extra slot once
 * someone else holds it, but still answers one that is already in (src/runtime/kept-connection.ts).
 */
export class ProbeSession {
  private readonly kept: KeptConnection<Connection, ProbeResult>;

  constructor(url: string | MysqlDsn, options: ProbeOptions = {}) {
    const dsn = typeof url === "string" ? parseMysqlUrl(url) : url;
    const target = describeTarget(dsn);
    this.kept = new KeptConnection({
      connect: () => connect(dsn, options),
      close,
      read: (conn) => read(queryOn(conn, options), target),
      broken: connectionBroken,
      toError: (err) => toProbeError(err, target, [dsn.password]),
      closedError: () => new ProbeError(`probe of ${target} is closed`, { kind: "unreachable", target }),
    });
  }

  /** Whether a connection is open now (it may still turn out dead at the next read). */
  connected(): boolean {
    return this.kept.connected();
  }

  read(): Promise<ProbeResult> {
    return this.kept.read();
  }

  close(): Promise<void> {
    return this.kept.close();
  }
}

/** An error after which the connection cannot be trusted: fatal (socket, protocol) or a query that timed out. */
function connectionBroken(err: unknown): boolean {
  if (err instanceof ProbeError) return false; // an answer that could not be read; the connection itself is fine
  const e = err as { fatal?: unknown; code?: unknown; errno?: unknown };
  if (e?.fatal === true) return true;
  if (typeof e?.code === "string" && /TIMEOUT|CONNECTION_LOST|ECONNRESET|EPIPE/.test(e.code)) return true;
  // A server error with a number (a missing privilege) leaves the connection usable; anything else may not.
  return !(typeof e?.errno === "number" && e.errno > 0);
}

async function connect(dsn: MysqlDsn, options: ProbeOptions): Promise<Connection> {
  const conn = await mysql.createConnection({
    host: dsn.host,
    port: dsn.port,
    user: dsn.user,
    password: dsn.password,
    ...(dsn.database ? { database: dsn.database } : {}),
    ...(dsn.socketPath ? { socketPath: dsn.socketPath } : {}),
    ...(dsn.ssl ? { ssl: {} } : {}),
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    connectAttributes: { program_name: "pooltuner-probe" },
    // mysql2 preallocates its prepared-statement cache (16,000 slots, ~0.5 MB) per connection; the probe never
    // prepares statements, and the controller probes many databases at once.
    maxPreparedStatements: 1,
  });
  // A fatal error after connect is also reported by the pending query; without a listener it would crash.
  conn.on("error", () => {});
  return conn;
}

function queryOn(c: Connection, options: ProbeOptions): (sql: string) => Promise<Row[]> {
  const timeout = options.queryTimeoutMs ?? 5_000;
  return async (sql) => {
    const [rows] = await c.query({ sql, timeout });
    return rows as Row[];
  };
}

async function read(query: (sql: string) => Promise<Row[]>, target: string): Promise<ProbeResult> {
  const warnings: string[] = [];
  const [basics] = await query(
    "SELECT VERSION() AS version, @@GLOBAL.max_connections AS max_connections, " +
      "@@GLOBAL.max_user_connections AS max_user_connections, @@GLOBAL.performance_schema AS performance_schema, " +
      "CONNECTION_ID() AS connection_id, CURRENT_USER() AS current_account, USER() AS login",
  );
  if (!basics) throw protocolError(target, "the server returned no row for SELECT VERSION()");
  const account = splitAccount(String(basics.current_account));
  const loginUser = splitAccount(String(basics.login)).user;
  const connectionId = int(basics.connection_id, "CONNECTION_ID()", target);

  const status = new Map(
    (
      await query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN " +
          "('Threads_connected', 'Max_used_connections', 'Connection_errors_max_connections', 'Aborted_connects')",
      )
    ).map((r) => [String(r.Variable_name).toLowerCase(), r.Value]),
  );
  const statusInt = (name: string) => int(status.get(name.toLowerCase()), name, target);
  const threadsConnected = statusInt("Threads_connected");

  const grants = (await query("SHOW GRANTS")).map((r) => String(Object.values(r)[0] ?? ""));
  const hasProcess = grants.some(grantsGlobalProcess);

  const { visibility, connectionsByUser } = await readUsage(query, target, {
    performanceSchema: int(basics.performance_schema, "@@performance_schema", target) === 1,
    loginUser,
    connectionId,
    hasProcess,
    describeOwn: `account ${account.user}@${account.host}`,
    threadsConnected,
    warnings,
  });

  const limits = await readAccountLimits(query, target);
  let accountLimits = limits ?? [];
  if (!limits) {
    warnings.push(
      `cannot read per-account MAX_USER_CONNECTIONS limits (grant SELECT on mysql.global_priv or mysql.user); ` +
        `only ${account.user}@${account.host}'s own limit is known`,
    );
    const own = await ownAccountLimit(query, grants);
    accountLimits = own > 0 ? [{ ...account, maxUserConnections: own }] : [];
  }

  return {
    target,
    version: String(basics.version),
    account,
    maxConnections: int(basics.max_connections, "max_connections", target),
    maxUserConnections: int(basics.max_user_connections, "max_user_connections", target),
    threadsConnected,
    maxUsedConnections: statusInt("Max_used_connections"),
    connectionErrorsMaxConnections: statusInt("Connection_errors_max_connections"),
    abortedConnects: statusInt("Aborted_connects"),
    visibility,
    connectionsByUser,
    accountLimits,
    accountLimitsReadable: limits !== undefined,
    warnings,
  };
}

/**
 * Connections per user: performance_schema.accounts when on and readable (MariaDB ships it off), else PROCESSLIST.
 * Without PROCESS only the probe's own account is visible: said in a warning.
 */
async function readUsage(
  query: (sql: string) => Promise<Row[]>,
  target: string,
  c: {
    performanceSchema: boolean;
    loginUser: string;
    connectionId: number;
    hasProcess: boolean;
    describeOwn: string;
    threadsConnected: number;
    warnings: string[];
  },
): Promise<{ visibility: Visibility; connectionsByUser: Record<string, number> }> {
  const { loginUser, connectionId, hasProcess, threadsConnected, warnings } = c;
  let visibility: Visibility | undefined;
  let connectionsByUser: Record<string, number> = {};
  if (c.performanceSchema) {
    const rows = await optional(() =>
      query(
        "SELECT USER AS user, SUM(CURRENT_CONNECTIONS) AS n FROM performance_schema.accounts " +
          "WHERE USER IS NOT NULL GROUP BY USER ORDER BY USER",
      ),
    );
    if (rows && rows.length > 0) {
      connectionsByUser = countsFrom(rows, target);
      const own = (connectionsByUser[loginUser] ?? 1) - 1; // the probe's own connection
      if (own > 0) connectionsByUser[loginUser] = own;
      else delete connectionsByUser[loginUser];
      visibility = "performance_schema";
    } else if (rows) {
      warnings.push(
        "performance_schema.accounts is empty (accounts instrumentation off?); counted connections from PROCESSLIST",
      );
    }
  }
  if (!visibility) {
    const rows = await query(
      "SELECT USER AS user, COUNT(*) AS n FROM information_schema.PROCESSLIST " +
        `WHERE ID <> ${connectionId} AND COMMAND <> 'Daemon' AND USER <> 'system user' GROUP BY USER ORDER BY USER`,
    );
    connectionsByUser = countsFrom(rows, target);
    const seesOthers = Object.keys(connectionsByUser).some((u) => u !== loginUser);
    visibility = hasProcess || seesOthers ? "processlist" : "own-account-only";
    if (visibility === "own-account-only") {
      warnings.push(
        `${c.describeOwn} lacks the PROCESS privilege and sees only its own connections; ` +
          `other clients are invisible (server-wide Threads_connected is ${threadsConnected}). ` +
          "Grant it: GRANT PROCESS ON *.* TO the monitoring account.",
      );
    }
  }

  return { visibility, connectionsByUser };
}

// mysql.user is a table on MySQL and a view over mysql.global_priv on MariaDB ≥ 10.4; read whichever is allowed.
async function readAccountLimits(
  query: (sql: string) => Promise<Row[]>,
  target: string,
): Promise<AccountLimit[] | undefined> {
  const fromUser = await optional(() =>
    query(
      "SELECT User AS user, Host AS host, max_user_connections AS n FROM mysql.user " +
        "WHERE max_user_connections <> 0 ORDER BY User, Host",
    ),
  );
  const rows =
    fromUser ??
    (await optional(() =>
      query(
        "SELECT User AS user, Host AS host, JSON_VALUE(Priv, '$.max_user_connections') AS n " +
          "FROM mysql.global_priv WHERE COALESCE(JSON_VALUE(Priv, '$.max_user_connections'), 0) <> 0 " +
          "ORDER BY User, Host",
      ),
    ));
  return rows?.map((r) => ({
    user: String(r.user),
    host: String(r.host),
    maxUserConnections: int(r.n, "max_user_connections", target),
  }));
}

// Any account may read its own definition; SHOW CREATE USER covers MySQL, SHOW GRANTS older MariaDB.
async function ownAccountLimit(query: (sql: string) => Promise<Row[]>, grants: string[]): Promise<number> {
  const created = await optional(() => query("SHOW CREATE USER CURRENT_USER()"));
  const lines = created ? created.map((r) => String(Object.values(r)[0] ?? "")) : grants;
  for (const line of lines) {
    const m = /\bMAX_USER_CONNECTIONS\s+(-?\d+)/i.exec(line);
    if (m?.[1]) return Number(m[1]);
  }
  return 0;
}

/** `GRANT PROCESS, ... ON *.* TO ...` or ALL PRIVILEGES, for the user or a role it holds. */
function grantsGlobalProcess(grant: string): boolean {
  const m = /^GRANT\s+(.+?)\s+ON\s+\*\.\*\s+TO\s/i.exec(grant);
  if (!m?.[1]) return false;
  return m[1].split(",").some((p) => /^\s*(PROCESS|ALL|ALL PRIVILEGES)\s*$/i.test(p));
}

// Errors that mean "this optional source is not readable here" (privilege, missing table/column).
const OPTIONAL_ERRNOS = new Set([1044, 1142, 1143, 1227, 1146, 1054, 1305]);

async function optional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno === "number" && OPTIONAL_ERRNOS.has(errno)) return undefined;
    throw err;
  }
}

function countsFrom(rows: Row[], target: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const n = int(r.n, "connection count", target);
    if (n > 0) out[String(r.user)] = n;
  }
  return out;
}

/** `user@host` from CURRENT_USER()/USER(); the host part may itself contain no `@`, the user may. */
function splitAccount(value: string): { user: string; host: string } {
  const at = value.lastIndexOf("@");
  return at < 0 ? { user: value, host: "" } : { user: value.slice(0, at), host: value.slice(at + 1) };
}

function int(value: unknown, what: string, target: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw protocolError(target, `unexpected value for ${what}: ${String(value)}`);
  return n;
}

function protocolError(target: string, what: string): ProbeError {
  return new ProbeError(`unexpected answer from MySQL at ${target}: ${what}`, { kind: "protocol", target });
}

async function close(conn: Connection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      conn.end(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 1_000);
      }),
    ]);
  } catch {
    // already broken; destroy below
  } finally {
    clearTimeout(timer);
    conn.destroy();
  }
}
