// Hiding the secrets of a database URL, whatever its driver: string-based on purpose (URL parsers split passwords with
// unencoded `@ / ? #` in surprising places), so it is safe on any text a user passes as a URL. Used for logs,
// errors, Events, status and CLI output (DESIGN §4: credentials never leave in any string we build).

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
export function redactUrl(url: string): string {
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

export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
