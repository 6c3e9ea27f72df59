// What `pooltuner controller` and `pooltuner compose` read the same way: the databases (a config file, or
// --mysql-url for a quick start), durations and counts. Errors are CliError("bad-input") naming the flag.
import { Option } from "commander";
import { DEFAULT_POLICY, DEFAULT_RESTART_LIMITS, type RestartLimits } from "../core/index.js";
import { type DaemonConfig, loadConfig } from "../runtime/config.js";
import { LOG_FORMATS } from "../runtime/logger.js";
import { DEFAULT_MAX_FILE_BYTES, readInputFile } from "../sources/input-file.js";
import { CliError } from "./exit.js";

export async function daemonConfig(
  flags: { readonly config?: string; readonly mysqlUrl: readonly string[]; readonly postgresUrl?: readonly string[] },
  env: NodeJS.ProcessEnv,
): Promise<DaemonConfig> {
  const file = flags.config ?? env.POOLTUNER_CONFIG;
  // Either flag takes either kind of URL: its scheme picks the driver (runtime/drivers.ts).
  const given = [...flags.mysqlUrl, ...(flags.postgresUrl ?? [])];
  const fromEnv = [env.POOLTUNER_MYSQL_URL, env.POOLTUNER_POSTGRES_URL].filter((u): u is string => !!u);
  const urls = given.length > 0 ? given : fromEnv;
  if (file && given.length > 0) {
    throw new CliError("bad-input", ["give --config or --mysql-url/--postgres-url, not both"]);
  }
  if (file) {
    const read = await readInputFile(file, { maxBytes: DEFAULT_MAX_FILE_BYTES });
    if (!read.ok) throw new CliError("bad-input", [`--config ${file} ${read.message}`]);
    try {
      return await loadConfig(read.text, file, env);
    } catch (err) {
      throw new CliError("bad-input", [(err as Error).message]);
    }
  }
  if (urls.length === 0) {
    throw new CliError("bad-input", [
      "no database: give --config <file> (or env POOLTUNER_CONFIG), or --mysql-url/--postgres-url (or env POOLTUNER_MYSQL_URL/POOLTUNER_POSTGRES_URL)",
    ]);
  }
  const databases = urls.map((u) => {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)=(.+)$/s.exec(u);
    return m && !m[1]?.includes(":") ? { name: m[1] as string, url: m[2] as string } : { name: "default", url: u };
  });
  const names = databases.map((d) => d.name);
  if (new Set(names).size !== names.length) {
    throw new CliError("bad-input", ["--mysql-url/--postgres-url: each database needs its own name (name=url)"]);
  }
  return { databases, policy: DEFAULT_POLICY };
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Every duration flag of `controller` and `compose`, with its bounds (ms). The upper bounds stay below 2^31 - 1 ms:
 * Node turns a longer timer into 1 ms, a busy loop. The lower bounds keep polls and checks from spinning.
 */
export const DURATION_BOUNDS = {
  "--poll-interval": { min: 100, max: DAY },
  "--resync-interval": { min: SECOND, max: DAY },
  "--cooldown": { min: 0, max: 7 * DAY },
  "--failure-backoff": { min: SECOND, max: 7 * DAY },
  "--unmanaged-window": { min: 0, max: DAY },
  "--settle": { min: 0, max: HOUR },
  "--start-timeout": { min: SECOND, max: HOUR },
  "--rollout-timeout": { min: SECOND, max: DAY },
  "--rollout-check-interval": { min: 100, max: HOUR },
  "--debounce": { min: 0, max: 10 * MINUTE },
  "--lease-duration": { min: SECOND, max: HOUR },
  "--renew-deadline": { min: SECOND, max: HOUR },
  "--retry-period": { min: 100, max: HOUR },
  "--kube-request-timeout": { min: 100, max: 10 * MINUTE },
} as const satisfies Record<string, { min: number; max: number }>;
export type DurationFlag = keyof typeof DURATION_BOUNDS;

/** `500ms`, `15s`, `10m`, `1h`, `1d`; a bare number is seconds. Bounded by DURATION_BOUNDS[flag]. */
export function duration(text: string, flag: DurationFlag): number {
  const { min, max } = DURATION_BOUNDS[flag];
  const range = `from ${formatDuration(min)} to ${formatDuration(max)}`;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m)
    throw new CliError("bad-input", [`${flag}: "${text}" is not a duration (e.g. 500ms, 15s, 10m, 1h; ${range})`]);
  const unit = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY }[(m[2] ?? "s") as "ms" | "s" | "m" | "h" | "d"];
  const ms = Math.round(Number(m[1]) * unit);
  if (!(ms >= min && ms <= max)) throw new CliError("bad-input", [`${flag}: ${text} is out of range: give ${range}`]);
  return ms;
}

/** `0`, `100ms`, `1s`, `10m`, `1h`, `7d`: the largest unit that divides it. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  for (const [unit, size] of [
    ["d", DAY],
    ["h", HOUR],
    ["m", MINUTE],
    ["s", SECOND],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A whole number from 0 to `max`. */
export function count(text: string, flag: string, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(Number.isSafeInteger(n) && n <= max)) {
    throw new CliError("bad-input", [`${flag}: "${text}" must be a whole number from 0 to ${max}`]);
  }
  return n;
}

/** `--http-port`: 0 (off) to 65535. */
export function port(text: string, flag: string): number {
  return count(text, flag, 65_535);
}

/** `--min-gain`: pool_size + max_overflow never moves by more than a server's max_connections (100,000). */
export const MAX_MIN_GAIN = 100_000;

/** `--log-format` of both daemons (a fresh Option per command: commander keeps state on it). */
export const LOG_FORMAT_OPTION = (): Option =>
  new Option("--log-format <format>", "logs on stderr as JSON lines or as text lines for a terminal")
    .choices(LOG_FORMATS)
    .default("json");

/** `--max-concurrent-restarts` and `--max-restarts-per-hour` of both daemons: a flag wins over the config key. */
export function restartLimits(
  flags: { readonly maxConcurrentRestarts?: string; readonly maxRestartsPerHour?: string },
  config: DaemonConfig,
): RestartLimits {
  const maxConcurrent =
    flags.maxConcurrentRestarts !== undefined
      ? count(flags.maxConcurrentRestarts, "--max-concurrent-restarts", 1_000)
      : (config.restarts?.maxConcurrent ?? DEFAULT_RESTART_LIMITS.maxConcurrent);
  if (maxConcurrent < 1) throw new CliError("bad-input", ["--max-concurrent-restarts: give at least 1"]);
  const maxPerHour =
    flags.maxRestartsPerHour !== undefined
      ? count(flags.maxRestartsPerHour, "--max-restarts-per-hour", 100_000)
      : (config.restarts?.maxPerHour ?? DEFAULT_RESTART_LIMITS.maxPerHour);
  return { maxConcurrent, maxPerHour };
}

/** The restart-limit flags, the same on both daemons (fresh Options per command). */
export const MAX_CONCURRENT_RESTARTS_OPTION = (): Option =>
  new Option(
    "--max-concurrent-restarts <n>",
    "restarts in progress at once across all databases; decreases of the most over-budget database go first " +
      "(default 1, or maxConcurrentRestarts in --config)",
  );
export const MAX_RESTARTS_PER_HOUR_OPTION = (): Option =>
  new Option(
    "--max-restarts-per-hour <n>",
    "restarts started per hour across all databases, 0 for no limit; never holds a decrease " +
      "(default 0, or maxRestartsPerHour in --config)",
  );
