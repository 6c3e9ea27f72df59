// The daemons' configuration file: the databases workloads may name, and the planner's knobs.
// Kubernetes mounts it from a Secret; compose mounts it as a file. URLs may come from a file or an env var
// so the secret never has to sit in the config itself.
import { z } from "zod";
import { DEFAULT_POLICY, type Policy, type SizingRow } from "../core/index.js";
import { DEFAULT_MAX_FILE_BYTES, readInputFile } from "../sources/input-file.js";
import { parseYamlDocuments } from "../sources/parse-yaml.js";
import { parseSizingRows } from "../sources/sizing-table-rows.js";

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
  })
  .strict()
  .refine((d) => [d.url, d.urlFile, d.urlEnv].filter(Boolean).length === 1, {
    message: "set exactly one of url, urlFile, urlEnv",
  });

const configSchema = z
  .object({
    databases: z.array(databaseSchema).min(1),
    reserve: reserveSchema.optional(),
    // Rows are checked by the same parser as `pooltuner plan --sizing-table`, for the same messages.
    sizingTable: z.array(z.unknown()).min(1).optional(),
  })
  .strict();

export interface DatabaseConfig {
  readonly name: string;
  /** Resolved monitoring URL. Never log it. */
  readonly url: string;
  readonly reserve?: { absolute: number; percent: number };
}

export interface DaemonConfig {
  readonly databases: readonly DatabaseConfig[];
  readonly policy: Policy;
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
    databases.push({ name: d.name, url: url as string, ...(d.reserve ? { reserve: d.reserve } : {}) });
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
  return { databases, policy };
}

/** A urlFile: a regular file only (a FIFO or device is refused, never opened for reading). */
async function readRegularFile(path: string): Promise<string> {
  const read = await readInputFile(path, { maxBytes: DEFAULT_MAX_FILE_BYTES });
  if (!read.ok) throw new Error(read.message);
  return read.text;
}
