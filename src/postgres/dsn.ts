// `postgres://user:pass@host:port/dbname?sslmode=...` parsing (libpq's URI form; `postgresql+psycopg2://` from
// SQLAlchemy too). Secrets rule (DESIGN §4): a password never leaves this module in any string we build; every
// message shows the URL through redactUrl(), which hides `?password=` and any other parameter it does not know.
import { DatabaseUrlError } from "../runtime/database-probe.js";
import { redactAll, redactUrl, safeDecode } from "../runtime/url-redaction.js";

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

export interface PostgresDsn {
  /** A host name or address, or an absolute directory holding the server's unix socket (libpq's convention). */
  host: string;
  port: number;
  user: string;
  password: string;
  /** The database to connect to; `postgres` when the URL names none (any role may connect there by default). */
  database: string;
  /** `disable`, `allow` and `prefer` connect without TLS (node-postgres cannot fall back); `require` encrypts without
   * checking the certificate; `verify-ca` and `verify-full` check it and the host name. */
  sslMode: SslMode;
}

export class PostgresDsnError extends DatabaseUrlError {
  override readonly name = "PostgresDsnError";
}

const SCHEME = /^(postgres|postgresql)(\+[a-z0-9_]+)?:$/i;
const SSL_MODES: readonly SslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
// libpq URI parameters the probe honours; application_name, connect_timeout and client_encoding are accepted so an
// app's URL can be pasted as is, and ignored (the probe sets its own name and timeouts).
const KNOWN_PARAMS = new Set([
  "host",
  "port",
  "user",
  "password",
  "dbname",
  "sslmode",
  "application_name",
  "connect_timeout",
  "client_encoding",
]);
export const DEFAULT_POSTGRES_PORT = 5432;
const DEFAULT_DATABASE = "postgres";

/**
 * Parses a PostgreSQL URL. User, password and database are percent-decoded; encode `@ : / ? #` in them. A unix
 * socket directory is given as a percent-encoded host (`postgres://u@%2Frun%2Fpostgresql/db`) or as `?host=/dir`.
 * Errors name the redacted URL, never the password.
 */
export function parsePostgresUrl(url: string): PostgresDsn {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PostgresDsnError(
      `not a valid PostgreSQL URL: ${redactAll(url)} (expected postgres://user:password@host:port/database)`,
    );
  }
  const shown = redactUrl(url);
  if (!SCHEME.test(parsed.protocol)) {
    throw new PostgresDsnError(`unsupported scheme "${parsed.protocol}" in ${shown}: use postgres://`);
  }
  if (`${parsed.pathname}${parsed.search}${parsed.hash}`.includes("@") || (!parsed.username && url.includes("@"))) {
    throw new PostgresDsnError(`cannot parse ${shown}: percent-encode @ : / ? # in the user and password`);
  }
  for (const pair of parsed.search.replace(/^\?/, "").split("&")) {
    const eq = pair.indexOf("=");
    const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
    if (pair === "" || KNOWN_PARAMS.has(key)) continue;
    // A bare `?word` may be a pasted secret: name the key only when it is written as key=value and looks like one.
    const named =
      eq >= 0 && /^[A-Za-z][A-Za-z0-9_.-]{0,40}$/.test(key) ? `unknown parameter "${key}"` : "an unknown parameter";
    throw new PostgresDsnError(`${named} in ${shown} (known: ${[...KNOWN_PARAMS].join(", ")})`);
  }
  const param = (key: string): string | undefined => {
    const all = parsed.searchParams.getAll(key);
    if (all.length > 1) throw new PostgresDsnError(`parameter "${key}" is given twice in ${shown}`);
    return all[0];
  };

  const hostPart = decode(parsed.hostname.replace(/^\[(.*)\]$/, "$1"), "host", shown);
  if (hostPart.includes(",") || parsed.host.includes(",")) {
    throw new PostgresDsnError(`several hosts in ${shown}: give one host (pooltuner probes one server per URL)`);
  }
  const host = param("host") || hostPart;
  if (!host) throw new PostgresDsnError(`missing host in ${shown} (give a host, or ?host=/socket/directory)`);

  const portText = param("port") ?? parsed.port;
  let port = DEFAULT_POSTGRES_PORT;
  if (portText !== "") {
    port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new PostgresDsnError(`invalid port in ${shown}`);
  }

  const user = param("user") ?? decode(parsed.username, "user", shown);
  if (!user) throw new PostgresDsnError(`missing user in ${shown}`);
  const queryPassword = param("password");
  if (queryPassword !== undefined && parsed.password !== "") {
    throw new PostgresDsnError(`the password is given twice in ${shown}: give it once, before the @ or as ?password=`);
  }
  const password = queryPassword ?? decode(parsed.password, "password", shown);

  const path = decode(parsed.pathname.replace(/^\//, ""), "database", shown);
  if (path.includes("/")) throw new PostgresDsnError(`invalid database name in ${shown}`);
  const database = param("dbname") || path || DEFAULT_DATABASE;

  const sslText = param("sslmode") ?? "prefer";
  if (!(SSL_MODES as readonly string[]).includes(sslText)) {
    throw new PostgresDsnError(`invalid sslmode "${sslText}" in ${shown}: use one of ${SSL_MODES.join(", ")}`);
  }
  return { host, port, user, password, database, sslMode: sslText as SslMode };
}

/** `user@host:port` (or `user@/socket/dir:port`): how errors and logs name a target. */
export function describeTarget(dsn: Pick<PostgresDsn, "host" | "port" | "user">): string {
  const where = dsn.host.includes(":") ? `[${dsn.host}]:${dsn.port}` : `${dsn.host}:${dsn.port}`;
  return `${dsn.user}@${where}`;
}

function decode(value: string, field: string, shown: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new PostgresDsnError(`invalid percent-encoding in the ${field} of ${shown}`);
  }
}
