// `mysql://user:pass@host:port/db?socket=...&ssl=true` parsing and redaction.
// Secrets rule (preamble, DESIGN §4): a password never leaves this module in any string we build.
import { DatabaseUrlError } from "../runtime/database-probe.js";
import { redactAll, redactUrl, safeDecode, urlSecrets } from "../runtime/url-redaction.js";

export interface MysqlDsn {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Empty when the URL has no path; the probe needs no database. */
  database: string;
  /** Unix socket path (`?socket=`); when set, host/port only label messages. */
  socketPath?: string;
  /** `?ssl=true` turns on TLS with certificate verification (mysql2 defaults). */
  ssl: boolean;
}

export class DsnError extends DatabaseUrlError {
  override readonly name = "DsnError";
}

// SQLAlchemy-style schemes (mysql+pymysql://) are accepted so an app's URL can be pasted as is.
const SCHEME = /^(mysql|mariadb)(\+[a-z0-9_]+)?:$/i;
// charset is accepted for the same reason and ignored: the probe reads only numbers and ASCII names.
// password / passwd: SQLAlchemy hands query parameters to the driver, and PyMySQL accepts both.
const PASSWORD_PARAMS = ["password", "passwd"] as const;
const KNOWN_PARAMS = new Set(["socket", "ssl", "charset", ...PASSWORD_PARAMS]);
export const DEFAULT_MYSQL_PORT = 3306;

/**
 * Parses a MySQL URL. User and password are percent-decoded; encode `@ : / ? #` in them.
 * Errors name the redacted URL, never the password.
 */
export function parseMysqlUrl(url: string): MysqlDsn {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Nothing of it but the scheme: where a password starts and ends in a URL that does not parse is anyone's guess.
    throw new DsnError(`not a valid MySQL URL: ${redactAll(url)} (expected mysql://user:password@host:port/database)`);
  }
  const shown = redact(url);
  if (!SCHEME.test(parsed.protocol)) {
    throw new DsnError(`unsupported scheme "${parsed.protocol}" in ${shown}: use mysql://`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new DsnError(`missing host in ${shown}`);
  let port = DEFAULT_MYSQL_PORT;
  if (parsed.port !== "") {
    port = Number(parsed.port);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new DsnError(`invalid port in ${shown}`);
  }
  if (`${parsed.pathname}${parsed.search}${parsed.hash}`.includes("@") || (!parsed.username && url.includes("@"))) {
    throw new DsnError(`cannot parse ${shown}: percent-encode @ : / ? # in the user and password`);
  }
  const user = decode(parsed.username, "user", shown);
  if (!user) throw new DsnError(`missing user in ${shown}`);
  const password = decode(parsed.password, "password", shown);
  const database = decode(parsed.pathname.replace(/^\//, ""), "database", shown);
  if (database.includes("/")) throw new DsnError(`invalid database name in ${shown}`);

  for (const pair of parsed.search.replace(/^\?/, "").split("&")) {
    const eq = pair.indexOf("=");
    const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
    if (pair === "" || KNOWN_PARAMS.has(key)) continue;
    // A bare `?word` may be a pasted secret: name the key only when it is written as key=value and looks like one.
    const named =
      eq >= 0 && /^[A-Za-z][A-Za-z0-9_.-]{0,40}$/.test(key) ? `unknown parameter "${key}"` : "an unknown parameter";
    throw new DsnError(`${named} in ${shown} (known: ${[...KNOWN_PARAMS].join(", ")})`);
  }
  const fromQuery = PASSWORD_PARAMS.map((k) => parsed.searchParams.get(k)).filter((v): v is string => v !== null);
  if (fromQuery.length > 1 || (fromQuery.length > 0 && parsed.password !== "")) {
    throw new DsnError(`the password is given twice in ${shown}: give it once, before the @ or as ?password=`);
  }
  const sslParam = parsed.searchParams.get("ssl");
  if (sslParam !== null && !["true", "false", "1", "0"].includes(sslParam)) {
    throw new DsnError(`invalid ssl value "${sslParam}" in ${shown}: use true or false`);
  }
  const dsn: MysqlDsn = {
    host,
    port,
    user,
    password: fromQuery[0] ?? password,
    database,
    ssl: sslParam === "true" || sslParam === "1",
  };
  const socket = parsed.searchParams.get("socket");
  if (socket) dsn.socketPath = socket;
  return dsn;
}

/** The URL with every secret-bearing part hidden (driver-agnostic, in runtime/url-redaction.ts). */
export const redact = redactUrl;
export { redactAll, urlSecrets };

/** `user@host:port` (or `user@socket`): how errors and logs name a target. */
export function describeTarget(dsn: Pick<MysqlDsn, "host" | "port" | "user" | "socketPath">): string {
  const where = dsn.socketPath ?? (dsn.host.includes(":") ? `[${dsn.host}]:${dsn.port}` : `${dsn.host}:${dsn.port}`);
  return `${dsn.user}@${where}`;
}

function decode(value: string, field: string, shown: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new DsnError(`invalid percent-encoding in the ${field} of ${shown}`);
  }
}
