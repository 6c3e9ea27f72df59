// Processes per container for each way a profile counts them (src/sources/profiles.ts), and Django's threads.
// The rule of src/sources/workers.ts holds for all: `workers` and `workers-env` win; then what the command and the
// env say; nothing readable is "unknown" (the workload is then neither planned nor changed), never a guess.
//   gunicorn  src/sources/workers.ts (Gunicorn, uvicorn, hypercorn)
//   one       one process per container (a JVM): 1
//   puma      `-w N`/`--workers N` of puma, else WEB_CONCURRENCY (0 is Puma's single mode: 1 process); puma reads
//             config/puma.rb, which cannot be seen here, so nothing found is unknown
//   pm2       `-i N`/`--instances N` of pm2/pm2-runtime (`max`, 0 and -1 mean the CPU count: unknown), else
//             WEB_CONCURRENCY (the cluster convention of throng and Heroku); a bare `node` may fork a cluster of its
//             own, so nothing found is unknown
//   celery    `-P threads|gevent|eventlet|solo` run in one process: 1; else `-c N`/`--concurrency N` prefork
//             children; the default is the host's CPU count, which a container cannot see: unknown
import type { OptionFinding, WorkloadOptions } from "./annotations.js";
import { MAX_WORKERS } from "./bounds.js";
import type { ProcessCounting } from "./profiles.js";
import { parseWholeNumber } from "./quantity.js";
import { detectWorkers, type EnvView, expandShellVar, positive, splitArgs, type WorkersResult } from "./workers.js";

export function detectProcesses(
  counting: ProcessCounting,
  input: {
    readonly object: string;
    readonly prefix: string;
    readonly options: WorkloadOptions;
    readonly env: EnvView;
    readonly command: readonly string[];
  },
): WorkersResult {
  const { options } = input;
  if (counting === "gunicorn" || options.workers !== undefined || options.workersEnv !== undefined)
    return detectWorkers(input);
  const errors: OptionFinding[] = [];
  const done = (workers: number, from: string): WorkersResult => ({ workers, from, errors, warnings: [] });
  const unknown = (field: string, message: string, value?: string): WorkersResult => {
    errors.push({
      object: input.object,
      field,
      ...(value !== undefined ? { value } : {}),
      message: `${message}; the workload is not planned and not changed until you set ${input.prefix}workers to the processes per container (or ${input.prefix}workers-env to the variable that holds them)`,
    });
    return { workers: "unknown", from: field, errors, warnings: [] };
  };
  const args = input.command.flatMap((a) => (/\s/.test(a) ? splitArgs(a) : [a]));

  if (counting === "one") return done(1, "one process per container (the JVM)");

  /** A flag's value: a count, or unknown with why; undefined when the flag is absent. */
  const fromFlag = (
    flags: { long: string; short?: string },
    where: string,
    what: string,
    zeroIs?: number,
  ): WorkersResult | undefined => {
    const found = findFlag(args, flags);
    if (!found) return undefined;
    const expanded = expandShellVar(found.raw, input.env);
    if ("unreadable" in expanded)
      return unknown(
        where,
        `${found.flag} ${found.raw}: comes from ${expanded.unreadable.from}, which cannot be read here`,
      );
    const n = parseWholeNumber(expanded.value);
    if (n === 0 && zeroIs !== undefined) return done(zeroIs, `${found.flag} 0 in ${where}`);
    if (n !== undefined && n >= 1 && n <= MAX_WORKERS) return done(n, `${found.flag} in ${where}`);
    return unknown(
      where,
      `${found.flag} must be followed by a whole number of ${what} from 1 to ${MAX_WORKERS}`,
      found.raw,
    );
  };
  /** WEB_CONCURRENCY: a count, `zeroIs` for 0, or unknown with why; undefined when unset. */
  const fromEnv = (name: string, zeroIs?: number): WorkersResult | undefined => {
    const v = input.env.get(name);
    if (v === undefined || (v.kind === "value" && v.value.trim() === "")) return undefined;
    const field = `env ${name}`;
    if (v.kind === "unreadable") return unknown(field, `comes from ${v.from}, which cannot be read here`);
    const n = parseWholeNumber(v.value);
    if (n === 0 && zeroIs !== undefined) return done(zeroIs, `${field}=0 (single mode: 1 process)`);
    if (n !== undefined && n >= 1 && n <= MAX_WORKERS) return done(n, field);
    return unknown(field, `must be a whole number of processes from 1 to ${MAX_WORKERS}`, v.value);
  };

  switch (counting) {
    case "puma": {
      const runsPuma = args.some((a) => /^(?:.*\/)?puma$/.test(a));
      return (
        (runsPuma ? fromFlag({ long: "--workers", short: "-w" }, "command", "Puma workers", 1) : undefined) ??
        fromEnv("WEB_CONCURRENCY", 1) ??
        unknown(
          `${input.prefix}workers`,
          "Puma workers per container unknown: no -w/--workers in a puma command and no WEB_CONCURRENCY (config/puma.rb cannot be seen from here)",
        )
      );
    }
    case "pm2": {
      const runsPm2 = args.some((a) => /^(?:.*\/)?pm2(?:-runtime|-docker)?$/.test(a));
      if (runsPm2) {
        const found = findFlag(args, { long: "--instances", short: "-i" });
        if (found && /^(?:max|0|-1)$/i.test(found.raw.trim()))
          return unknown(
            "command",
            `${found.flag} ${found.raw} starts one process per CPU, which cannot be known here`,
          );
        const r = fromFlag({ long: "--instances", short: "-i" }, "command", "instances");
        if (r) return r;
      }
      return (
        fromEnv("WEB_CONCURRENCY") ??
        unknown(
          `${input.prefix}workers`,
          "Node processes per container unknown: no -i/--instances in a pm2 command and no WEB_CONCURRENCY (an app may fork a cluster of its own)",
        )
      );
    }
    case "celery": {
      const pool = findFlag(args, { long: "--pool", short: "-P" });
      if (pool && /^(?:threads|gevent|eventlet|solo)$/.test(pool.raw.trim()))
        return done(1, `${pool.flag} ${pool.raw.trim()} (one process; its tasks share one pool)`);
      return (
        fromFlag({ long: "--concurrency", short: "-c" }, "command", "prefork children") ??
        unknown(
          `${input.prefix}workers`,
          "Celery concurrency unknown: no -c/--concurrency in the command (Celery's default is the host's CPU count, which cannot be seen from a container)",
        )
      );
    }
  }
}

