// How many worker processes a container runs: each process has its own SQLAlchemy pool (DESIGN §3).
// Order, strongest first, following Gunicorn's own precedence (command line > GUNICORN_CMD_ARGS > config file >
// WEB_CONCURRENCY):
//   1. pooltuner `workers` key
//   2. pooltuner `workers-env` key
//   3. `--workers N` in the command (gunicorn, uvicorn, hypercorn) or `-w N` (gunicorn, hypercorn; uvicorn has no
//      `-w`), then the same in GUNICORN_CMD_ARGS
//   4. env GUNICORN_WORKERS (the convention config files read)
//   5. env WEB_CONCURRENCY (Gunicorn's and uvicorn's own default)
// A bare uvicorn (no config file exists for it) runs 1 process.
// Nothing found, or a source that cannot be read or is not a count: "unknown", never a guess. Gunicorn also takes
// its workers from `-c FILE`, `--config` and, by default, `./gunicorn.conf.py`, none of which can be read from
// here, so a missing flag does not mean Gunicorn's default of 1. An unknown workload is neither planned nor changed
// (the core's rule) and the error names the key that settles it.
// `--threads N` is deliberately not read: threads share their process's SQLAlchemy pool (one engine per process),
// so they do not multiply pools; they only compete for the same pool_size + max_overflow connections.
import type { OptionFinding, WorkloadOptions } from "./annotations.js";
import { MAX_WORKERS } from "./bounds.js";
import { parseWholeNumber } from "./quantity.js";

/** An env var as a source could read it: a literal value, or one it cannot see (Secret, fieldRef, ...). */
export type EnvValue =
  | { readonly kind: "value"; readonly value: string }
  | { readonly kind: "unreadable"; readonly from: string };
export type EnvView = ReadonlyMap<string, EnvValue>;

export interface WorkersResult {
  /** `"unknown"` always comes with an error finding saying what to set. */
  readonly workers: number | "unknown";
  /** Where the number came from, for output and findings. */
  readonly from: string;
  readonly errors: readonly OptionFinding[];
  readonly warnings: readonly OptionFinding[];
}

const WORKER_ENVS = ["GUNICORN_WORKERS", "WEB_CONCURRENCY"] as const;

export function detectWorkers(input: {
  readonly object: string;
  readonly prefix: string;
  readonly options: WorkloadOptions;
  readonly env: EnvView;
  /** Entrypoint + command/args as the container runs them (already split into arguments). */
  readonly command: readonly string[];
}): WorkersResult {
  const { object, prefix, options, env } = input;
  const errors: OptionFinding[] = [];
  const warnings: OptionFinding[] = [];
  const done = (workers: number, from: string): WorkersResult => ({ workers, from, errors, warnings });
  /** One error naming what is wrong and the key that settles it; the count is then unknown. */
  const unknown = (from: string, finding: Omit<OptionFinding, "object">): WorkersResult => {
    errors.push({ object, ...finding, message: `${finding.message}; ${UNKNOWN_SO(prefix)}` });
    return { workers: "unknown", from, errors, warnings };
  };

  /** A worker count held by one env var that is set: its number, or unknown with why. */
  const countIn = (field: string, v: EnvValue): WorkersResult => {
    if (v.kind === "unreadable") {
      return unknown(field, { field, message: `comes from ${v.from}, which cannot be read here` });
    }
    const n = positive(v.value);
    if (n !== undefined) return done(n, field);
    return unknown(field, {
      field,
      value: v.value,
      message: `must be a whole number of worker processes from 1 to ${MAX_WORKERS}`,
    });
  };

  if (options.workers !== undefined) return done(options.workers, `${prefix}workers`);

  if (options.workersEnv !== undefined) {
    const name = options.workersEnv;
    const field = `env ${name}`;
    const v = env.get(name);
    if (v === undefined) {
      return unknown(field, { field, message: `named by ${prefix}workers-env but not set in the environment` });
    }
    return countIn(field, v);
  }

  // The command line wins over GUNICORN_CMD_ARGS, which wins over the environment defaults.
  const cmdArgs = env.get("GUNICORN_CMD_ARGS");
  for (const [args, where, server] of [
    [input.command, "command", undefined],
    [cmdArgs?.kind === "value" ? splitArgs(cmdArgs.value) : [], "env GUNICORN_CMD_ARGS", "gunicorn"],
  ] as const) {
    if (where === "env GUNICORN_CMD_ARGS" && cmdArgs?.kind === "unreadable") {
      return unknown(where, {
        field: where,
        message: `comes from ${cmdArgs.from}, which cannot be read here (it may set --workers)`,
      });
    }
    const found = workersFlag(args, env, server);
    if (found === undefined) continue;
    if (found.value !== undefined) return done(found.value, `${found.flag} in ${where}`);
    return unknown(where, {
      field: where,
      value: found.raw,
      message: found.unreadable
        ? `${found.flag} ${found.raw}: ${found.unreadable.name} comes from ${found.unreadable.from}, which cannot be read here`
        : `${found.flag} must be followed by a whole number of worker processes from 1 to ${MAX_WORKERS}`,
    });
  }

  for (const name of WORKER_ENVS) {
    const v = env.get(name);
    if (v === undefined || (v.kind === "value" && v.value.trim() === "")) continue;
    const field = `env ${name}`;
    return countIn(field, v);
  }

  // uvicorn reads no config file: without --workers or WEB_CONCURRENCY (both read above) it runs one process.
  if (runsUvicornAlone(input.command)) return done(1, "uvicorn's default (no --workers: 1 process)");

  return unknown("unknown", {
    field: `${prefix}workers`,
    message:
      "worker processes per container unknown: no --workers/-w in the command or GUNICORN_CMD_ARGS, no " +
      "GUNICORN_WORKERS or WEB_CONCURRENCY (Gunicorn may also read them from -c FILE, --config or " +
      "./gunicorn.conf.py, which cannot be seen from here)",
  });
}

