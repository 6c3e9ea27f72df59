// One read of what a PostgreSQL server allows and what its clients hold now (DESIGN §3), with node-postgres.
// One connection, short timeouts, read-only. probe() opens and closes its connection; ProbeSession (the daemons)
// keeps it open between reads, since a full server still answers a connection that is already in.
//
// What counts against max_connections (checked on PostgreSQL 15, test/integration/postgres/probe.test.ts): only
// `client backend` sessions. WAL senders (max_wal_senders), autovacuum (autovacuum_max_workers) and background or
// parallel workers (max_worker_processes) have slots of their own: a walsender, two parallel workers and an
// autovacuum worker ran while every client slot was taken. Of max_connections, superuser_reserved_connections (and
// on 16+ reserved_connections, for pg_use_reserved_connections) are kept for those roles: an ordinary role is
// refused with 53300 once only that many slots are free, whoever holds the others, superusers included.
import pg from "pg";
import type { DatabaseReading } from "../runtime/database-probe.js";
import { KeptConnection } from "../runtime/kept-connection.js";
import { describeTarget, type PostgresDsn, parsePostgresUrl } from "./dsn.js";
import { PostgresProbeError, toProbeError } from "./errors.js";

/**
 * `pg_stat_activity`: the probe's role sees every session's type (superuser, pg_read_all_stats or pg_monitor).
 * `pg_stat_activity-restricted`: it sees other roles' sessions but not their type, so every session attached to a
 * database is counted: logical WAL senders and parallel or background workers of other roles count as clients
 * too (more than the truth, never less).
 */
export type Visibility = "pg_stat_activity" | "pg_stat_activity-restricted";

export interface PostgresReading extends DatabaseReading {
  readonly visibility: Visibility;
  /** The role the probe is logged in as. */
  readonly account: { readonly user: string };
  /** `server_version_num`, e.g. 150014. */
  readonly versionNum: number;
  /** `max_connections` as set: client backends of every role, the reserved slots included. */
  readonly maxConnections: number;
  /** `superuser_reserved_connections`: slots only superusers get. */
  readonly superuserReservedConnections: number;
  /** `reserved_connections` (16+; 0 before): slots only roles in pg_use_reserved_connections (and superusers) get. */
  readonly reservedConnections: number;
  /** No per-role cap applies to every role in PostgreSQL: always 0. */
  readonly maxUserConnections: 0;
  /** Client backends now, the probe's own included. */
  readonly threadsConnected: number;
  /** Client backends per database and role, without the probe's own (for the databases' CONNECTION LIMITs). */
  readonly connectionsByDatabase: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Login roles (not superusers: the limit does not bind them) with a CONNECTION LIMIT (`rolconnlimit` ≥ 0). */
  readonly accountLimits: readonly { readonly user: string; readonly maxUserConnections: number }[];
  /** Databases that accept connections and have a CONNECTION LIMIT (`datconnlimit` ≥ 0). */
  readonly databaseLimits: readonly { readonly database: string; readonly maxConnections: number }[];
}

export interface ProbeOptions {
  /** TCP connect + startup + authentication; default 5 s. */
  connectTimeoutMs?: number;
  /** Each query; default 5 s. */
  queryTimeoutMs?: number;
}

type Row = Record<string, unknown>;
type Query = (sql: string) => Promise<Row[]>;

/** Probes `url`. Throws PostgresDsnError for a malformed URL and PostgresProbeError otherwise. */
export async function probe(url: string | PostgresDsn, options: ProbeOptions = {}): Promise<PostgresReading> {
  const dsn = typeof url === "string" ? parsePostgresUrl(url) : url;
  const target = describeTarget(dsn);
  let client: pg.Client | undefined;
  try {
    client = await connect(dsn, options);
    return await read(queryOn(client), target);
  } catch (err) {
    throw toProbeError(err, target, [dsn.password]);
  } finally {
    if (client) await close(client);
  }
}

/**
 * A probe that keeps its one connection open between reads (src/runtime/kept-connection.ts): a full server
 * (53300) refuses a new connection but still answers one that is already in.
 */
export class ProbeSession {
  private readonly kept: KeptConnection<pg.Client, PostgresReading>;

  constructor(url: string | PostgresDsn, options: ProbeOptions = {}) {
    const dsn = typeof url === "string" ? parsePostgresUrl(url) : url;
    const target = describeTarget(dsn);
    this.kept = new KeptConnection({
      connect: () => connect(dsn, options),
      close,
      read: (client) => read(queryOn(client), target),
      // A server error with a SQLSTATE (a missing privilege) leaves the connection usable; anything else may not.
      broken: (err) => !(err instanceof PostgresProbeError) && !isSqlState(err),
      toError: (err) => toProbeError(err, target, [dsn.password]),
      closedError: () => new PostgresProbeError(`probe of ${target} is closed`, { kind: "unreachable", target }),
    });
  }

  /** Whether a connection is open now (it may still turn out dead at the next read). */
  connected(): boolean {
    return this.kept.connected();
  }

  read(): Promise<PostgresReading> {
    return this.kept.read();
  }

  close(): Promise<void> {
    return this.kept.close();
  }
}

function isSqlState(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith("08") && !code.startsWith("57");
}

