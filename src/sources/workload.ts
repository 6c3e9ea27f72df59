// From what a source read about one workload (options, env, command, replicas, rollout, limits) to the core's
// WorkloadSnapshot. Shared by compose files, manifest files, the Kubernetes controller and the compose daemon,
// so every mode reads env values, workers and accounts the same way.
import type { PoolSettings, Rollout, WorkloadKind, WorkloadSnapshot } from "../core/index.js";
import { type AccountCandidate, accountCandidates, resolveAccount } from "./account.js";
import type { OptionFinding, WorkloadOptions } from "./annotations.js";
import { MAX_POOL_SETTING } from "./bounds.js";
import { parseWholeNumber } from "./quantity.js";
import { detectWorkers, type EnvView } from "./workers.js";

/** A workload before its database is resolved: the CLI (or the controller's config) settles `database`. */
export type SourcedWorkloadSnapshot = Omit<WorkloadSnapshot, "database"> & { readonly database?: string };

export interface WorkloadFacts {
  readonly id: string;
  readonly kind: WorkloadKind;
  /** How findings name the object, e.g. `Deployment shop/web`. */
  readonly object: string;
  /** The options key prefix, for findings (`pooltuner.io/`). */
  readonly prefix: string;
  readonly options: WorkloadOptions;
  /**
   * What each replica runs: one pod template, one compose definition, or every container of a running compose
   * service (a half-finished apply or a container started by hand may differ). At least one.
   */
  readonly instances: readonly Instance[];
  readonly replicas: number;
  readonly hpa?: { readonly minReplicas: number; readonly maxReplicas: number };
  readonly rollout: Rollout;
}

export interface Instance {
  readonly env: EnvView;
  /** Entrypoint + command/args as the container runs them (already split into arguments). */
  readonly command: readonly string[];
  readonly resources?: Resources;
}

type Resources = { readonly cpuMillis?: number; readonly memoryBytes?: number };
type Current = { -readonly [K in keyof PoolSettings]?: number };

export interface BuiltWorkload {
  readonly workload: SourcedWorkloadSnapshot;
  readonly workersFrom: string;
  /** Where the account came from: the `account` key or the user in a database URL in env; absent when unknown. */
  readonly accountFrom?: string;
  /**
   * Env values that are database URLs (user, host, port; never the password). When they name several users the
   * account stays unknown here: the shell that knows the database's host:port settles it (sources/account.ts).
   */
  readonly accountCandidates: readonly AccountCandidate[];
  readonly errors: readonly OptionFinding[];
  readonly warnings: readonly OptionFinding[];
}

/**
 * The workload at its most demanding across its instances: unknown workers anywhere make the count unknown (it is
 * then not planned), else the most workers; the worst current settings (see worstCurrent); the largest limits.
 */
export function buildWorkload(f: WorkloadFacts): BuiltWorkload {
  const errors: OptionFinding[] = [];
  const warnings: OptionFinding[] = [];
  const read = f.instances.map((i) => readInstance(f, i, errors, warnings));
  const first = read[0];
  if (!first) throw new Error(`internal: ${f.object} has no instance`);
  const counts: (number | "unknown")[] = read.map((r) => r.workers.workers);
  const workers = counts.some((n) => n === "unknown") ? "unknown" : Math.max(...(counts as number[]));
  const current = worstCurrent(read.map((r) => r.current));
  const resources = {
    ...optional("cpuMillis", maxDefined(f.instances.map((i) => i.resources?.cpuMillis))),
    ...optional("memoryBytes", maxDefined(f.instances.map((i) => i.resources?.memoryBytes))),
  };
  const candidates = accountCandidates(f.instances[0]?.env as EnvView);
  // Without the database's address only a single user can be taken; the shell settles several.
  const found =
    f.options.account !== undefined
      ? { account: f.options.account, from: `${f.prefix}account` }
      : resolveAccount(candidates, undefined, f.prefix);
  const account = found.account;
  const accountFrom = found.account !== undefined ? found.from : undefined;
  const workload: SourcedWorkloadSnapshot = {
    id: f.id,
    kind: f.kind,
    ...(f.options.database !== undefined ? { database: f.options.database } : {}),
    ...(account !== undefined ? { account } : {}),
    replicas: f.replicas,
    ...(f.options.maxReplicas !== undefined ? { maxReplicas: f.options.maxReplicas } : {}),
    ...(f.hpa ? { hpa: f.hpa } : {}),
    rollout: f.rollout,
    workers,
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    weight: f.options.weight,
    ...(current && Object.keys(current).length > 0 ? { current } : {}),
  };
  return {
    workload,
    workersFrom: first.workers.from,
    ...(accountFrom ? { accountFrom } : {}),
    accountCandidates: candidates,
    errors: dedupe(errors),
    warnings: dedupe(warnings),
  };
}

function readInstance(f: WorkloadFacts, i: Instance, errors: OptionFinding[], warnings: OptionFinding[]) {
  const workers = detectWorkers({
    object: f.object,
    prefix: f.prefix,
    options: f.options,
    env: i.env,
    command: i.command,
  });
  errors.push(...workers.errors);
  warnings.push(...workers.warnings);
  const current: Current = {};
  for (const [field, name] of [
    ["poolSize", f.options.poolSizeEnv],
    ["maxOverflow", f.options.maxOverflowEnv],
  ] as const) {
    const v = i.env.get(name);
    // Empty counts as unset: apps read these as `int(os.environ.get(...) or default)`.
    if (v === undefined || (v.kind === "value" && v.value.trim() === "")) continue;
    if (v.kind === "unreadable") {
      warnings.push({
        object: f.object,
        field: `env ${name}`,
        message: `comes from ${v.from}, which cannot be read here; the current setting is assumed`,
      });
      continue;
    }
    const n = parseWholeNumber(v.value, { allowNegative: true });
    if (n === undefined || n < -1 || n > MAX_POOL_SETTING) {
      errors.push({
        object: f.object,
        field: `env ${name}`,
        value: v.value,
        message: `must be a whole number from -1 to ${MAX_POOL_SETTING} (SQLAlchemy ${field === "poolSize" ? "pool_size" : "max_overflow"})`,
      });
    } else {
      current[field] = n;
    }
  }
  return { workers, current };
}

/**
 * The settings at their most demanding across instances: an unbounded one wins, then one with an unset value (the
 * planner assumes SQLAlchemy's defaults for it), then the largest pool + overflow.
 */
function worstCurrent(all: readonly Current[]): Current | undefined {
  const unbounded = all.find((c) => (c.poolSize !== undefined && c.poolSize <= 0) || (c.maxOverflow ?? 0) < 0);
  if (unbounded) return unbounded;
  const unset = all.find((c) => c.poolSize === undefined || c.maxOverflow === undefined);
  if (unset) return unset.poolSize === undefined && unset.maxOverflow === undefined ? undefined : unset;
  const cap = (c: Current) => (c.poolSize ?? 0) + (c.maxOverflow ?? 0);
  return [...all].sort((a, b) => cap(b) - cap(a))[0];
}

function maxDefined(values: readonly (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length > 0 ? Math.max(...defined) : undefined;
}

function optional<K extends string>(key: K, v: number | undefined): { [P in K]?: number } {
  return (v !== undefined ? { [key]: v } : {}) as { [P in K]?: number };
}

function dedupe<T>(xs: readonly T[]): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const k = JSON.stringify(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