/** The end of every unknown-workers error: what happens, and the key that settles it. */
const UNKNOWN_SO = (prefix: string) =>
  `the workload is not planned and not changed until you set ${prefix}workers to the worker processes per container (or ${prefix}workers-env to the variable that holds them)`;

/**
 * `--workers N`, `--workers=N`, `-w N`, `-wN` (the short form only for servers that have it: gunicorn, hypercorn).
 * `$VAR`, `${VAR}` and `${VAR:-N}` values are resolved from the container's env. `server` names the program when the
 * arguments are known to be its own (GUNICORN_CMD_ARGS).
 */
function workersFlag(
  rawArgs: readonly string[],
  env: EnvView,
  server?: string,
): { flag: string; raw: string; value: number | undefined; unreadable?: { name: string; from: string } } | undefined {
  // `sh -c "gunicorn -w 4 app:app"`: look inside arguments that are whole command lines too.
  const args = rawArgs.flatMap((a) => (/\s/.test(a) ? splitArgs(a) : [a]));
  const shortW = server !== undefined || args.some((a) => SHORT_W_SERVERS.test(a));
  let found: { flag: string; raw: string } | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--workers" || (shortW && a === "-w")) found = { flag: a, raw: args[i + 1] ?? "" };
    else if (a.startsWith("--workers=")) found = { flag: "--workers", raw: a.slice("--workers=".length) };
    else if (shortW && /^-w\S/.test(a)) found = { flag: "-w", raw: a.slice(2) };
  }
  if (!found) return undefined;
  const expanded = expandShellVar(found.raw, env);
  if ("unreadable" in expanded) return { ...found, value: undefined, unreadable: expanded.unreadable };
  return { ...found, value: positive(expanded.value) };
}

/** The command starts uvicorn itself (`uvicorn app:app`, `python -m uvicorn ...`), not through gunicorn/hypercorn. */
function runsUvicornAlone(command: readonly string[]): boolean {
  const args = command.flatMap((a) => (/\s/.test(a) ? splitArgs(a) : [a]));
  return args.some((a) => /^(?:.*\/)?uvicorn$/.test(a)) && !args.some((a) => SHORT_W_SERVERS.test(a));
}

/** Programs whose `-w` is the worker count (uvicorn has no `-w`; for celery it is something else). */
const SHORT_W_SERVERS = /^(?:.*\/)?(?:gunicorn|hypercorn)(?:\.py)?$/;

/**
 * `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}` from the env; anything else as is. A variable that cannot be
 * read (a Secret) is reported as such: its default would be a guess.
 */
export function expandShellVar(
  raw: string,
  env: EnvView,
): { value: string } | { unreadable: { name: string; from: string } } {
  const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))$/.exec(raw);
  if (!m) return { value: raw };
  const name = (m[1] ?? m[3]) as string;
  const v = env.get(name);
  if (v?.kind === "unreadable") return { unreadable: { name, from: v.from } };
  if (v?.kind === "value" && v.value !== "") return { value: v.value };
  return { value: m[2] ?? "" };
}

export function positive(raw: string): number | undefined {
  const n = parseWholeNumber(raw);
  return n !== undefined && n >= 1 && n <= MAX_WORKERS ? n : undefined;
}

/** Split a command line into arguments: whitespace, with single and double quotes and backslash escapes. */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur !== "") out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += c;
    }
  }
  if (has || cur !== "") out.push(cur);
  return out;
}