async function connect(dsn: PostgresDsn, options: ProbeOptions): Promise<pg.Client> {
  const ssl =
    dsn.sslMode === "require"
      ? { rejectUnauthorized: false }
      : dsn.sslMode === "verify-ca" || dsn.sslMode === "verify-full"
        ? { rejectUnauthorized: true }
        : false;
  // Every field is given, so node-postgres reads none of the PG* environment variables.
  const client = new pg.Client({
    host: dsn.host,
    port: dsn.port,
    user: dsn.user,
    password: dsn.password,
    database: dsn.database,
    ssl,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    query_timeout: options.queryTimeoutMs ?? 5_000,
    application_name: "pooltuner-probe",
    keepAlive: true,
  });
  // An error after connect is also reported by the pending query; without a listener it would crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    await close(client);
    throw err;
  }
  return client;
}

function queryOn(client: pg.Client): Query {
  return async (sql) => (await client.query(sql)).rows as Row[];
}

async function read(query: Query, target: string): Promise<PostgresReading> {
  const warnings: string[] = [];
  const [basics] = await query(
    "SELECT version() AS version, current_setting('server_version_num') AS version_num, " +
      "current_setting('max_connections') AS max_connections, " +
      "current_setting('superuser_reserved_connections') AS superuser_reserved, " +
      "current_setting('reserved_connections', true) AS reserved, " +
      "current_user AS login, pg_has_role('pg_read_all_stats', 'USAGE') AS reads_all_stats",
  );
  if (!basics) throw protocolError(target, "the server returned no row for SELECT version()");
  const login = String(basics.login);
  const visibility: Visibility = basics.reads_all_stats === true ? "pg_stat_activity" : "pg_stat_activity-restricted";

  // Without pg_read_all_stats another role's session shows its role and database but a NULL backend_type; such a
  // row attached to a database is counted (it may be a worker: more than the truth, never less). The probe's own
  // backend is left out like MySQL's own connection.
  const sessions = await query(
    "SELECT usename AS user, datname AS database, count(*) AS n FROM pg_stat_activity " +
      "WHERE pid <> pg_backend_pid() AND (backend_type = 'client backend' " +
      "OR (backend_type IS NULL AND datname IS NOT NULL)) GROUP BY usename, datname ORDER BY 1, 2",
  );
  const connectionsByUser: Record<string, number> = {};
  const connectionsByDatabase: Record<string, Record<string, number>> = {};
  let others = 0;
  for (const r of sessions) {
    const n = int(r.n, "session count", target);
    others += n;
    // A client backend always has a role; a missing one (a worker seen without rights) counts under "".
    const user = r.user === null ? "" : String(r.user);
    connectionsByUser[user] = (connectionsByUser[user] ?? 0) + n;
    if (r.database !== null) {
      const db = String(r.database);
      const byUser = connectionsByDatabase[db] ?? {};
      byUser[user] = (byUser[user] ?? 0) + n;
      connectionsByDatabase[db] = byUser;
    }
  }
  if (visibility === "pg_stat_activity-restricted") {
    warnings.push(
      `role ${login} cannot see other roles' session types (grant pg_monitor or pg_read_all_stats): every session ` +
        "attached to a database is counted as a client, background workers and logical WAL senders included",
    );
  }

  // pg_roles and pg_database are readable by every role.
  const roles = await query(
    "SELECT rolname AS name, rolconnlimit AS n FROM pg_roles " +
      "WHERE rolconnlimit >= 0 AND rolcanlogin AND NOT rolsuper ORDER BY rolname",
  );
  const accountLimits = roles.map((r) => ({
    user: String(r.name),
    maxUserConnections: int(r.n, "rolconnlimit", target),
  }));
  for (const a of accountLimits.filter((l) => l.maxUserConnections === 0)) {
    warnings.push(`role ${a.user} has CONNECTION LIMIT 0: it cannot log in at all`);
  }
  const databases = await query(
    "SELECT datname AS name, datconnlimit AS n FROM pg_database " +
      "WHERE datconnlimit >= 0 AND datallowconn ORDER BY datname",
  );
  const databaseLimits = databases.map((r) => ({
    database: String(r.name),
    maxConnections: int(r.n, "datconnlimit", target),
  }));

  return {
    target,
    version: String(basics.version),
    versionNum: int(basics.version_num, "server_version_num", target),
    account: { user: login },
    maxConnections: int(basics.max_connections, "max_connections", target),
    superuserReservedConnections: int(basics.superuser_reserved, "superuser_reserved_connections", target),
    reservedConnections: basics.reserved === null ? 0 : int(basics.reserved, "reserved_connections", target),
    maxUserConnections: 0,
    threadsConnected: others + 1,
    visibility,
    connectionsByUser,
    connectionsByDatabase,
    accountLimits,
    accountLimitsReadable: true,
    databaseLimits,
    warnings,
  };
}

function int(value: unknown, what: string, target: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw protocolError(target, `unexpected value for ${what}: ${String(value)}`);
  return n;
}

function protocolError(target: string, what: string): PostgresProbeError {
  return new PostgresProbeError(`unexpected answer from PostgreSQL at ${target}: ${what}`, {
    kind: "protocol",
    target,
  });
}

async function close(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.end(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 1_000);
      }),
    ]);
  } catch {
    // already broken
  } finally {
    clearTimeout(timer);
    // end() may not finish on a dead socket; the socket goes either way.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}
