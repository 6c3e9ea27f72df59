// Workload options from Kubernetes annotations (`pooltuner.io/<key>`) or Docker labels (`io.pooltuner.<key>`).
// Same keys in both (DESIGN §4). Parsing returns data (STYLE 8): every bad key becomes one finding that names
// the object and the key; nothing throws. Used by `plan`/`check`, the Kubernetes controller and the compose daemon.

import { type ChangeWindow, parseChangeWindow, type UpdateMode } from "../core/index.js";
import { MAX_REPLICAS, MAX_WORKERS } from "./bounds.js";
import { fieldWithValue } from "./shown-value.js";

export type { UpdateMode } from "../core/index.js";

import { OPTION_KEYS, type OptionKey, type OptionsFlavor, PREFIX } from "./identity.js";

export { OPTION_KEYS, type OptionsFlavor, PREFIX } from "./identity.js";

export interface WorkloadOptions {
  /** Opt-in: only `enabled: "true"` workloads are managed. Default false. */
  readonly enabled: boolean;
  /** Name of the database the workload uses; absent lets a single-database setup pick it. */
  readonly database?: string;
  /** Kubernetes only: which container's env to read and write. Default: the first container. */
  readonly container?: string;
  /** Env var holding SQLAlchemy `pool_size`. Default `DB_POOL_SIZE`. */
  readonly poolSizeEnv: string;
  /** Env var holding SQLAlchemy `max_overflow`. Default `DB_MAX_OVERFLOW`. */
  readonly maxOverflowEnv: string;
  /** Env var holding the worker count; absent = detect (GUNICORN_WORKERS, WEB_CONCURRENCY, `--workers N`). */
  readonly workersEnv?: string;
  /** Explicit worker processes per pod/container; wins over any detection. */
  readonly workers?: number;
  /**
   * The highest replica count the owner scales the workload to by hand (`kubectl scale`, `compose up --scale`):
   * planned for when higher than the current count. An HPA's maxReplicas wins over it.
   */
  readonly maxReplicas?: number;
  /** Share of a tight budget relative to the other workloads of the same database. Default 1. */
  readonly weight: number;
  /** auto: apply; off: recommend only. Default auto (enabling is the opt-in). */
  readonly updateMode: UpdateMode;
  /** Database user the workload connects as; workloads sharing it share its connection limits. */
  readonly account?: string;
  /** Paused by a person: still planned and counted, never changed (a needed decrease warns every interval). */
  readonly paused: boolean;
  /**
   * Kubernetes only: whether a Deployment's old pods keep holding connections after they are told to stop; absent =
   * derived from the pod spec (a preStop hook or a grace period above 30 s). See core lingeringPods().
   */
  readonly oldPodsLinger?: boolean;
  /**
   * Application profile: how processes are counted and how the cap is written (src/sources/profiles.ts). Default
   * `sqlalchemy`; a name the configuration does not know becomes a finding where the profile is resolved.
   */
  readonly profile: string;
  /** Env var holding a single-number cap (threads, maximumPoolSize, pool max); absent: the profile's default. */
  readonly capEnv?: string;
  /** When increases may restart it (`Sat 02:00-04:00 Europe/Berlin; Sun 01:00-02:00`); replaces the database's. */
  readonly changeWindows?: readonly ChangeWindow[];
  /**
   * Kubernetes only: the workload is rendered from a Helm chart whose values hold this container's env at this
   * path (`web.env` -> ["web", "env"]), a map of name -> value or a list of {name, value}; `-o patch` then prints a
   * values fragment instead of a kustomize patch.
   */
  readonly helmValues?: readonly string[];
}

export const DEFAULT_OPTIONS: WorkloadOptions = {
  enabled: false,
  poolSizeEnv: "DB_POOL_SIZE",
  maxOverflowEnv: "DB_MAX_OVERFLOW",
  weight: 1,
  updateMode: "auto",
  paused: false,
  profile: "sqlalchemy",
};

export interface OptionFinding {
  /** The object the key sits on, e.g. `Deployment shop/web` or `service web`. */
  readonly object: string;
  /** The full key, e.g. `pooltuner.io/weight`. */
  readonly field: string;
  readonly value?: string;
  readonly message: string;
}

export interface ParsedOptions {
  readonly options: WorkloadOptions;
  /** True when at least one key under the prefix is present (enabled or not). */
  readonly present: boolean;
  readonly errors: readonly OptionFinding[];
  readonly warnings: readonly OptionFinding[];
}

/** Keys the shells write themselves (status, applied values); never reported as unknown. */
const WRITTEN_BY_POOLTUNER = /^(status|applied|last-|observed)/;

