// From what a source read about one workload (options, env, command, replicas, rollout, limits) to the core's
// WorkloadSnapshot. Shared by compose files, manifest files, the Kubernetes controller and the compose daemon,
// so every mode reads env values, workers and accounts the same way.
import type { PoolSettings, Rollout, WorkloadKind, WorkloadSnapshot } from "../core/index.js";
import { type AccountCandidate, accountCandidates, catalogFor, resolveAccount } from "./account.js";
import type { OptionFinding, WorkloadOptions } from "./annotations.js";
import { MAX_POOL_SETTING } from "./bounds.js";
import { detectProcesses, detectThreads } from "./processes.js";
import { BUILTIN_REGISTRY, capWriting, type Profile, type ProfileRegistry } from "./profiles.js";
import { parseWholeNumber } from "./quantity.js";
import type { EnvView, WorkersResult } from "./workers.js";

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
  /** Profiles the `profile` key may name; default the built-ins. */
  readonly profiles?: ProfileRegistry;
}

export interface Instance {
  readonly env: EnvView;
  /** Entrypoint + command/args as the container runs them (already split into arguments). */
  readonly command: readonly string[];
  /**
   * The same before Kubernetes' `$(VAR)` references were resolved: `--threads $(GUNICORN_THREADS)` is the env var's
   * to set, where the resolved `--threads 4` would look fixed. Absent: `command` is as written.
   */
  readonly rawCommand?: readonly string[];
  readonly resources?: Resources;
}

type Resources = { readonly cpuMillis?: number; readonly memoryBytes?: number };
type Current = { -readonly [K in keyof PoolSettings]?: number };

export interface BuiltWorkload {
  readonly workload: SourcedWorkloadSnapshot;
  readonly workersFrom: string;
  /** The profile the workload is read with (the default when its `profile` names none known). */
  readonly profile: Profile;
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
  const registry = f.profiles ?? BUILTIN_REGISTRY;
  const named = registry.get(f.options.profile);
  if (!named) {
    errors.push({
      object: f.object,
      field: `${f.prefix}profile`,
      value: f.options.profile,
      message: `unknown profile; known: ${[...registry.keys()].join(", ")} (custom ones come from the configuration file's profiles, or plan/check --profiles); the workload is not planned and not changed`,
    });
  }
  const profile = named ?? (BUILTIN_REGISTRY.get("sqlalchemy") as Profile);
  // Without its profile nothing else about the workload can be read right: only the profile error is said.
  const read = f.instances.map((i) => readInstance(f, profile, i, named ? errors : [], named ? warnings : []));
  const first = read[0];
  if (!first) throw new Error(`internal: ${f.object} has no instance`);
  const counts: (number | "unknown")[] = named ? read.map((r) => r.workers.workers) : ["unknown"];
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
  const catalog = account !== undefined ? catalogFor(candidates, account) : undefined;
  const workload: SourcedWorkloadSnapshot = {
    id: f.id,
    kind: f.kind,
    ...(f.options.database !== undefined ? { database: f.options.database } : {}),
    ...(account !== undefined ? { account } : {}),
    ...(catalog !== undefined ? { catalog } : {}),
    replicas: f.replicas,
    ...(f.options.maxReplicas !== undefined ? { maxReplicas: f.options.maxReplicas } : {}),
    ...(f.hpa ? { hpa: f.hpa } : {}),
    rollout: f.rollout,
    workers,
    writes: capWriting(profile, f.options, first.capEnv, first.atMost),
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    weight: f.options.weight,
    ...(current && Object.keys(current).length > 0 ? { current } : {}),
  };
  return {
    workload,
    workersFrom: first.workers.from,
    profile,
    ...(accountFrom ? { accountFrom } : {}),
    accountCandidates: candidates,
    errors: dedupe(errors),
    warnings: dedupe(warnings),
  };
}

function readInstance(
  f: WorkloadFacts,
  profile: Profile,
  i: Instance,
  errors: OptionFinding[],
  warnings: OptionFinding[],
): { workers: WorkersResult; current: Current; capEnv: string; atMost: Map<string, number> } {
  let workers = detectProcesses(profile.processes, {
    object: f.object,
    prefix: f.prefix,
    options: f.options,
    env: i.env,
    command: i.command,
  });
  errors.push(...workers.errors);
  warnings.push(...workers.warnings);
  const current: Current = {};
  const atMost = new Map<string, number>();
  if (profile.cap.kind === "single") {
    let capEnv = f.options.capEnv ?? profile.cap.env;
    const field = (name: string) => `env ${name}`;
    if (profile.cap.threads) {
      const t = detectThreads(i.env, i.rawCommand ?? i.command, capEnv);
      if (t.kind === "fixed") {
        current.poolSize = t.threads;
        errors.push({
          object: f.object,
          field: `--threads in ${t.where}`,
          value: String(t.threads),
          message: `threads are fixed in ${t.where}, so they are not pooltuner's to set: recommend only (no change is written); write --threads $${capEnv} (or read ${capEnv} in the Gunicorn config) to let pooltuner set them`,
        });
      } else if (t.kind === "unknown") {
        errors.push({
          object: f.object,
          field: `${f.prefix}cap-env`,
          message: `${t.why}; the workload is not planned and not changed until ${capEnv} is set`,
        });
        workers = { ...workers, workers: "unknown" };
      } else {
        capEnv = t.env;
        if (t.current !== undefined) current.poolSize = t.current;
        if (t.unreadable)
          warnings.push({
            object: f.object,
            field: field(t.env),
            message: `comes from ${t.unreadable}, which cannot be read here; the current setting is assumed`,
          });
      }
      if (current.poolSize !== undefined) current.maxOverflow = 0;
      return { workers, current, capEnv, atMost };
    }
    for (const name of [capEnv, ...(profile.cap.atMost ?? [])]) {
      const n = readSetting(f, i, name, `${profile.name} ${name === capEnv ? "cap" : "setting"}`, errors, warnings);
      if (n === undefined) continue;
      if (name === capEnv) current.poolSize = n;
      else atMost.set(name, n);
    }
    // One number is the whole cap: no overflow, so instances compare by it alone (worstCurrent).
    if (current.poolSize !== undefined) current.maxOverflow = 0;
    return { workers, current, capEnv, atMost };
  }
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
  return { workers, current, capEnv: f.options.poolSizeEnv, atMost };
}

/** One env var holding a whole number (-1 .. MAX_POOL_SETTING); undefined when unset, unreadable or bad. */
function readSetting(
  f: WorkloadFacts,
  i: Instance,
  name: string,
  what: string,
  errors: OptionFinding[],
  warnings: OptionFinding[],
): number | undefined {
  const v = i.env.get(name);
  if (v === undefined || (v.kind === "value" && v.value.trim() === "")) return undefined;
  if (v.kind === "unreadable") {
    warnings.push({
      object: f.object,
      field: `env ${name}`,
      message: `comes from ${v.from}, which cannot be read here; the current setting is assumed`,
    });
    return undefined;
  }
  const n = parseWholeNumber(v.value, { allowNegative: true });
  if (n === undefined || n < -1 || n > MAX_POOL_SETTING) {
    errors.push({
      object: f.object,
      field: `env ${name}`,
      value: v.value,
      message: `must be a whole number from -1 to ${MAX_POOL_SETTING} (${what})`,
    });
    return undefined;
  }
  return n;
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
