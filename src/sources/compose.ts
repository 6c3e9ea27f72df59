// docker-compose files -> workloads. Reads what `docker compose up` would run: labels, replicas, environment
// (env_file, then `environment`), `${VAR}` interpolation from the shell and the project's `.env`, resource limits
// and the command. Recreating a compose container is stop-first (DESIGN §3), so there is no surge.
import { realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { Rollout } from "../core/index.js";
import { parseWorkloadOptions } from "./annotations.js";
import { MAX_REPLICAS } from "./bounds.js";
import { interpolate, type Lookup, parseEnvFile } from "./dotenv.js";
import { inFile, type LoadedWorkload, type SourceFinding, type SourceResult } from "./findings.js";
import { composeWorkloadId, PREFIX } from "./identity.js";
import { DEFAULT_MAX_FILE_BYTES, type ReadLimits, readInputFile } from "./input-file.js";
import type { ProfileRegistry } from "./profiles.js";
import { describe, parseComposeBytes, parseComposeCpus } from "./quantity.js";
import { type EnvValue, splitArgs } from "./workers.js";
import { buildWorkload } from "./workload.js";

export interface ComposeInput {
  /** Profiles the `profile` label may name; default the built-ins. */
  readonly profiles?: ProfileRegistry;
  /** The path as the user gave it; findings use it. */
  readonly file: string;
  /** The parsed YAML document. */
  readonly data: unknown;
  /** The shell environment compose would see (wins over `.env`, as in compose). */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Cap for the env files read (default DEFAULT_MAX_FILE_BYTES). */
  readonly limits?: ReadLimits;
  /**
   * Whether `env_file` (and `.env`) may resolve outside the compose file's folder. Off by default: a pull request
   * must not make a CI gate read `/etc/shadow` or `../../secrets.env` and report on it.
   */
  readonly allowEnvFileOutside?: boolean;
  /**
   * Database names given on the command line. A database label interpolated from the environment keeps its value
   * only when it is one of these (the command line already shows it); otherwise it is described, never printed.
   */
  readonly knownDatabases?: ReadonlySet<string>;
}

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether a parsed YAML document looks like a compose file: a `services` map and no Kubernetes `kind`. */
export function isComposeDocument(data: unknown): boolean {
  return isMap(data) && isMap(data.services) && data.kind === undefined && data.apiVersion === undefined;
}

export async function readCompose(input: ComposeInput): Promise<SourceResult> {
  const { file } = input;
  const dir = dirname(file);
  const errors: SourceFinding[] = [];
  const warnings: SourceFinding[] = [];
  const workloads: LoadedWorkload[] = [];
  const data = input.data as Json;

  // The project's .env feeds interpolation only; the shell environment wins over it.
  const files: EnvFiles = {
    dir,
    limits: input.limits ?? { maxBytes: DEFAULT_MAX_FILE_BYTES },
    allowOutside: input.allowEnvFileOutside ?? false,
  };
  const dotenv = await readDotenv(files, input.environment, errors);
  const lookup: Lookup = (name) => input.environment[name] ?? dotenv.get(name);

  // Each finding names the field the variable sits in, e.g. `environment.DB_POOL_SIZE`.
  const interp = (value: unknown, object: string, field: string): unknown =>
    deepInterpolate(value, field, lookup, (path, problem) => {
      if (problem.kind === "missing") {
        warnings.push({
          file,
          object,
          field: path,
          message: `variable ${problem.name} is not set; using an empty string`,
        });
      } else {
        errors.push({ file, object, field: path, message: problem.message });
      }
    });

  // `name:` interpolated from the environment (`name: ${CI_PROJECT}`) may carry anything the CI has, a token
  // included, and the project name is part of every workload id printed: it is described by its variables instead.
  // COMPOSE_PROJECT_NAME is the CI's own setting, not the pull request's, and is used as compose uses it.
  const interpolatedName = str(interp(data.name, "project", "name"));
  const nameFromEnvironment =
    typeof data.name === "string" && interpolatedName !== str(literalOf(data.name)) ? data.name : undefined;
  const project =
    input.environment.COMPOSE_PROJECT_NAME === undefined && nameFromEnvironment !== undefined
      ? projectName(`env-${variablesOf(nameFromEnvironment).join("-")}`, dir)
      : projectName(input.environment.COMPOSE_PROJECT_NAME ?? interpolatedName, dir);

  for (const [service, rawDef] of Object.entries(data.services as Json)) {
    const object = `service ${service}`;
    if (!isMap(rawDef)) {
      if (rawDef !== null) errors.push({ file, object, message: `must be a map, got ${describe(rawDef)}` });
      continue;
    }
    const labels = labelMap(interp(rawDef.labels, object, "labels"), (message) =>
      errors.push({ file, object, field: "labels", message }),
    );
    const parsedAsIs = parseWorkloadOptions(labels, "docker", object);
    errors.push(...parsedAsIs.errors.map((f) => inFile(file, f)));
    warnings.push(...parsedAsIs.warnings.map((f) => inFile(file, f)));
    if (!parsedAsIs.options.enabled) continue;
    const parsed = describeDatabaseFromEnvironment(parsedAsIs, rawDef.labels, input.knownDatabases, (field, m) =>
      warnings.push({ file, object, field, message: m }),
    );

    // Labels are already interpolated: do not report their variables twice.
    const { labels: _labels, ...rest } = rawDef;
    const def = interp(rest, object, "") as Json;
    const fail = (field: string, message: string) => errors.push({ file, object, field, message });
    const deploy = isMap(def.deploy) ? def.deploy : {};

    const origins = new Map<string, string>();
    const env = await serviceEnv(def, files, lookup, (e) => errors.push({ ...e, object }), fail, origins);

    const replicas = replicaCount(deploy, def, fail, (f, m) => warnings.push({ file, object, field: f, message: m }));
    const resources = limits(deploy, def, fail);
    const command = [...commandArgs(def.entrypoint), ...commandArgs(def.command)];
    const updateConfig = isMap(deploy.update_config) ? deploy.update_config : {};
    const rollout: Rollout = updateConfig.order === "start-first" ? { type: "StartFirst" } : { type: "StopFirst" };

    const built = buildWorkload({
      id: composeWorkloadId(project, service),
      kind: "ComposeService",
      object,
      prefix: PREFIX.docker,
      options: parsed.options,
      instances: [{ env, command, resources }],
      replicas,
      rollout,
      ...(input.profiles ? { profiles: input.profiles } : {}),
    });
    errors.push(...built.errors.map((f) => inFile(file, f)));
    warnings.push(...built.warnings.map((f) => inFile(file, f)));
    const envOrigin: Record<string, string> = {};
    for (const name of [parsed.options.poolSizeEnv, parsed.options.maxOverflowEnv]) {
      const origin = origins.get(name);
      if (origin !== undefined) envOrigin[name] = origin;
    }
    workloads.push({
      ...built,
      file,
      object,
      flavor: "docker",
      options: parsed.options,
      patchTarget: { envOrigin },
    });
  }
  return { workloads, errors, warnings };
}

/** The project's .env feeds interpolation only; the shell environment wins over it. */
/** Where env files are read from, and how much of them (untrusted input: the project directory, a size cap). */
interface EnvFiles {
  readonly dir: string;
  readonly limits: ReadLimits;
  readonly allowOutside: boolean;
}

async function readDotenv(
  files: EnvFiles,
  environment: ComposeInput["environment"],
  errors: SourceFinding[],
): Promise<ReadonlyMap<string, string>> {
  const path = join(files.dir, ".env");
  const text = await readProjectFile(files.dir, ".env", files.limits, files.allowOutside);
  if (text instanceof Error) {
    errors.push({ file: path, message: text.message });
    return new Map();
  }
  if (text === undefined) return new Map();
  const parsed = parseEnvFile(text, (name) => environment[name]);
  for (const e of parsed.errors) errors.push({ file: `${path}:${e.line}`, message: e.message });
  return parsed.vars;
}

/** The service's env as compose builds it: `env_file` entries in order, then `environment` (which wins). */
async function serviceEnv(
  def: Json,
  files: EnvFiles,
  lookup: Lookup,
  fileError: (f: { file: string; message: string }) => void,
  fail: (field: string, message: string) => void,
  /** Filled with where each variable was set last: `env_file <path as written>` or `environment`. */
  origins: Map<string, string>,
): Promise<Map<string, EnvValue>> {
  const env = new Map<string, EnvValue>();
  for (const entry of envFileEntries(def.env_file, (m) => fail("env_file", m))) {
    const shown = isAbsolute(entry.path) ? entry.path : join(files.dir, entry.path);
    const text = await readProjectFile(files.dir, entry.path, files.limits, files.allowOutside);
    if (text instanceof Error) {
      fail("env_file", `${shown} ${text.message}`);
      continue;
    }
    if (text === undefined) {
      if (entry.required) fail("env_file", `${shown} does not exist`);
      continue;
    }
    const parsedFile = parseEnvFile(text, lookup);
    for (const e of parsedFile.errors) fileError({ file: `${shown}:${e.line}`, message: e.message });
    for (const [k, v] of parsedFile.vars) {
      env.set(k, { kind: "value", value: v });
      origins.set(k, `env_file ${entry.path}`);
    }
  }
  for (const [k, v] of environmentEntries(def.environment, lookup, (m) => fail("environment", m))) {
    env.set(k, { kind: "value", value: v });
    origins.set(k, "environment");
  }
  return env;
}

/** What `raw` interpolates to with no variable set: what the file itself says (defaults included). */
function literalOf(raw: unknown): unknown {
  return deepInterpolate(
    raw,
    "",
    () => undefined,
    () => undefined,
  );
}

/** The variables a compose string refers to (`$VAR`, `${VAR}`, `${VAR:-default}`), in order, once each. */
function variablesOf(raw: string): string[] {
  const names = [...raw.replace(/\$\$/g, "").matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string);
  return [...new Set(names)];
}

const DATABASE_LABEL = `${PREFIX.docker}database`;

/**
 * The database label when its value came from the environment (`${DB_NAME}`) and is not a database the command line
 * names: it may be any of the CI's variables, and database names are printed everywhere (table, JSON, errors), so it
 * becomes `env.DB_NAME` (the variables it uses) and a warning says so.
 */
function describeDatabaseFromEnvironment(
  parsed: ReturnType<typeof parseWorkloadOptions>,
  rawLabels: unknown,
  known: ReadonlySet<string> | undefined,
  warn: (field: string, message: string) => void,
): ReturnType<typeof parseWorkloadOptions> {
  const value = parsed.options.database;
  if (value === undefined || known?.has(value)) return parsed;
  const raw = labelMap(rawLabels, () => undefined)[DATABASE_LABEL];
  if (typeof raw !== "string" || str(literalOf(raw)) === value) return parsed;
  const names = variablesOf(raw);
  const shown = `env.${names.join(".") || "value"}`;
  warn(
    `labels.${DATABASE_LABEL}`,
    `comes from the environment (${names.map((n) => `$${n}`).join(", ")}) and names no database given on the ` +
      `command line: shown as ${shown}, its value is not printed (name the database with --max-connections or ` +
      "--mysql-url/--postgres-url NAME=..., or write the name in the file)",
  );
  return { ...parsed, options: { ...parsed.options, database: shown } };
}

/** compose's rule: lowercase, only [a-z0-9_-], from `name:` or the directory's name. */
function projectName(explicit: string | undefined, dir: string): string {
  const raw = explicit && explicit.trim() !== "" ? explicit : basename(resolve(dir));
  return raw.toLowerCase().replace(/[^a-z0-9_-]/g, "");
}

type Problem =
  | { readonly kind: "missing"; readonly name: string }
  | { readonly kind: "error"; readonly message: string };

function deepInterpolate(
  value: unknown,
  path: string,
  lookup: Lookup,
  report: (path: string, problem: Problem) => void,
): unknown {
  if (typeof value === "string") {
    const r = interpolate(value, lookup);
    for (const name of new Set(r.missing)) report(path, { kind: "missing", name });
    for (const message of r.errors) report(path, { kind: "error", message });
    return r.value;
  }
  const at = (key: string | number) =>
    path === "" ? String(key) : typeof key === "number" ? `${path}[${key}]` : `${path}.${key}`;
  if (Array.isArray(value)) return value.map((v, i) => deepInterpolate(v, at(i), lookup, report));
  if (isMap(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepInterpolate(v, at(k), lookup, report)]));
  }
  return value;
}