type Key = OptionKey;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DATABASE_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;
const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_WEIGHT = 1_000_000;
/** One key of a Helm values path: what `.Values.a.b` reaches in a template (letters, digits, '_', '-'). */
const HELM_KEY = /^[A-Za-z0-9_-]{1,63}$/;
const MAX_HELM_DEPTH = 16;
export const PROFILE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

type Rule<T> = (value: string) => { value: T } | { message: string };

const envName: Rule<string> = (v) =>
  ENV_NAME.test(v) ? { value: v } : { message: "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)" };

const trueOrFalse: Rule<boolean> = (v) => {
  const t = v.trim().toLowerCase();
  return t === "true" || t === "false" ? { value: t === "true" } : { message: 'must be "true" or "false"' };
};

const RULES: { [K in Key]: Rule<unknown> } = {
  enabled: trueOrFalse,
  paused: trueOrFalse,
  "old-pods-linger": trueOrFalse,
  database: (v) =>
    DATABASE_NAME.test(v) ? { value: v } : { message: "must be a database name (letters, digits, '.', '_', '-')" },
  container: (v) =>
    CONTAINER_NAME.test(v) ? { value: v } : { message: "must be a container name (lowercase letters, digits, '-')" },
  "pool-size-env": envName,
  "max-overflow-env": envName,
  "workers-env": envName,
  "cap-env": envName,
  profile: (v) => {
    const t = v.trim().toLowerCase();
    return PROFILE_NAME.test(t)
      ? { value: t }
      : { message: "must be a profile name (lowercase letters, digits, '-'), such as sqlalchemy, django or hikari" };
  },
  workers: (v) => {
    const n = /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
    return Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS
      ? { value: n }
      : { message: `must be a whole number of worker processes from 1 to ${MAX_WORKERS}` };
  },
  "max-replicas": (v) => {
    const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
    return Number.isInteger(n) && n <= MAX_REPLICAS
      ? { value: n }
      : {
          message: `must be a whole number of replicas from 0 to ${MAX_REPLICAS}: the most the workload is scaled to by hand`,
        };
  },
  weight: (v) => {
    const n = /^\d*\.?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
    return Number.isFinite(n) && n > 0 && n <= MAX_WEIGHT
      ? { value: n }
      : { message: `must be a number > 0 and <= ${MAX_WEIGHT}, such as 1 or 2.5` };
  },
  "update-mode": (v) => {
    const t = v.trim().toLowerCase();
    return t === "auto" || t === "off" ? { value: t } : { message: 'must be "auto" or "off"' };
  },
  "change-window": (v) => {
    const windows: ChangeWindow[] = [];
    for (const part of v.split(";").map((p) => p.trim())) {
      if (part === "") continue;
      const w = parseChangeWindow(part);
      // The value is not quoted back (a key may hold a pasted secret): the shape says what is expected.
      if ("error" in w)
        return {
          message:
            'must be change windows: days, HH:MM-HH:MM and optionally an IANA time zone, e.g. "Sat 02:00-04:00" or ' +
            '"Mon-Fri 22:00-06:00 Europe/Berlin"; separate several with ";" (a zone not given is UTC)',
        };
      windows.push(w.window);
    }
    return windows.length > 0
      ? { value: windows }
      : { message: 'must name at least one window, e.g. "Sat 02:00-04:00"' };
  },
  "helm-values": (v) => {
    const keys = v.split(".");
    return keys.length <= MAX_HELM_DEPTH && keys.every((k) => HELM_KEY.test(k))
      ? { value: keys }
      : {
          message: `must be a dotted path into the chart's values, such as web.env or extraEnv: keys of letters, digits, '_' and '-', at most ${MAX_HELM_DEPTH} deep`,
        };
  },
  account: (v) =>
    v.length <= 80 && !/[\s\p{Cc}]/u.test(v)
      ? { value: v }
      : { message: "must be a database user name (at most 80 characters, no spaces)" },
};

/**
 * Parse the options of one workload from its annotations or labels.
 * `object` names the workload in findings (`Deployment shop/web`, `service web`).
 */
