// Probe failures as the seam's few typed kinds, each with a message a person can act on (STYLE 9).
// Messages name user@host:port and never the password; the original pg error is not kept as `cause`.
//
// SQLSTATE 53300 (too_many_connections) covers three different refusals, told apart by the server's text:
// "sorry, too many clients already" and "remaining connection slots are reserved ..." (the server is full for this
// role: server-full), and "too many connections for role/database ..." (a CONNECTION LIMIT: account-limit).
import { DatabaseProbeError, type ProbeFailureKind } from "../runtime/database-probe.js";

export interface PostgresProbeErrorDetails {
  kind: ProbeFailureKind;
  /** `user@host:port`, see describeTarget(). */
  target: string;
  /** A SQLSTATE (53300, 28P01, …) or a Node errno name (ECONNREFUSED). */
  code?: string;
}

export class PostgresProbeError extends DatabaseProbeError {
  override readonly name = "PostgresProbeError";
  readonly target: string;
  readonly code: string | undefined;

  constructor(message: string, details: PostgresProbeErrorDetails) {
    super(message, details.kind);
    this.target = details.target;
    this.code = details.code;
  }
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "EPIPE",
  "ENOENT", // unix socket path does not exist
  "EACCES",
]);
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "ESOCKETTIMEDOUT"]);
/** Server errors that mean "the server is starting, stopping or going away": try again later. */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "08006", "08001", "08004"]);

/** Maps anything pg or the socket layer throws to a PostgresProbeError. `secrets` are scrubbed from the text. */
export function toProbeError(err: unknown, target: string, secrets: readonly string[] = []): PostgresProbeError {
  if (err instanceof PostgresProbeError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : undefined;
  const raw = scrub(String(e.message ?? (err instanceof Error ? err.message : String(err))), secrets);
  const details = (kind: ProbeFailureKind): PostgresProbeErrorDetails => ({
    kind,
    target,
    ...(code ? { code } : {}),
  });
  // A SQLSTATE is five characters of digits and capital letters; a Node errno name is longer.
  const sqlState = code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  const tag = sqlState ? ` (SQLSTATE ${sqlState})` : code ? ` (${code})` : "";

  if (sqlState === "53300") {
    if (/too many connections for (role|database)/i.test(raw)) {
      const which = /for role/i.test(raw) ? "role" : "database";
      return new PostgresProbeError(
        `${target}: ${raw}${tag}. The ${which}'s CONNECTION LIMIT caps every client of it, the probe included; ` +
          `raise it (ALTER ${which.toUpperCase()} ... CONNECTION LIMIT n) or reduce that ${which}'s pools.`,
        details("account-limit"),
      );
    }
    return new PostgresProbeError(
      `PostgreSQL server ${target} is full${tag}: ${raw}. Clients now fail with 'too many clients'; ` +
        "reduce pools or raise max_connections (a restart). A monitoring role in pg_use_reserved_connections " +
        "(PostgreSQL 16+) still gets in.",
      details("server-full"),
    );
  }
  if (sqlState === "28P01" || sqlState === "28000") {
    return new PostgresProbeError(
      `authentication failed for ${target}${tag}: ${raw}. Check the user, the password and pg_hba.conf.`,
      details("auth"),
    );
  }
  if (sqlState === "42501") {
    return new PostgresProbeError(
      `missing privilege for ${target}${tag}: ${raw}. The probe needs CONNECT on the URL's database ` +
        "(and pg_monitor, or pg_read_all_stats, to see other roles' sessions in full).",
      details("privilege"),
    );
  }
  if (sqlState === "3D000") {
    return new PostgresProbeError(
      `${target}: ${raw}${tag}. Name a database that exists in the URL's path (default: postgres).`,
      details("auth"),
    );
  }
  if (sqlState === "57014") {
    return new PostgresProbeError(
      `PostgreSQL at ${target} cancelled the probe's query${tag}: statement_timeout or an administrator.`,
      details("timeout"),
    );
  }
  if (sqlState && UNAVAILABLE_SQLSTATES.has(sqlState)) {
    return new PostgresProbeError(`PostgreSQL at ${target} is not available${tag}: ${raw}`, details("unreachable"));
  }
  if (sqlState) {
    return new PostgresProbeError(`PostgreSQL server error for ${target}${tag}: ${raw}`, details("protocol"));
  }
  if ((code && TIMEOUT_CODES.has(code)) || /timeout|timed out/i.test(raw)) {
    return new PostgresProbeError(
      `PostgreSQL at ${target} did not answer in time${tag}: the server may be overloaded, stopped or firewalled.`,
      details("timeout"),
    );
  }
  if ((code && UNREACHABLE_CODES.has(code)) || /Connection terminated/i.test(raw)) {
    return new PostgresProbeError(`cannot reach PostgreSQL at ${target}${tag}: ${raw}`, details("unreachable"));
  }
  return new PostgresProbeError(`protocol error talking to PostgreSQL at ${target}${tag}: ${raw}`, details("protocol"));
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    // Very short secrets would mangle ordinary words; no server message echoes a password anyway.
    if (secret.length >= 4) out = out.split(secret).join("***");
  }
  return out;
}
