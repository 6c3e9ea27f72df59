// Which database user a workload connects as. Workloads sharing a user share its limits, and the probe tells a
// workload's own connections from other clients' only by user, so an unknown account costs budget (DESIGN §3).
// Order: the `account` annotation/label; else the user of every env value that is a MySQL/MariaDB URL (any name:
// DATABASE_URL, LINEAGE_DB_URL, ...; SQLAlchemy `dialect+driver://` schemes included). One user among them is taken
// whatever its host (in compose, apps reach the database as `db` or host.docker.internal while pooltuner's URL says
// 127.0.0.1); several users are told apart by the database's host:port, where the shell knows it. A password or
// a whole URL never leaves this module: candidates keep the env name, user, host and port only.
import { parseMysqlUrl } from "../mysql/dsn.js";
import type { EnvView } from "./workers.js";

/** One env value that is a database URL naming a user. */
export interface AccountCandidate {
  readonly env: string;
  readonly user: string;
  readonly host: string;
  readonly port: number;
}

/** Where the database is, as pooltuner reaches it; matched against the candidates' host:port. */
export interface DatabaseAddress {
  readonly host: string;
  readonly port: number;
}

export type AccountResolution =
  | { readonly account: string; readonly from: string }
  | { readonly account?: undefined; readonly warning?: string };

const DEFAULT_PORT = 3306;

// SQLAlchemy's own URL pattern (sqlalchemy/engine/url.py `_parse_url`), restricted to MySQL/MariaDB dialects, so the
// user and host are the ones the app connects with: the password may hold `:` and `/` but not `@`.
const DATABASE_URL =
  /^(?:mysql|mariadb)(?:\+[\w]+)?:\/\/(?:([^:/@]*)(?::[^@]*)?@)?(?:\[([^/?\]]+)\]|([^/:?]*))?(?::(\d*))?(?:[/?].*)?$/is;

/** Every env value that is a MySQL/MariaDB URL with a user, sorted by env name; values never kept. */
export function accountCandidates(env: EnvView): AccountCandidate[] {
  const out: AccountCandidate[] = [];
  for (const [name, v] of env) {
    if (v.kind !== "value") continue;
    const m = DATABASE_URL.exec(v.value.trim());
    if (!m) continue;
    const user = decode(m[1] ?? "");
    if (!user) continue;
    const port = m[4] ? Number(m[4]) : DEFAULT_PORT;
    // No host: the client's default, a local socket.
    out.push({ env: name, user, host: (m[2] ?? m[3] ?? "") || "localhost", port });
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

/** The account of a workload once its database is known; `account` set by the option or a single user is kept. */
export function settleAccount<
  T extends {
    readonly workload: { readonly account?: string };
    readonly accountFrom?: string;
    readonly accountCandidates?: readonly AccountCandidate[];
  },
>(built: T, database: DatabaseAddress | undefined, prefix: string): { readonly built: T; readonly warning?: string } {
  if (built.workload.account !== undefined) return { built };
  const r = resolveAccount(built.accountCandidates ?? [], database, prefix);
  if (r.account === undefined) return r.warning ? { built, warning: r.warning } : { built };
  return { built: { ...built, workload: { ...built.workload, account: r.account }, accountFrom: r.from } };
}

/** host:port of a monitoring URL; undefined when it cannot be parsed (the probe reports that itself). */
export function addressOf(url: string): DatabaseAddress | undefined {
  try {
    const dsn = parseMysqlUrl(url);
    return { host: dsn.host, port: dsn.port };
  } catch {
    return undefined;
  }
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