export function parseWorkloadOptions(
  map: Readonly<Record<string, unknown>> | undefined,
  flavor: OptionsFlavor,
  object: string,
): ParsedOptions {
  const prefix = PREFIX[flavor];
  const errors: OptionFinding[] = [];
  const warnings: OptionFinding[] = [];
  const values: Partial<Record<Key, unknown>> = {};
  let present = false;

  for (const [field, raw] of Object.entries(map ?? {})) {
    if (!field.startsWith(prefix)) continue;
    present = true;
    const key = field.slice(prefix.length);
    if (WRITTEN_BY_POOLTUNER.test(key)) continue;
    if (!isKey(key)) {
      const near = nearestKey(key);
      warnings.push({
        object,
        field,
        message: `unknown key, ignored${near ? ` (did you mean ${prefix}${near}?)` : ""}`,
      });
      continue;
    }
    // Labels and annotations are strings; YAML may still hand us `true` or `4` when unquoted.
    const value =
      typeof raw === "string" ? raw : typeof raw === "number" || typeof raw === "boolean" ? String(raw) : "";
    if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") {
      errors.push({ object, field, message: "must be a string" });
      continue;
    }
    if (value.trim() === "") {
      errors.push({ object, field, value, message: "is empty" });
      continue;
    }
    const result = RULES[key](value.trim());
    if ("message" in result) errors.push({ object, field, value, message: result.message });
    else values[key] = result.value;
  }

  const options: WorkloadOptions = {
    enabled: (values.enabled as boolean | undefined) ?? DEFAULT_OPTIONS.enabled,
    poolSizeEnv: (values["pool-size-env"] as string | undefined) ?? DEFAULT_OPTIONS.poolSizeEnv,
    maxOverflowEnv: (values["max-overflow-env"] as string | undefined) ?? DEFAULT_OPTIONS.maxOverflowEnv,
    weight: (values.weight as number | undefined) ?? DEFAULT_OPTIONS.weight,
    updateMode: (values["update-mode"] as UpdateMode | undefined) ?? DEFAULT_OPTIONS.updateMode,
    paused: (values.paused as boolean | undefined) ?? DEFAULT_OPTIONS.paused,
    profile: (values.profile as string | undefined) ?? DEFAULT_OPTIONS.profile,
    ...optional("capEnv", values["cap-env"] as string | undefined),
    ...optional("database", values.database as string | undefined),
    ...optional("container", values.container as string | undefined),
    ...optional("workersEnv", values["workers-env"] as string | undefined),
    ...optional("workers", values.workers as number | undefined),
    ...optional("maxReplicas", values["max-replicas"] as number | undefined),
    ...optional("account", values.account as string | undefined),
    ...optional("oldPodsLinger", values["old-pods-linger"] as boolean | undefined),
    ...optional("changeWindows", values["change-window"] as ChangeWindow[] | undefined),
    ...optional("helmValues", values["helm-values"] as string[] | undefined),
  };

  if (options.poolSizeEnv === options.maxOverflowEnv) {
    errors.push({
      object,
      field: `${prefix}max-overflow-env`,
      value: options.maxOverflowEnv,
      message: `must differ from ${prefix}pool-size-env (both name ${options.poolSizeEnv})`,
    });
  }
  if (options.workers !== undefined && options.workersEnv !== undefined) {
    warnings.push({
      object,
      field: `${prefix}workers-env`,
      value: options.workersEnv,
      message: `ignored: ${prefix}workers=${options.workers} is set and wins`,
    });
  }
  if (flavor === "docker" && options.oldPodsLinger !== undefined) {
    warnings.push({
      object,
      field: `${prefix}old-pods-linger`,
      value: String(options.oldPodsLinger),
      message: "ignored for Docker: compose recreates stop-first, old containers are gone before new ones start",
    });
  }
  if (flavor === "docker" && options.container !== undefined) {
    warnings.push({
      object,
      field: `${prefix}container`,
      value: options.container,
      message: "ignored for Docker: a service's labels already belong to one container",
    });
  }
  if (flavor === "docker" && options.helmValues !== undefined) {
    warnings.push({
      object,
      field: `${prefix}helm-values`,
      value: options.helmValues.join("."),
      message: "ignored for Docker: -o patch prints env-file lines for compose services",
    });
  }
  if (present && values.enabled === undefined && errors.every((e) => e.field !== `${prefix}enabled`)) {
    warnings.push({
      object,
      field: `${prefix}enabled`,
      message: `not set: the workload has ${prefix}* keys but is not managed until ${prefix}enabled is "true"`,
    });
  }
  return { options, present, errors, warnings };
}

export function formatOptionFinding(f: OptionFinding): string {
  return `${f.object}: ${fieldWithValue(f.field, f.value)}: ${f.message}`;
}

function isKey(key: string): key is Key {
  return (OPTION_KEYS as readonly string[]).includes(key);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** The known key within edit distance 2, for typo hints. */
function nearestKey(key: string): Key | undefined {
  let best: { key: Key; d: number } | undefined;
  for (const k of OPTION_KEYS) {
    const d = editDistance(key, k);
    if (d <= 2 && (!best || d < best.d)) best = { key: k, d };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