/** `labels:` as a map or as a list of `key=value`. */
function labelMap(raw: unknown, fail: (m: string) => void): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (isMap(raw)) return raw;
  if (Array.isArray(raw)) {
    const out: Record<string, unknown> = {};
    for (const item of raw) {
      if (typeof item !== "string") {
        fail(`list entries must be "key=value" strings, got ${describe(item)}`);
        continue;
      }
      const eq = item.indexOf("=");
      if (eq < 0) out[item] = "";
      else out[item.slice(0, eq)] = item.slice(eq + 1);
    }
    return out;
  }
  fail(`must be a map or a list of "key=value", got ${describe(raw)}`);
  return {};
}

/** `environment:` as a map (null = from the shell) or a list of `KEY=VALUE` / `KEY` (from the shell). */
function environmentEntries(raw: unknown, lookup: Lookup, fail: (m: string) => void): [string, string][] {
  const out: [string, string][] = [];
  const fromShell = (key: string) => {
    const v = lookup(key);
    if (v !== undefined) out.push([key, v]);
  };
  if (raw === undefined || raw === null) return out;
  if (isMap(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      if (v === null || v === undefined) fromShell(k);
      else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out.push([k, String(v)]);
      else fail(`${k} must be a string, number or boolean, got ${describe(v)}`);
    }
    return out;
  }
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (typeof item !== "string") {
        fail(`list entries must be "KEY=VALUE" strings, got ${describe(item)}`);
        continue;
      }
      const eq = item.indexOf("=");
      if (eq < 0) fromShell(item);
      else out.push([item.slice(0, eq), item.slice(eq + 1)]);
    }
    return out;
  }
  fail(`must be a map or a list of "KEY=VALUE", got ${describe(raw)}`);
  return out;
}

