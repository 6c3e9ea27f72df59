// The daemons' configuration file: the databases workloads may name, and the planner's knobs.
// Kubernetes mounts it from a Secret; compose mounts it as a file. URLs may come from a file or an env var
// so the secret never has to sit in the config itself.
import { z } from "zod";
import {
  type ChangeWindow,
  DEFAULT_POLICY,
  isTimeZone,
  type Policy,
  parseChangeWindow,
  type SizingRow,
} from "../core/index.js";
import { PROFILE_NAME } from "../sources/annotations.js";
import { DEFAULT_MAX_FILE_BYTES, readInputFile } from "../sources/input-file.js";
import { parseYamlDocuments } from "../sources/parse-yaml.js";
import {
  BUILTIN_REGISTRY,
  PROCESS_COUNTINGS,
  type ProcessCounting,
  type Profile,
  type ProfileRegistry,
  profileRegistry,
} from "../sources/profiles.js";
import { parseSizingRows } from "../sources/sizing-table-rows.js";
import { NOTIFICATION_KINDS, WEBHOOK_FORMATS, type WebhookConfig } from "./webhooks.js";

const reserveSchema = z
  .object({ absolute: z.number().int().min(0).default(0), percent: z.number().min(0).max(100).default(0) })
  .strict();

const databaseSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/i, "letters, digits, . _ -"),
    url: z.string().min(1).optional(),
    urlFile: z.string().min(1).optional(),
    urlEnv: z.string().min(1).optional(),
    reserve: reserveSchema.optional(),
    // Tenancy (controller only): the namespaces whose workloads may use this database, "*" for any.
    namespaces: z
      .array(z.string().regex(/^(\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$/, 'a namespace name, or "*" for any'))
      .optional(),
    maxWeight: z.number().positive().max(1_000_000).optional(),
    // When increases of its workloads may restart them (decreases never wait); replaces the global list.
    changeWindows: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .refine((d) => [d.url, d.urlFile, d.urlEnv].filter(Boolean).length === 1, {
    message: "set exactly one of url, urlFile, urlEnv",
  });

// A webhook's URL is a secret (Slack and Teams put the token in it): from a file or an env var, like databases'.
const webhookSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/i, "letters, digits, . _ -"),
    url: z.string().min(1).optional(),
    urlFile: z.string().min(1).optional(),
    urlEnv: z.string().min(1).optional(),
    format: z.enum(WEBHOOK_FORMATS).default("generic"),
    events: z.array(z.enum(NOTIFICATION_KINDS)).min(1).optional(),
  })
  .strict()
  .refine((d) => [d.url, d.urlFile, d.urlEnv].filter(Boolean).length === 1, {
    message: "set exactly one of url, urlFile, urlEnv",
  });

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = z.string().regex(ENV_NAME, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");

// A custom profile: how processes are counted (one of the built-in ways) and either SQLAlchemy's pair (`pair: true`,
// names from the workload's pool-size-env/max-overflow-env) or one env var that holds the whole per-process cap.
const profileSchema = z
  .object({
    name: z.string().regex(PROFILE_NAME, "lowercase letters, digits, '-'"),
    processes: z.enum(PROCESS_COUNTINGS as [ProcessCounting, ...ProcessCounting[]]),
    pair: z.boolean().optional(),
    capEnv: envName.optional(),
    default: z.number().int().min(1).max(100_000).optional(),
    atMost: z.array(envName).optional(),
    tableCap: z.enum(["process", "container"]).optional(),
  })
  .strict()
  .refine((p) => (p.pair === true) !== (p.capEnv !== undefined), {
    message: "set either pair: true (SQLAlchemy's pool_size + max_overflow) or capEnv (one number)",
  })
  .refine((p) => p.pair !== true || (p.default === undefined && p.atMost === undefined && p.tableCap === undefined), {
    message: "default, atMost and tableCap apply to a capEnv profile only",
  })
  .refine((p) => p.capEnv === undefined || p.default !== undefined, {
    message: "default is required with capEnv: what a process runs with when the variable is unset",
  });

const configSchema = z
  .object({
    databases: z.array(databaseSchema).min(1),
    reserve: reserveSchema.optional(),
    // Rows are checked by the same parser as `pooltuner plan --sizing-table`, for the same messages.
    sizingTable: z.array(z.unknown()).min(1).optional(),
    // The global pause: every workload is still planned and counted, none is changed.
    paused: z.boolean().optional(),
    // Application profiles beyond the built-in ones (src/sources/profiles.ts).
    profiles: z.array(profileSchema).optional(),
    // Restarts across all databases: at most this many in progress at once, at most this many started per hour.
    maxConcurrentRestarts: z.number().int().min(1).max(1_000).optional(),
    maxRestartsPerHour: z.number().int().min(0).max(100_000).optional(),
    // Change windows for increases of every database's workloads, and the time zone they are read in.
    changeWindows: z.array(z.string().min(1)).optional(),
    timeZone: z.string().min(1).optional(),
    notifications: z
      .object({ webhooks: z.array(webhookSchema) })
      .strict()
      .optional(),
  })
  .strict();

export interface DatabaseConfig {
  readonly name: string;
  /** Resolved monitoring URL. Never log it. */
  readonly url: string;
  readonly reserve?: { absolute: number; percent: number };
  /** Namespaces whose workloads may use it (`*`: any); absent: the default of src/kube/tenancy.ts. */
  readonly namespaces?: readonly string[];
  /** The largest `weight` a workload on it may ask for; absent: DEFAULT_MAX_WEIGHT. */
  readonly maxWeight?: number;
  /** When increases may restart its workloads (its own list, else the global one); absent: any time. */
  readonly changeWindows?: readonly ChangeWindow[];
}

export interface DaemonConfig {
  readonly databases: readonly DatabaseConfig[];
  readonly policy: Policy;
  /** `paused: true`: nothing is changed anywhere (a needed decrease warns every interval). */
  readonly paused?: boolean;
  /** Built-in profiles plus the config's own; absent when the config defines none. */
  readonly profiles?: ProfileRegistry;
  /** `maxConcurrentRestarts`, `maxRestartsPerHour`; the flags of the same name win over them. */
  readonly restarts?: { readonly maxConcurrent?: number; readonly maxPerHour?: number };
  /** Webhooks told of applies and conditions (`notifications.webhooks`); URLs resolved, never to be logged. */
  readonly webhooks?: readonly WebhookConfig[];
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parse and resolve a config document. `env` and `readText` are passed in so tests and shells decide. */
export async function loadConfig(
  text: string,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
  readText: (path: string) => Promise<string> = readRegularFile,
): Promise<DaemonConfig> {
  // The same reader as plan/check: linear in the number of keys, alias bombs refused.
  const parsed0 = parseYamlDocuments(text);
  if ("error" in parsed0) {
    const { line, message } = parsed0.error;
    throw new ConfigError(`${source}${line === undefined ? "" : `:${line}`}: not valid: ${message}`);
  }
  const docs = parsed0.docs.filter((d) => d !== null && d !== undefined);
  if (docs.length > 1) throw new ConfigError(`${source}: must hold one YAML document`);
  const raw: unknown = docs[0];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`${source}: ${issues.join("; ")}`);
  }
  const timeZone = parsed.data.timeZone ?? "UTC";
  if (!isTimeZone(timeZone)) throw new ConfigError(`${source}: timeZone: "${timeZone}" is not an IANA time zone`);
  const windows = (texts: readonly string[] | undefined, where: string): ChangeWindow[] | undefined => {
    if (!texts) return undefined;
    return texts.map((t) => {
      const w = parseChangeWindow(t, timeZone);
      if ("error" in w) throw new ConfigError(`${source}: ${where}: ${w.error}`);
      return w.window;
    });
  };
  const globalWindows = windows(parsed.data.changeWindows, "changeWindows");
  const names = new Set<string>();
  const databases: DatabaseConfig[] = [];
  for (const d of parsed.data.databases) {
    if (names.has(d.name)) throw new ConfigError(`${source}: database ${d.name} is defined twice`);
    names.add(d.name);
    let url = d.url;
    if (d.urlEnv) {
      url = env[d.urlEnv];
      if (!url) throw new ConfigError(`${source}: database ${d.name}: env var ${d.urlEnv} is not set`);
    }
    if (d.urlFile) {
      try {
        url = (await readText(d.urlFile)).trim();
      } catch {
        throw new ConfigError(`${source}: database ${d.name}: cannot read urlFile ${d.urlFile}`);
      }
    }
    databases.push({
      name: d.name,
      url: url as string,
      ...(d.reserve ? { reserve: d.reserve } : {}),
      ...(d.namespaces ? { namespaces: [...new Set(d.namespaces)] } : {}),
      ...(d.maxWeight !== undefined ? { maxWeight: d.maxWeight } : {}),
      ...((d.changeWindows ?? globalWindows)
        ? { changeWindows: windows(d.changeWindows, `database ${d.name}: changeWindows`) ?? globalWindows ?? [] }
        : {}),
    });
  }
  let sizingTable: SizingRow[] | undefined;
  if (parsed.data.sizingTable) {
    const table = parseSizingRows(parsed.data.sizingTable, `${source}: sizingTable`);
    if (table.errors.length > 0) throw new ConfigError(table.errors.join("; "));
    sizingTable = table.rows;
  }
  const policy: Policy = {
    ...DEFAULT_POLICY,
    ...(parsed.data.reserve ? { reserve: parsed.data.reserve } : {}),
    ...(sizingTable ? { sizingTable } : {}),
  };
  let profiles: ProfileRegistry | undefined;
  if (parsed.data.profiles) {
    const r = customProfiles(parsed.data.profiles, `${source}: profiles`);
    if ("error" in r) throw new ConfigError(r.error);
    profiles = r.profiles;
  }
  const webhooks: WebhookConfig[] = [];
  for (const w of parsed.data.notifications?.webhooks ?? []) {
    if (webhooks.some((x) => x.name === w.name)) throw new ConfigError(`${source}: webhook ${w.name} is defined twice`);
    const url = await resolveSecret(w, `webhook ${w.name}`, source, env, readText);
    if (!/^https?:\/\//i.test(url))
      throw new ConfigError(`${source}: webhook ${w.name}: the URL must start with http:// or https://`);
    webhooks.push({ name: w.name, url, format: w.format, ...(w.events ? { events: w.events } : {}) });
  }
  const { maxConcurrentRestarts: maxConcurrent, maxRestartsPerHour: maxPerHour } = parsed.data;
  return {
    databases,
    policy,
    ...(parsed.data.paused ? { paused: true } : {}),
    ...(profiles ? { profiles } : {}),
    ...(webhooks.length > 0 ? { webhooks } : {}),
    ...(maxConcurrent !== undefined || maxPerHour !== undefined
      ? {
          restarts: {
            ...(maxConcurrent !== undefined ? { maxConcurrent } : {}),
            ...(maxPerHour !== undefined ? { maxPerHour } : {}),
          },
        }
      : {}),
  };
}

/**
 * Custom profiles (a `profiles:` list of the config file, or `pooltuner plan --profiles FILE`) with the built-ins:
 * one line naming what is wrong, or the registry.
 */
export function parseProfiles(raw: unknown, where: string): { profiles: ProfileRegistry } | { error: string } {
  const parsed = z.array(profileSchema).safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(list)"}: ${i.message}`);
    return { error: `${where}: ${issues.join("; ")}` };
  }
  return customProfiles(parsed.data, where);
}

