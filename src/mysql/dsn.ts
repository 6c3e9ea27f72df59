// `mysql://user:pass@host:port/db?socket=...&ssl=true` parsing and redaction.
// Secrets rule (preamble, DESIGN §4): a password never leaves this module in any string we build.

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

export class DsnError extends Error {
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

/**
 * Query parameters whose values are shown by redact(); every other value is hidden, since drivers accept secrets
 * under many names (`password`, `passwd`, `pwd`, `ssl-key`, `sslkey`, `token`, `sslpassword`, ...). Compared
 * lower-case without `-` and `_`.
 */
const SHOWN_PARAMS = new Set([
  "socket",
  "ssl",
  "charset",
  "sslmode",
  "connecttimeout",
  "timeout",
  "timezone",
  "compress",
]);
const isShownParam = (key: string) => SHOWN_PARAMS.has(safeDecode(key).toLowerCase().replace(/[-_]/g, ""));

/**
 * The URL with every secret-bearing part replaced by `***`; safe for logs, errors, Events and output.
 * String-based on purpose (URL parsers split passwords with unencoded `@ / ? #` in surprising places):
 * - userinfo: everything between the first `:` and the LAST `@` is hidden (so `p@ss` needs no encoding);
 * - query: a value is shown only for the parameters in SHOWN_PARAMS, a bare key only when it is one of them;
 * - fragment: hidden; a path or host that is not plainly a database name or host:port: hidden;
 * - anything that does not split cleanly (a `/ ? #` before the last `@`): nothing but the scheme.
 */
export function redact(url: string): string {
  const parts = splitUrl(url);
  if (parts === undefined) return "<unparseable URL>"; // could be anything, a pasted password included
  if (parts.kind === "opaque") return `${parts.scheme}***`;
  const { scheme, user, hasPassword, authority, path, query, fragment } = parts;
  const userinfo = user === undefined ? "" : `${user}${hasPassword ? ":***" : ""}@`;
  const shownAuthority = /^[A-Za-z0-9._~%[\]:-]*$/.test(authority) ? authority : "***";
  const shownPath = path === "" || /^\/[A-Za-z0-9_$.%-]*$/.test(path) ? path : "/***";
  const shownQuery =
    query === undefined
      ? ""
      : `?${query
          .split(/[&;]/)
          .map((pair) => {
            const eq = pair.indexOf("=");
            const key = eq < 0 ? pair : pair.slice(0, eq);
            if (eq < 0) return isShownParam(key) ? key : "***";
            const shownKey = /^[A-Za-z][A-Za-z0-9_.-]{0,40}$/.test(key) ? key : "***";
            return `${shownKey}=${isShownParam(key) ? pair.slice(eq + 1) : "***"}`;
          })
          .join("&")}`;
  return `${scheme}${userinfo}${shownAuthority}${shownPath}${shownQuery}${fragment === undefined ? "" : "#***"}`;
}

/** The scheme alone (`mysql://***`): for a URL that could not be parsed at all. */
export function redactAll(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)/i.exec(url);
  return m ? `${m[1]}***` : "<unparseable URL>";
}

/**
 * Every secret a URL carries, raw and percent-decoded: the password, the values of the query parameters redact()
 * hides, the fragment; for a URL that does not split cleanly, everything after the scheme. For scrubbers of text
 * that might quote them (error messages of drivers, belt-and-braces over the CLI's output).
 */
export function urlSecrets(url: string): string[] {
  const parts = splitUrl(url);
  const out: string[] = [];
  if (parts === undefined) return out;
  if (parts.kind === "opaque") out.push(parts.rest);
  else {
    if (parts.password !== undefined) out.push(parts.password);
    for (const pair of (parts.query ?? "").split(/[&;]/)) {
      const eq = pair.indexOf("=");
      if (eq < 0 ? !isShownParam(pair) : !isShownParam(pair.slice(0, eq))) out.push(eq < 0 ? pair : pair.slice(eq + 1));
    }
    if (parts.fragment !== undefined) out.push(parts.fragment);
  }
  const all = out.flatMap((v) => [v, safeDecode(v), safeDecode(v.replace(/\+/g, " "))]);
  return [...new Set(all.filter((v) => v.length > 0))];
}

type UrlParts =
  | { readonly kind: "opaque"; readonly scheme: string; readonly rest: string }
  | {
      readonly kind: "split";
      readonly scheme: string;
      readonly user?: string;
      readonly hasPassword: boolean;
      readonly password?: string;
      readonly authority: string;
      readonly path: string;
      readonly query?: string;
      readonly fragment?: string;
    };

function splitUrl(url: string): UrlParts | undefined {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(url);
  if (!m) return undefined;
  const [, scheme = "", rest = ""] = m;
  const at = rest.lastIndexOf("@");
  let user: string | undefined;
  let password: string | undefined;
  let tail = rest;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    // `/ ? #` before the last `@`: either a password that needs percent-encoding or an `@` in a path, query or
    // fragment (`?password=a@b`); which one cannot be told, so nothing is shown.
    if (/[/?#\s]/.test(userinfo)) return { kind: "opaque", scheme, rest };
    const colon = userinfo.indexOf(":");
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (colon >= 0) password = userinfo.slice(colon + 1);
    tail = rest.slice(at + 1);
  }
  const hash = tail.indexOf("#");
  const fragment = hash < 0 ? undefined : tail.slice(hash + 1);
  const beforeHash = hash < 0 ? tail : tail.slice(0, hash);
  const q = beforeHash.indexOf("?");
  const query = q < 0 ? undefined : beforeHash.slice(q + 1);
  const hostAndPath = q < 0 ? beforeHash : beforeHash.slice(0, q);
  const slash = hostAndPath.indexOf("/");
  return {
    kind: "split",
    scheme,
    ...(user !== undefined ? { user } : {}),
    hasPassword: password !== undefined,
    ...(password !== undefined ? { password } : {}),
    authority: slash < 0 ? hostAndPath : hostAndPath.slice(0, slash),
    path: slash < 0 ? "" : hostAndPath.slice(slash),
    ...(query !== undefined ? { query } : {}),
    ...(fragment !== undefined ? { fragment } : {}),
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

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