/** `env_file:` as a path, a list of paths, or a list of `{path, required}`. */
function envFileEntries(raw: unknown, fail: (m: string) => void): { path: string; required: boolean }[] {
  if (raw === undefined || raw === null) return [];
  const items = Array.isArray(raw) ? raw : [raw];
  const out: { path: string; required: boolean }[] = [];
  for (const item of items) {
    if (typeof item === "string") out.push({ path: item, required: true });
    else if (isMap(item) && typeof item.path === "string")
      out.push({ path: item.path, required: item.required !== false });
    else fail(`entries must be paths or {path, required}, got ${describe(item)}`);
  }
  return out;
}

function replicaCount(
  deploy: Json,
  def: Json,
  fail: (field: string, m: string) => void,
  warn: (field: string, m: string) => void,
): number {
  if (deploy.mode === "global") {
    warn("deploy.mode", "global runs one container per node; planning for 1");
    return 1;
  }
  const field = deploy.replicas !== undefined ? "deploy.replicas" : def.scale !== undefined ? "scale" : undefined;
  if (!field) return 1;
  const raw = field === "deploy.replicas" ? deploy.replicas : def.scale;
  const n =
    typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_REPLICAS) {
    fail(field, `must be a whole number from 0 to ${MAX_REPLICAS}, got ${describe(raw)}`);
    return 1;
  }
  if (field === "deploy.replicas" && def.scale !== undefined && Number(def.scale) !== n) {
    warn("scale", `differs from deploy.replicas (${n}); using deploy.replicas`);
  }
  return n;
}

