// From what a source read about one workload (options, env, command, replicas, rollout, limits) to the core's
// WorkloadSnapshot. Shared by compose files, manifest files, the Kubernetes controller and the compose daemon,
// so every mode reads env values, workers and accounts the same way.
import type { PoolSettings, Rollout, WorkloadKind, WorkloadSnapshot } from "../core/index.js";
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
  /** Where the account came from: the `account` key or the user in DATABASE_URL; absent when unknown. */
  readonly accountFrom?: string;
  readonly errors: readonly OptionFinding[];
  readonly warnings: readonly OptionFinding[];
}

/** Env vars whose URL names the database user when no `account` key is set. */
const URL_ENVS = ["DATABASE_URL", "SQLALCHEMY_DATABASE_URI"] as const;

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

  let account = f.options.account;
  let accountFrom = account !== undefined ? `${f.prefix}account` : undefined;
  if (account === undefined) {
    for (const name of URL_ENVS) {
      const v = f.env.get(name);
      const user = v?.kind === "value" ? userOf(v.value) : undefined;
      if (user) {
        account = user;
        accountFrom = `user in env ${name}`;
        break;
      }
    }
  }

  const workload: SourcedWorkloadSnapshot = {
    id: f.id,
    kind: f.kind,
    ...(f.options.database !== undefined ? { database: f.options.database } : {}),
    ...(account !== undefined ? { account } : {}),
    replicas: f.replicas,
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
    errors,
    warnings,
  };
}

/** The user of a `mysql://user:pw@host/db` style URL (any scheme with `mysql` in it); the password is never kept. */
function userOf(raw: string): string | undefined {
  if (!/^[a-z0-9+]*mysql[a-z0-9+]*:\/\//i.test(raw.trim())) return undefined;
  try {
    const user = decodeURIComponent(new URL(raw.trim()).username);
    return user !== "" ? user : undefined;
  } catch {
    return undefined;
  }
}
