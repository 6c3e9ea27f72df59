// Probe failures as a few typed kinds, each with a message a person can act on (STYLE 9).
// Messages name user@host:port and never the password; the original mysql2 error is not kept as `cause`.
// A ProbeError is the database seam's DatabaseProbeError, so callers outside src/mysql/ need no MySQL type.
import { DatabaseProbeError, type ProbeFailureKind } from "../runtime/database-probe.js";

export type ProbeErrorKind = ProbeFailureKind;

export interface ProbeErrorDetails {
  kind: ProbeErrorKind;
  /** `user@host:port`, see describeTarget(). */
  target: string;
  /** mysql2's code: a server error name (ER_…), a Node errno name (ECONNREFUSED) or PROTOCOL_…. */
  code?: string;
  /** MySQL server error number (1045, 1040, …) when the server sent one. */
  errno?: number;
  sqlState?: string;
}

export class ProbeError extends DatabaseProbeError {
  override readonly name = "ProbeError";
  readonly target: string;
  readonly code: string | undefined;
  readonly errno: number | undefined;
  readonly sqlState: string | undefined;

  constructor(message: string, details: ProbeErrorDetails) {
    super(message, details.kind);
    this.target = details.target;
    this.code = details.code;
    this.errno = details.errno;
    this.sqlState = details.sqlState;
  }
}

const AUTH_ERRNOS = new Set([
  1045, // ER_ACCESS_DENIED_ERROR
  1130, // ER_HOST_NOT_PRIVILEGED: no account matches this client host
  1251, // ER_NOT_SUPPORTED_AUTH_MODE
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1862, // ER_MUST_CHANGE_PASSWORD_LOGIN
  3118, // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
  4151, // ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
]);
const PRIVILEGE_ERRNOS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR: no rights on the database named in the URL
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1143, // ER_COLUMNACCESS_DENIED_ERROR
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR
  1370, // ER_PROCACCESS_DENIED_ERROR
]);
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENOENT", // unix socket path does not exist
  "EACCES",
]);
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "PROTOCOL_SEQUENCE_TIMEOUT", "ESOCKETTIMEDOUT"]);

/** Maps anything mysql2 or the socket layer throws to a ProbeError. `secrets` are scrubbed from the text. */
export function toProbeError(err: unknown, target: string, secrets: readonly string[] = []): ProbeError {
  if (err instanceof ProbeError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    code?: unknown;
    errno?: unknown;
    sqlState?: unknown;
    message?: unknown;
    sqlMessage?: unknown;
    fatal?: unknown;
  };
  const code = typeof e.code === "string" ? e.code : undefined;
  // mysql2 puts the server's errno in `errno`; socket errors carry a negative libuv errno there.
  const errno = typeof e.errno === "number" && e.errno > 0 ? e.errno : undefined;
  const sqlState = typeof e.sqlState === "string" ? e.sqlState : undefined;
  const raw = scrub(String(e.sqlMessage ?? e.message ?? (err instanceof Error ? err.message : String(err))), secrets);
  const details = (kind: ProbeErrorKind): ProbeErrorDetails => ({ kind, target, code, errno, sqlState });
  const tag = errno !== undefined ? ` (${code ?? "error"} ${errno})` : code ? ` (${code})` : "";

  if (errno !== undefined) {
    if (errno === 1040) {
      return new ProbeError(
        `MySQL server ${target} is full: all max_connections slots are taken${tag}. ` +
          "Clients now fail with 'Too many connections'; reduce pools or raise max_connections.",
        details("server-full"),
      );
    }
    if (errno === 1203 || errno === 1226) {
      return new ProbeError(
        `account ${target} has reached its connection limit${tag}: ${raw}. ` +
          (errno === 1203 ? "The global max_user_connections" : "The account's MAX_USER_CONNECTIONS") +
          " caps every client of this account, the probe included.",
        details("account-limit"),
      );
    }
    if (AUTH_ERRNOS.has(errno)) {
      return new ProbeError(
        `authentication failed for ${target}${tag}: ${raw}. Check the user, password and allowed hosts.`,
        details("auth"),
      );
    }
    if (PRIVILEGE_ERRNOS.has(errno)) {
      return new ProbeError(
        `missing privilege for ${target}${tag}: ${raw}. The probe needs only PROCESS (GRANT PROCESS ON *.* TO ...); ` +
          "leave the database out of the URL if the account has no rights on it.",
        details("privilege"),
      );
    }
    if (errno === 1129) {
      return new ProbeError(
        `MySQL server ${target} blocks this host after too many connection errors${tag}: run FLUSH HOSTS on the server.`,
        details("unreachable"),
      );
    }
    return new ProbeError(`MySQL server error for ${target}${tag}: ${raw}`, details("protocol"));
  }
  if (code && UNREACHABLE_CODES.has(code)) {
    return new ProbeError(`cannot reach MySQL at ${target}${tag}: ${raw}`, details("unreachable"));
  }
  if (code && TIMEOUT_CODES.has(code)) {
    return new ProbeError(
      `MySQL at ${target} did not answer in time${tag}: the server may be overloaded, stopped or firewalled.`,
      details("timeout"),
    );
  }
  return new ProbeError(`protocol error talking to MySQL at ${target}${tag}: ${raw}`, details("protocol"));
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    // Very short secrets would mangle ordinary words; no server message echoes a password anyway.
    if (secret.length >= 4) out = out.split(secret).join("***");
  }
  return out;
}