function limits(
  deploy: Json,
  def: Json,
  fail: (field: string, m: string) => void,
): { cpuMillis?: number; memoryBytes?: number } {
  const res = isMap(deploy.resources) && isMap(deploy.resources.limits) ? deploy.resources.limits : {};
  const out: { cpuMillis?: number; memoryBytes?: number } = {};
  const cpu =
    res.cpus !== undefined ? (["deploy.resources.limits.cpus", res.cpus] as const) : (["cpus", def.cpus] as const);
  if (cpu[1] !== undefined) {
    const p = parseComposeCpus(cpu[1]);
    if (p.ok) out.cpuMillis = p.value;
    else fail(cpu[0], p.message);
  }
  const mem =
    res.memory !== undefined
      ? (["deploy.resources.limits.memory", res.memory] as const)
      : (["mem_limit", def.mem_limit] as const);
  if (mem[1] !== undefined) {
    const p = parseComposeBytes(mem[1]);
    if (p.ok) out.memoryBytes = p.value;
    else fail(mem[0], p.message);
  }
  return out;
}

function commandArgs(raw: unknown): string[] {
  if (typeof raw === "string") return splitArgs(raw);
  if (Array.isArray(raw)) return raw.map((a) => String(a));
  return [];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/**
 * A file of the project (env file, override, include or extends file): its text; undefined when it does not exist;
 * an Error whose message completes "<path> ..." for anything else (outside the project folder, a FIFO or folder,
 * too large, no permission).
 */
export async function readProjectFile(
  dir: string,
  path: string,
  limits: ReadLimits,
  allowOutside: boolean,
): Promise<string | undefined | Error> {
  const full = resolve(dir, path);
  let target = full;
  if (!allowOutside) {
    const outside = (base: string, p: string) => {
      const rel = relative(base, p);
      return rel === ".." || rel.startsWith(`..${"/"}`) || isAbsolute(rel);
    };
    const refused = (how: string) =>
      new Error(`${how} outside the project folder ${dir}: refused (allow it with --allow-env-file-outside)`);
    // Lexically first, before touching the file system: an absolute path or `..` is refused unseen.
    if (outside(resolve(dir), full)) return refused("is");
    try {
      target = await realpath(full);
      if (outside(await realpath(dir), target)) return refused("resolves (through a symlink)");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      return new Error(`cannot be read: ${(err as NodeJS.ErrnoException).code ?? "unknown error"}`);
    }
  }
  const read = await readInputFile(target, limits);
  if (read.ok) return read.text;
  return read.missing ? undefined : new Error(read.message);
}