function customProfiles(
  list: readonly z.infer<typeof profileSchema>[],
  where: string,
): { profiles: ProfileRegistry } | { error: string } {
  const custom: Profile[] = [];
  for (const p of list) {
    if (BUILTIN_REGISTRY.has(p.name) || custom.some((c) => c.name === p.name))
      return { error: `${where}: ${p.name} is defined twice (or is a built-in profile)` };
    custom.push({
      name: p.name,
      processes: p.processes,
      cap: p.capEnv
        ? {
            kind: "single",
            env: p.capEnv,
            assumed: p.default as number,
            ...(p.atMost ? { atMost: p.atMost } : {}),
            ...(p.tableCap ? { tableCap: p.tableCap } : {}),
          }
        : { kind: "pool-overflow" },
      what: p.capEnv ? `${p.capEnv} per process` : "pool_size + max_overflow per process",
    });
  }
  return { profiles: profileRegistry(custom) };
}

/** A webhook's URL from `url`, `urlEnv` or `urlFile`; errors name the key, never the value. */
async function resolveSecret(
  d: { url?: string | undefined; urlEnv?: string | undefined; urlFile?: string | undefined },
  what: string,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
  readText: (path: string) => Promise<string>,
): Promise<string> {
  if (d.urlEnv) {
    const v = env[d.urlEnv];
    if (!v) throw new ConfigError(`${source}: ${what}: env var ${d.urlEnv} is not set`);
    return v.trim();
  }
  if (d.urlFile) {
    try {
      return (await readText(d.urlFile)).trim();
    } catch {
      throw new ConfigError(`${source}: ${what}: cannot read urlFile ${d.urlFile}`);
    }
  }
  return d.url as string;
}

/** A urlFile: a regular file only (a FIFO or device is refused, never opened for reading). */
async function readRegularFile(path: string): Promise<string> {
  const read = await readInputFile(path, { maxBytes: DEFAULT_MAX_FILE_BYTES });
  if (!read.ok) throw new Error(read.message);
  return read.text;
}
