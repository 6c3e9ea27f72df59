// Flag values of `plan` / `check`. Database flags repeat and take `value` (every database, or the only one)
// or `name=value` (one database). Parsing returns data: bad values become lines of a bad-input error.
import type { Reserve } from "../core/index.js";
import { redactUrl as redact } from "../runtime/database-probe.js";
import { MAX_CONNECTIONS } from "../sources/bounds.js";

export interface PerDatabase<T> {
  /** The plain `value`, if given. */
  readonly all?: T;
  readonly named: ReadonlyMap<string, T>;
}

export interface DatabaseFlags {
  readonly mysqlUrl: PerDatabase<string>;
  readonly maxConnections: PerDatabase<number>;
  readonly reserve: PerDatabase<Reserve>;
  readonly unmanaged: PerDatabase<number>;
  readonly maxUserConnections: PerDatabase<number>;
}

export interface RawDatabaseFlags {
  readonly mysqlUrl: readonly string[];
  readonly maxConnections: readonly string[];
  readonly reserve: readonly string[];
  readonly unmanaged: readonly string[];
  readonly maxUserConnections: readonly string[];
}

const NAME = /^([A-Za-z0-9][A-Za-z0-9._-]*)=(.*)$/s;

export function parseDatabaseFlags(raw: RawDatabaseFlags): { flags: DatabaseFlags; errors: string[] } {
  const errors: string[] = [];
  const count =
    (what: string) =>
    (v: string): Result<number> => {
      const n = /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
      return Number.isSafeInteger(n) && n <= MAX_CONNECTIONS
        ? { value: n }
        : { error: `${what} must be a whole number from 0 to ${MAX_CONNECTIONS}` };
    };
  const flags: DatabaseFlags = {
    // A URL carries a password: never echo it, only its redacted form.
    mysqlUrl: perDatabase("--mysql-url", raw.mysqlUrl, mysqlUrl, errors, redact),
    maxConnections: perDatabase("--max-connections", raw.maxConnections, count("max_connections"), errors),
    reserve: perDatabase("--reserve", raw.reserve, parseReserve, errors),
    unmanaged: perDatabase("--unmanaged", raw.unmanaged, count("connections of other clients"), errors),
    maxUserConnections: perDatabase(
      "--max-user-connections",
      raw.maxUserConnections,
      count("max_user_connections"),
      errors,
    ),
  };
  return { flags, errors };
}

/** `5` (connections), `10%` (of max_connections), or `2,5%` (the larger of both, like the default). */
export function parseReserve(text: string): Result<Reserve> {
  let absolute = 0;
  let percent = 0;
  for (const part of text.split(",").map((p) => p.trim())) {
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(part);
    if (pct) percent = Number(pct[1]);
    else if (/^\d+$/.test(part) && Number(part) <= MAX_CONNECTIONS) absolute = Number(part);
    else
      return { error: `reserve must be N (connections, at most ${MAX_CONNECTIONS}), N% (of max_connections) or N,N%` };
  }
  if (percent >= 100) return { error: "reserve percentage must be below 100%" };
  return { value: { absolute, percent } };
}

export type Result<T> = { readonly value: T } | { readonly error: string };

/** Bounds of `--max-file-size`: V8 strings stop near 512 MiB, and a CI gate has no use for more than this. */
export const MAX_FILE_SIZE_BOUNDS = { min: 1024, max: 256 * 1024 * 1024 } as const;

/** Bounds of `--max-total-size` (all input files together: many strings, each under the per-file cap). */
export const MAX_TOTAL_SIZE_BOUNDS = { min: 1024, max: 1024 * 1024 * 1024 } as const;

/** `--max-total-size`: like `--max-file-size`, 1KiB to 1GiB. */
export function parseTotalSize(text: string): Result<number> {
  const bytes = sizeBytes(text);
  const { min, max } = MAX_TOTAL_SIZE_BOUNDS;
  if (!Number.isFinite(bytes) || bytes < min || bytes > max) {
    return { error: "--max-total-size must be a size from 1KiB to 1GiB, such as 128MiB" };
  }
  return { value: bytes };
}

/** Bytes of `512KiB`, `8MiB`, `8M`, `1GiB`, `1000` (1024-based); NaN when it is none of these. */
function sizeBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(text.trim());
  const power = m ? ({ b: 0, k: 1, m: 2, g: 3 } as Record<string, number>)[(m[2] ?? "b")[0]?.toLowerCase() ?? "b"] : 0;
  return m ? Math.floor(Number(m[1]) * 1024 ** (power ?? 0)) : Number.NaN;
}

/** `--max-file-size`: bytes, or with a unit: `512KiB`, `8MiB`, `8M`, `1GiB` (1024-based). */
export function parseFileSize(text: string): Result<number> {
  const bytes = sizeBytes(text);
  const { min, max } = MAX_FILE_SIZE_BOUNDS;
  if (!Number.isFinite(bytes) || bytes < min || bytes > max) {
    return { error: `--max-file-size must be a size from 1KiB to 256MiB, such as 8MiB` };
  }
  return { value: bytes };
}

function mysqlUrl(v: string): Result<string> {
  return v.trim() === "" ? { error: "is empty" } : { value: v.trim() };
}

function perDatabase<T>(
  flag: string,
  values: readonly string[],
  parse: (v: string) => Result<T>,
  errors: string[],
  show: (v: string) => string = (v) => v,
): PerDatabase<T> {
  let all: T | undefined;
  const named = new Map<string, T>();
  for (const text of values) {
    // `name=value`, but a URL's own `=` (query string) is not a name.
    const m = NAME.exec(text);
    const isNamed = m !== null && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text);
    const name = isNamed ? (m[1] as string) : undefined;
    const valueText = isNamed ? (m[2] as string) : text;
    const parsed = parse(valueText);
    if ("error" in parsed) {
      errors.push(`${flag} ${name !== undefined ? `${name}=` : ""}${show(valueText)}: ${parsed.error}`);
      continue;
    }
    if (name === undefined) {
      if (all !== undefined) errors.push(`${flag} is given twice without a database name; use name=value for each`);
      all = parsed.value;
    } else {
      if (named.has(name)) errors.push(`${flag} ${name}=...: given twice`);
      named.set(name, parsed.value);
    }
  }
  return { ...(all !== undefined ? { all } : {}), named };
}
