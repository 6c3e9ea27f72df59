// How many worker processes a container runs: each process has its own SQLAlchemy pool (DESIGN §3).
// Order, strongest first, following Gunicorn's own precedence (command line > config file > WEB_CONCURRENCY):
//   1. pooltuner `workers` key           4. env GUNICORN_WORKERS (the convention config files read)
//   2. pooltuner `workers-env` key       5. env WEB_CONCURRENCY (Gunicorn's own default)
//   3. `--workers N` / `-w N` in the command (also in GUNICORN_CMD_ARGS)
// Nothing found: 1 (Gunicorn's default) and a warning.
import type { OptionFinding, WorkloadOptions } from "./annotations.js";
import { MAX_WORKERS } from "./bounds.js";
import { parseWholeNumber } from "./quantity.js";

/** An env var as a source could read it: a literal value, or one it cannot see (Secret, fieldRef, ...). */
export type EnvValue =
  | { readonly kind: "value"; readonly value: string }
  | { readonly kind: "unreadable"; readonly from: string };
export type EnvView = ReadonlyMap<string, EnvValue>;

export interface WorkersResult {
  readonly workers: number;
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

  if (options.workers !== undefined) return done(options.workers, `${prefix}workers`);

  if (options.workersEnv !== undefined) {
    const name = options.workersEnv;
    const field = `env ${name}`;
    const v = env.get(name);
    if (v === undefined) {
      errors.push({ object, field, message: `named by ${prefix}workers-env but not set in the environment` });
    } else if (v.kind === "unreadable") {
      errors.push({ object, field, message: `comes from ${v.from}, which cannot be read here; set ${prefix}workers` });
    } else {
      const n = positive(v.value);
      if (n !== undefined) return done(n, field);
      errors.push({
        object,
        field,
        value: v.value,
        message: `must be a whole number of worker processes from 1 to ${MAX_WORKERS}`,
      });
    }
    return done(1, field);
  }

  const cmdArgs = env.get("GUNICORN_CMD_ARGS");
  for (const [args, where] of [
    [input.command, "command"],
    [cmdArgs?.kind === "value" ? splitArgs(cmdArgs.value) : [], "env GUNICORN_CMD_ARGS"],
  ] as const) {
    const found = workersFlag(args, env);
    if (found === undefined) continue;
    if (found.value !== undefined) return done(found.value, `${found.flag} in ${where}`);
    errors.push({
      object,
      field: where,
      value: found.raw,
      message: `${found.flag} must be followed by a whole number of worker processes from 1 to ${MAX_WORKERS}`,
    });
    return done(1, where);
  }

  for (const name of WORKER_ENVS) {
    const v = env.get(name);
    if (v === undefined || (v.kind === "value" && v.value.trim() === "")) continue;
    const field = `env ${name}`;
    if (v.kind === "unreadable") {
      errors.push({ object, field, message: `comes from ${v.from}, which cannot be read here; set ${prefix}workers` });
      return done(1, field);
    }
    const n = positive(v.value);
    if (n !== undefined) return done(n, field);
    errors.push({
      object,
      field,
      value: v.value,
      message: `must be a whole number of worker processes from 1 to ${MAX_WORKERS}`,
    });
    return done(1, field);
  }

  warnings.push({
    object,
    field: `${prefix}workers`,
    message:
      "no worker count found (GUNICORN_WORKERS, WEB_CONCURRENCY, --workers); assuming 1 process per container: set it if the server forks workers",
  });
  return done(1, "default");
}

/**
 * `--workers N`, `--workers=N`, `-w N`, `-wN` (the short form only when the command runs gunicorn).
 * `$VAR`, `${VAR}` and `${VAR:-N}` values are resolved from the container's env.
 */
function workersFlag(
  rawArgs: readonly string[],
  env: EnvView,
): { flag: string; raw: string; value: number | undefined } | undefined {
  // `sh -c "gunicorn -w 4 app:app"`: look inside arguments that are whole command lines too.
  const args = rawArgs.flatMap((a) => (/\s/.test(a) ? splitArgs(a) : [a]));
  const gunicorn = args.some((a) => /(^|\/)gunicorn(\.py)?$/.test(a) || a === "gunicorn");
  let found: { flag: string; raw: string } | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--workers" || (gunicorn && a === "-w")) found = { flag: a, raw: args[i + 1] ?? "" };
    else if (a.startsWith("--workers=")) found = { flag: "--workers", raw: a.slice("--workers=".length) };
    else if (gunicorn && /^-w\S/.test(a)) found = { flag: "-w", raw: a.slice(2) };
  }
  if (!found) return undefined;
  return { ...found, value: positive(expandShellVar(found.raw, env)) };
}

/** `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}` from the env; anything else as is. */
function expandShellVar(raw: string, env: EnvView): string {
  const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))$/.exec(raw);
  if (!m) return raw;
  const v = env.get((m[1] ?? m[3]) as string);
  if (v?.kind === "value" && v.value !== "") return v.value;
  return m[2] ?? "";
}

function positive(raw: string): number | undefined {
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
