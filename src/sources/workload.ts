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
  readonly env: EnvView;
  readonly command: readonly string[];
  readonly replicas: number;
  readonly hpa?: { readonly minReplicas: number; readonly maxReplicas: number };
  readonly rollout: Rollout;
  readonly resources?: { readonly cpuMillis?: number; readonly memoryBytes?: number };
}

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

export function buildWorkload(f: WorkloadFacts): BuiltWorkload {
  const errors: OptionFinding[] = [];
  const warnings: OptionFinding[] = [];
  const workers = detectWorkers(f);
  errors.push(...workers.errors);
  warnings.push(...workers.warnings);

  const current: { -readonly [K in keyof PoolSettings]?: number } = {};
  for (const [field, name] of [
    ["poolSize", f.options.poolSizeEnv],
    ["maxOverflow", f.options.maxOverflowEnv],
  ] as const) {
    const v = f.env.get(name);
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

  const candidates = accountCandidates(f.env);
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
    workers: workers.workers,
    ...(f.resources && (f.resources.cpuMillis !== undefined || f.resources.memoryBytes !== undefined)
      ? { resources: f.resources }
      : {}),
    weight: f.options.weight,
    ...(Object.keys(current).length > 0 ? { current } : {}),
  };
  return {
    workload,
    workersFrom: workers.from,
    ...(accountFrom ? { accountFrom } : {}),
    accountCandidates: candidates,
    errors,
    warnings,
  };
}
