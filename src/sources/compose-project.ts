// A compose project as `docker compose up` in its folder sees it, not one file on its own: the default file with
// its override file (compose.override.yml, docker-compose.override.yml, ...), `extends`, `include` and `profiles`.
// With a compose CLI (injected: src/cli/compose-cli.ts) the merged model is what `docker compose config` prints;
// without one the override file is merged here by the compose spec's rules (compose-merge.ts), `extends` within a
// file is applied, profiles are applied, and what is not supported (`include`, `extends` from another file) is said
// as a warning. Every file read here, or checked before the CLI reads it, goes through the same guards as env
// files: a size cap, regular files only, and inside the project folder unless --allow-env-file-outside.
import { stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { readProjectFile } from "./compose.js";
import {
  DEFAULT_COMPOSE_FILES,
  DEFAULT_OVERRIDE_FILES,
  mergeCompose,
  resolveLocalExtends,
  withProfiles,
} from "./compose-merge.js";
import type { SourceFinding } from "./findings.js";
import type { ReadLimits } from "./input-file.js";
import { parseYamlDocuments } from "./parse-yaml.js";

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A compose CLI: whether there is one, and the merged model it prints (`docker compose config --format json`). */
export interface ComposeCli {
  /** Whether a compose CLI is there to use (looked for once, on first use); false: merge built-in. */
  available(): Promise<boolean>;
  config(input: {
    /** The compose files, in order, as `-f` arguments. */
    readonly files: readonly string[];
    readonly projectDir: string;
    /** Active profiles, as `--profile` arguments. */
    readonly profiles: readonly string[];
  }): Promise<{ readonly ok: true; readonly data: unknown } | { readonly ok: false; readonly message: string }>;
}

export interface ProjectOptions {
  readonly limits: ReadLimits;
  readonly allowOutside: boolean;
  /** Active compose profiles (`--compose-profile`, COMPOSE_PROFILES). */
  readonly profiles: readonly string[];
  /** Read the merged model with a compose CLI; absent: merge here. */
  readonly cli?: ComposeCli;
}

export interface ComposeProject {
  /** Every compose file of the project, in merge order (the first is the one findings name). */
  readonly files: readonly string[];
  /** The merged model; absent when it cannot be had (the errors say why). */
  readonly data?: Json;
  readonly errors: readonly SourceFinding[];
  readonly warnings: readonly SourceFinding[];
}

/** Files referenced from included/extended files, followed this deep at most (compose has no limit; we do). */
const MAX_REFERENCE_DEPTH = 8;
const MAX_REFERENCED_FILES = 64;

/** The compose files `docker compose` in this file's folder would read: this file, or the default one with its override. */
export async function projectFiles(file: string): Promise<string[]> {
  const dir = dirname(file);
  const name = basename(file);
  if (!DEFAULT_COMPOSE_FILES.includes(name) && !DEFAULT_OVERRIDE_FILES.includes(name)) return [file];
  const base = DEFAULT_COMPOSE_FILES.includes(name) ? file : await firstExisting(dir, DEFAULT_COMPOSE_FILES);
  if (base === undefined) return [file];
  const override = await firstExisting(dir, DEFAULT_OVERRIDE_FILES);
  return override === undefined ? [base] : [base, override];
}

async function firstExisting(dir: string, names: readonly string[]): Promise<string | undefined> {
  for (const n of names) {
    const p = join(dir, n);
    const st = await stat(p).catch(() => undefined);
    if (st) return p;
  }
  return undefined;
}

/** The project of `files` (from projectFiles); `given` is the file the caller already read, with its document. */
export async function loadComposeProject(
  files: readonly string[],
  given: { readonly file: string; readonly data: Json; readonly text: string },
  opts: ProjectOptions,
): Promise<ComposeProject> {
  const head = files[0] as string;
  const dir = dirname(head);
  const errors: SourceFinding[] = [];
  const warnings: SourceFinding[] = [];
  const docs: { file: string; data: Json; text: string }[] = [];
  for (const file of files) {
    if (file === given.file) {
      docs.push(given);
      continue;
    }
    const read = await readComposeFile(dir, resolve(file), opts);
    if ("message" in read) errors.push({ file, message: read.message });
    else docs.push({ file, data: read.data, text: read.text });
  }
  if (errors.length > 0) return { files, errors, warnings };

  if (opts.cli && (await opts.cli.available())) {
    // The CLI reads included and extended files itself: check each one first, with the same guards.
    const refused = await checkReferences(dir, docs, opts);
    if (refused.length > 0) return { files, errors: refused, warnings };
    const model = await opts.cli.config({ files, projectDir: dir, profiles: opts.profiles });
    if (!model.ok)
      return { files, errors: [{ file: head, message: `docker compose config: ${model.message}` }], warnings };
    if (!isMap(model.data) || !isMap(model.data.services)) {
      return { files, errors: [{ file: head, message: "docker compose config printed no services map" }], warnings };
    }
    return { files, data: relativeEnvFiles(model.data, dir), errors, warnings };
  }
  return builtInModel(files, docs, opts);
}

/** The compose spec's merge, done here: override files, `extends` within a file, profiles. */
function builtInModel(
  files: readonly string[],
  docs: readonly { file: string; data: Json; text: string }[],
  opts: ProjectOptions,
): ComposeProject {
  const head = files[0] as string;
  const errors: SourceFinding[] = [];
  const warnings: SourceFinding[] = [];

  // As compose does: `extends` is applied within each file, then the files are merged in order.
  const extended = docs.map((d) => {
    const r = resolveLocalExtends(d.data);
    for (const p of r.problems) errors.push({ file: d.file, object: `service ${p.service}`, message: p.message });
    return { file: d.file, data: r.data };
  });
  let merged = extended[0]?.data as Json;
  for (const d of extended.slice(1)) {
    const r = mergeCompose(merged, d.data);
    if (!r.ok) {
      errors.push({ file: d.file, message: `cannot merge over ${head}: ${r.message}` });
      return { files, errors, warnings };
    }
    merged = r.value;
  }
  for (const d of docs) {
    warnings.push(...unsupported(d.file, d.data));
    if (MERGE_TAG.test(d.text)) {
      warnings.push({
        file: d.file,
        message:
          "the !reset and !override tags are not supported without a compose CLI: their values are read as plain values and merged",
      });
    }
  }
  const profiled = withProfiles(merged, opts.profiles);
  return { files, data: profiled.data, errors, warnings };
}

/**
 * The CLI prints env_file paths made absolute; inside the project folder they are shown as written in a compose
 * file (`.pooltuner/app.env`), as the built-in reader shows them.
 */
function relativeEnvFiles(data: Json, dir: string): Json {
  const root = resolve(dir);
  const services: Json = {};
  for (const [name, def] of Object.entries(data.services as Json)) {
    if (!isMap(def) || !Array.isArray(def.env_file)) {
      services[name] = def;
      continue;
    }
    const shorten = (p: unknown) => {
      if (typeof p !== "string" || !p.startsWith(`${root}/`)) return p;
      return p.slice(root.length + 1);
    };
    const envFile = def.env_file.map((e) => (isMap(e) ? { ...e, path: shorten(e.path) } : shorten(e)));
    services[name] = { ...def, env_file: envFile };
  }
  return { ...data, services };
}

/** What the built-in merge does not read, said once per file and feature. */
function unsupported(file: string, data: Json): SourceFinding[] {
  const out: SourceFinding[] = [];
  const hint = "install the docker compose CLI (v2.24+) so pooltuner reads the merged model, or inline them";
  const included = includePaths(data.include);
  if (included.length > 0) {
    out.push({
      file,
      field: "include",
      message: `not supported without a compose CLI: the services of ${included.join(", ")} are not read (${hint})`,
    });
  }
  if (isMap(data.services)) {
    for (const [name, def] of Object.entries(data.services)) {
      if (isMap(def) && isMap(def.extends) && typeof def.extends.file === "string") {
        out.push({
          file,
          object: `service ${name}`,
          field: "extends.file",
          message: `not supported without a compose CLI: ${def.extends.file} is not read, only this service's own settings (${hint})`,
        });
      }
    }
  }
  return out;
}

/** `include:` entries: a path, or {path: path | [paths], env_file, project_directory}. */
function includePaths(raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  const out: string[] = [];
  for (const item of raw) {
    if (typeof item === "string") out.push(item);
    else if (isMap(item)) {
      const p = item.path;
      if (typeof p === "string") out.push(p);
      else if (Array.isArray(p)) for (const x of p) if (typeof x === "string") out.push(x);
      const env = item.env_file;
      for (const e of typeof env === "string" ? [env] : Array.isArray(env) ? env : []) {
        if (typeof e === "string") out.push(e);
      }
    }
  }
  return out;
}

function referencedFiles(data: Json): string[] {
  const out = includePaths(data.include);
  if (isMap(data.services)) {
    for (const def of Object.values(data.services)) {
      if (!isMap(def)) continue;
      if (isMap(def.extends) && typeof def.extends.file === "string") out.push(def.extends.file);
      // compose reads label files into labels itself (env files it leaves to us: --no-env-resolution).
      const labelFiles = typeof def.label_file === "string" ? [def.label_file] : def.label_file;
      if (Array.isArray(labelFiles)) for (const f of labelFiles) if (typeof f === "string") out.push(f);
    }
  }
  return out;
}

/** compose's merge tags, as YAML tags (after a key, a dash or at a line's start). */
const MERGE_TAG = /(^|[\s:,[{-])!(reset|override)(\s|$)/m;

const REMOTE = /^[a-z][a-z0-9+.-]*:\/\/|^git@|^oci:/i;

/**
 * Each file the compose CLI would read through `include` or `extends.file`, checked before it runs: local (a
 * remote include is refused), inside the project folder, a regular file under the size cap, valid YAML.
 */
async function checkReferences(
  dir: string,
  docs: readonly { file: string; data: Json }[],
  opts: ProjectOptions,
): Promise<SourceFinding[]> {
  const errors: SourceFinding[] = [];
  // compose reads the project's .env for interpolation.
  const dotenv = await readProjectFile(dir, ".env", opts.limits, opts.allowOutside);
  if (dotenv instanceof Error) errors.push({ file: join(dir, ".env"), message: dotenv.message });
  const seen = new Set<string>();
  let queue = docs.map((d) => ({ from: d.file, data: d.data }));
  for (let depth = 0; queue.length > 0; depth++) {
    const next: { from: string; data: Json }[] = [];
    for (const { from, data } of queue) {
      for (const ref of referencedFiles(data)) {
        if (REMOTE.test(ref)) {
          errors.push({
            file: from,
            message: `${ref}: a remote include is refused (pooltuner reads local files only)`,
          });
          continue;
        }
        const full = isAbsolute(ref) ? ref : resolve(dirname(from), ref);
        if (seen.has(full)) continue;
        seen.add(full);
        if (seen.size > MAX_REFERENCED_FILES || depth >= MAX_REFERENCE_DEPTH) {
          errors.push({
            file: from,
            message: `includes and extends reach more than ${MAX_REFERENCED_FILES} files or ${MAX_REFERENCE_DEPTH} levels; refused`,
          });
          return errors;
        }
        const read = await readComposeFile(dir, full, opts);
        if ("message" in read) errors.push({ file: from, message: `${ref} ${read.message}` });
        else next.push({ from: full, data: read.data });
      }
    }
    queue = next;
  }
  return errors;
}

/** One compose (or env) file of the project, through the guards; a compose document must be one map. */
async function readComposeFile(
  dir: string,
  file: string,
  opts: ProjectOptions,
): Promise<{ data: Json; text: string } | { message: string }> {
  const text = await readProjectFile(dir, file, opts.limits, opts.allowOutside);
  if (text instanceof Error) return { message: text.message };
  if (text === undefined) return { message: "does not exist" };
  // An env file named by `include.env_file` is not YAML: its guards are all it needs here.
  if (!/\.(ya?ml|json)$/i.test(file)) return { data: {}, text: "" };
  const parsed = parseYamlDocuments(text);
  if ("error" in parsed) {
    return {
      message:
        parsed.error.line === undefined ? parsed.error.message : `line ${parsed.error.line}: ${parsed.error.message}`,
    };
  }
  const docs = parsed.docs.filter((d) => d !== null && d !== undefined);
  if (docs.length === 0) return { data: {}, text };
  if (docs.length > 1 || !isMap(docs[0])) return { message: "is not a compose file (one YAML map)" };
  return { data: docs[0], text };
}
