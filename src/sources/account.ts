// Which database user a workload connects as. Workloads sharing a user share its limits, and the probe tells a
// workload's own connections from other clients' only by user, so an unknown account costs budget (DESIGN §3).
// Order: the `account` annotation/label; else the user of every env value that is a MySQL/MariaDB or PostgreSQL URL
// (any name: DATABASE_URL, LINEAGE_DB_URL, ...; SQLAlchemy `dialect+driver://` schemes included). One user among them
// is taken whatever its host (in compose, apps reach the database as `db` or host.docker.internal while pooltuner's
// URL says 127.0.0.1); several users are told apart by the database's host:port, where the shell knows it. A password
// or a whole URL never leaves this module: candidates keep the env name, user, host, port and (PostgreSQL) database.
import type { EnvView } from "./workers.js";

/** One env value that is a database URL naming a user. */
export interface AccountCandidate {
  readonly env: string;
  readonly user: string;
  readonly host: string;
  readonly port: number;
  /**
   * PostgreSQL URLs only: the database inside the server it connects to (the path; libpq's default, the user name,
   * when there is none). MySQL has no per-database connection limit, so it is not read there.
   */
  readonly catalog?: string;
}

/** Where the database is, as pooltuner reaches it (its driver reads it from the URL, runtime/drivers.ts). */
export interface DatabaseAddress {
  readonly host: string;
  readonly port: number;
}

export type AccountResolution =
  | { readonly account: string; readonly from: string }
  | { readonly account?: undefined; readonly warning?: string };

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  mysql: 3306,
  mariadb: 3306,
  postgres: 5432,
  postgresql: 5432,
};

// SQLAlchemy's own URL pattern (sqlalchemy/engine/url.py `_parse_url`), restricted to the dialects pooltuner probes,
// so the user and host are the ones the app connects with: the password may hold `:` and `/` but not `@`.
const DATABASE_URL =
  /^(mysql|mariadb|postgres|postgresql)(?:\+[\w]+)?:\/\/(?:([^:/@]*)(?::[^@]*)?@)?(?:\[([^/?\]]+)\]|([^/:?]*))?(?::(\d*))?(?:\/([^?#]*))?(?:[?#].*)?$/is;

/** Every env value that is a MySQL/MariaDB or PostgreSQL URL with a user, sorted by env name; values never kept. */
export function accountCandidates(env: EnvView): AccountCandidate[] {
  const out: AccountCandidate[] = [];
  for (const [name, v] of env) {
    if (v.kind !== "value") continue;
    const m = DATABASE_URL.exec(v.value.trim());
    if (!m) continue;
    const user = decode(m[2] ?? "");
    if (!user) continue;
    const port = m[5] ? Number(m[5]) : (DEFAULT_PORTS[(m[1] ?? "").toLowerCase()] ?? 0);
    const postgres = /^postgres/i.test(m[1] ?? "");
    const catalog = postgres ? decode(m[6] ?? "") || user : undefined;
    // No host: the client's default, a local socket.
    out.push({
      env: name,
      user,
      host: decode((m[3] ?? m[4] ?? "") || "localhost"),
      port,
      ...(catalog !== undefined ? { catalog } : {}),
    });
  }
  return out.sort((a, b) => (a.env < b.env ? -1 : a.env > b.env ? 1 : 0));
}

/**
 * The account from the candidates: one user → it (whatever its host); several → the one whose host:port is the
 * database's (when `database` is given); else unknown, with a warning naming the env vars (never their values).
 * `prefix` names the option key in the warning (`pooltuner.io/`, `io.pooltuner.`).
 */
export function resolveAccount(
  candidates: readonly AccountCandidate[],
  database: DatabaseAddress | undefined,
  prefix: string,
): AccountResolution {
  const one = pickOneUser(candidates);
  if (one) return one;
  if (candidates.length === 0) return {};
  if (database) {
    const matching = pickOneUser(candidates.filter((c) => sameAddress(c, database)));
    if (matching) return matching;
  }
  const envs = candidates.map((c) => c.env).join(", ");
  const why = database
    ? `none or several of them point at the database's host:port ${showAddress(database)}`
    : "the database's host:port is not known here to pick one";
  return {
    warning: `database URLs in env ${envs} name different users and ${why}: the account is unknown; set ${prefix}account`,
  };
}

/**
 * The database inside the server (catalog) a workload connecting as `account` uses: the one that every PostgreSQL URL
 * of that user names (those at the database's host:port, when it is known and some are); undefined when none, when
 * they disagree, or when a URL of that user is a MySQL one. Only a known catalog is bound by its CONNECTION LIMIT.
 */
export function catalogFor(
  candidates: readonly AccountCandidate[],
  account: string,
  database?: DatabaseAddress,
): string | undefined {
  let mine = candidates.filter((c) => c.user === account);
  if (database) {
    const here = mine.filter((c) => sameAddress(c, database));
    if (here.length > 0) mine = here;
  }
  const names = new Set(mine.map((c) => c.catalog));
  return names.size === 1 ? [...names][0] : undefined;
}

/**
 * The account of a workload once its database is known; `account` set by the option or a single user is kept. The
 * catalog is then settled from the same URLs.
 */
export function settleAccount<
  T extends {
    readonly workload: { readonly account?: string; readonly catalog?: string };
    readonly accountFrom?: string;
    readonly accountCandidates?: readonly AccountCandidate[];
  },
>(built: T, database: DatabaseAddress | undefined, prefix: string): { readonly built: T; readonly warning?: string } {
  const withCatalog = (b: T, account: string): T => {
    const catalog = catalogFor(b.accountCandidates ?? [], account, database);
    const { catalog: _old, ...rest } = b.workload;
    return { ...b, workload: { ...rest, ...(catalog !== undefined ? { catalog } : {}) } };
  };
  if (built.workload.account !== undefined) return { built: withCatalog(built, built.workload.account) };
  const r = resolveAccount(built.accountCandidates ?? [], database, prefix);
  if (r.account === undefined) return r.warning ? { built, warning: r.warning } : { built };
  return {
    built: withCatalog(
      { ...built, workload: { ...built.workload, account: r.account }, accountFrom: r.from },
      r.account,
    ),
  };
}

function pickOneUser(candidates: readonly AccountCandidate[]): AccountResolution | undefined {
  const users = new Set(candidates.map((c) => c.user));
  if (users.size !== 1) return undefined;
  const [account] = users as Set<string>;
  return { account: account as string, from: `user in env ${candidates.map((c) => c.env).join(", ")}` };
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1"]);

function sameAddress(c: AccountCandidate, d: DatabaseAddress): boolean {
  const norm = (h: string) => (LOOPBACK.has(h.toLowerCase()) ? "loopback" : h.toLowerCase());
  return c.port === d.port && norm(c.host) === norm(d.host);
}

function showAddress(d: DatabaseAddress): string {
  return d.host.includes(":") ? `[${d.host}]:${d.port}` : `${d.host}:${d.port}`;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