/** Django: how many threads each Gunicorn worker runs, and whether pooltuner may write them. */
export type ThreadsResult =
  /** `--threads $VAR` or no `--threads` at all: the env var holds them (current value when set). */
  | { readonly kind: "env"; readonly env: string; readonly current?: number; readonly unreadable?: string }
  /** `--threads 4` written in the command or GUNICORN_CMD_ARGS: counted, but not pooltuner's to change. */
  | { readonly kind: "fixed"; readonly threads: number; readonly where: string }
  /** Nothing says how many threads run (a config file may): not planned. */
  | { readonly kind: "unknown"; readonly why: string };

export function detectThreads(env: EnvView, command: readonly string[], capEnv: string): ThreadsResult {
  const cmdArgs = env.get("GUNICORN_CMD_ARGS");
  for (const [args, where] of [
    [command.flatMap((a) => (/\s/.test(a) ? splitArgs(a) : [a])), "the command"],
    [cmdArgs?.kind === "value" ? splitArgs(cmdArgs.value) : [], "GUNICORN_CMD_ARGS"],
  ] as const) {
    const found = findFlag(args, { long: "--threads" });
    if (!found) continue;
    // `$VAR`, `${VAR}`, `${VAR:-N}` (a shell), `$(VAR)` (Kubernetes): the variable holds them.
    const variable =
      /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}|\(([A-Za-z_][A-Za-z0-9_]*)\)|([A-Za-z_][A-Za-z0-9_]*))$/.exec(
        found.raw,
      );
    if (variable) {
      const name = (variable[1] ?? variable[2] ?? variable[3]) as string;
      const expanded = expandShellVar(variable[2] !== undefined ? `$${name}` : found.raw, env);
      if ("unreadable" in expanded) return { kind: "env", env: name, unreadable: expanded.unreadable.from };
      const n = positive(expanded.value);
      return n !== undefined ? { kind: "env", env: name, current: n } : { kind: "env", env: name };
    }
    const n = positive(found.raw);
    if (n === undefined) return { kind: "unknown", why: `--threads ${found.raw} in ${where} is not a thread count` };
    return { kind: "fixed", threads: n, where };
  }
  const v = env.get(capEnv);
  if (v === undefined || (v.kind === "value" && v.value.trim() === ""))
    return {
      kind: "unknown",
      why: `threads per worker unknown: no --threads in the command or GUNICORN_CMD_ARGS and ${capEnv} is not set (a Gunicorn config file may set them, which cannot be seen from here)`,
    };
  if (v.kind === "unreadable") return { kind: "env", env: capEnv, unreadable: v.from };
  const n = positive(v.value);
  return n !== undefined
    ? { kind: "env", env: capEnv, current: n }
    : { kind: "unknown", why: `env ${capEnv}="${v.value}" is not a thread count from 1 to ${MAX_WORKERS}` };
}

/** The last `--long N`, `--long=N`, `-s N` or `-sN` in the arguments. */
function findFlag(
  args: readonly string[],
  flags: { long: string; short?: string },
): { flag: string; raw: string } | undefined {
  let found: { flag: string; raw: string } | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === flags.long || (flags.short !== undefined && a === flags.short))
      found = { flag: a, raw: args[i + 1] ?? "" };
    else if (a.startsWith(`${flags.long}=`)) found = { flag: flags.long, raw: a.slice(flags.long.length + 1) };
    else if (
      flags.short !== undefined &&
      a.startsWith(flags.short) &&
      a.length > flags.short.length &&
      !a.startsWith("--")
    )
      found = { flag: flags.short, raw: a.slice(flags.short.length) };
  }
  return found;
}
