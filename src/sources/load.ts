// Files and folders -> workloads. docker-compose files and Kubernetes manifests are told apart by content, not
// by name; folders are walked for *.yaml / *.yml / *.json. Manifests are read together, so an HPA or a ConfigMap
// may sit in another file than its Deployment.
import { readdir, stat } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import { isComposeDocument, readCompose } from "./compose.js";
import { type ComposeCli, loadComposeProject, projectFiles } from "./compose-project.js";
import type { LoadedWorkload, SourceFinding, SourceResult } from "./findings.js";
import {
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_TOTAL_BYTES,
  formatBytes,
  type InputFile,
  type ReadLimits,
  readInputFile,
  totalBudget,
} from "./input-file.js";
import { isKubeDocument, type ManifestFile, readManifests } from "./manifests.js";
import { objectLines } from "./object-lines.js";
import { parseYamlDocuments } from "./parse-yaml.js";
import type { ProfileRegistry } from "./profiles.js";

export interface LoadOptions {
  /** The shell environment, for compose interpolation (`${VAR}`), as compose itself would see it. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Cap for every file read (compose, manifests, env files); default DEFAULT_MAX_FILE_BYTES. */
  readonly maxFileBytes?: number;
  /** Said when a file is over the cap, e.g. "raise it with --max-file-size". */
  readonly raiseHint?: string;
  /** Cap for all files read together (env files included); default DEFAULT_MAX_TOTAL_BYTES. */
  readonly maxTotalBytes?: number;
  /** Said when the files together are over their cap, e.g. "raise it with --max-total-size". */
  readonly totalRaiseHint?: string;
  /** compose `env_file` / `.env` may resolve outside the compose file's folder (off: refused). */
  readonly allowEnvFileOutside?: boolean;
  /** Profiles the `profile` key may name; default the built-ins. */
  readonly profiles?: ProfileRegistry;
  /** Active compose profiles (`--compose-profile`, COMPOSE_PROFILES); services of other profiles are not read. */
  readonly composeProfiles?: readonly string[];
  /** Reads a compose project's merged model with a compose CLI; absent: override files are merged here. */
  readonly composeCli?: ComposeCli;
  /** Database names the command line gives (compose: a database label from the environment may be printed if one). */
  readonly knownDatabases?: ReadonlySet<string>;
  /** Reads standard input for the path `-` (under the same cap); without it `-` is refused. */
  readonly stdin?: (limits: ReadLimits) => Promise<InputFile>;
}

/** The path that means standard input, and how findings name it. Its folder (for env files) is the current one. */
export const STDIN_PATH = "-";
export const STDIN_NAME = "<stdin>";

export interface LoadResult extends SourceResult {
  /** Every file read and what it was taken for. */
  readonly files: readonly { readonly file: string; readonly kind: "compose" | "kubernetes" }[];
  /** Files in folders that are neither compose files nor manifests (Helm values, kustomization, ...). */
  readonly skipped: readonly string[];
}

const MANIFEST_EXT = /\.(ya?ml|json)$/i;
/** An unquoted `{{` at the start of a line or as a value: a template, not YAML (quoted `"{{ $labels }}"` is data). */
const GO_TEMPLATE = /(^|\n)\s*\{\{|:\s+\{\{/;

export async function loadSources(paths: readonly string[], opts: LoadOptions): Promise<LoadResult> {
  const errors: SourceFinding[] = [];
  const warnings: SourceFinding[] = [];
  const skipped: string[] = [];
  const files: { file: string; kind: "compose" | "kubernetes" }[] = [];
  const candidates: { file: string; explicit: boolean }[] = [];

  for (const p of paths) {
    if (p === STDIN_PATH) {
      candidates.push({ file: STDIN_NAME, explicit: true });
      continue;
    }
    const st = await stat(p).catch((e: NodeJS.ErrnoException) => e);
    if (st instanceof Error) {
      errors.push({ file: p, message: st.code === "ENOENT" ? "no such file or folder" : `cannot read: ${st.code}` });
    } else if (st.isDirectory()) {
      const found = await walk(p).catch((e: NodeJS.ErrnoException) => e);
      if (found instanceof Error) {
        errors.push({ file: p, message: `cannot read the folder: ${found.code ?? "unknown error"}` });
        continue;
      }
      if (found.length === 0) errors.push({ file: p, message: "folder has no .yaml, .yml or .json files" });
      for (const f of found) candidates.push({ file: f, explicit: false });
    } else {
      candidates.push({ file: p, explicit: true });
    }
  }

  const total = totalBudget(opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES, opts.totalRaiseHint);
  const limits: ReadLimits = {
    maxBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    ...(opts.raiseHint ? { raiseHint: opts.raiseHint } : {}),
    total,
  };
  const seenFiles = new Set<string>();
  /** Compose files already read as part of a project (an override file is not read again on its own). */
  const projectMembers = new Set<string>();
  const manifests: ManifestFile[] = [];
  const composeResults: SourceResult[] = [];
  /** Per file read, the line each object starts on (for output that points at lines). */
  const lines = new Map<string, ReadonlyMap<string, number>>();
  for (const [index, { file, explicit }] of candidates.entries()) {
    if (total.exceeded) {
      // Gone past the cap while reading an env file: one line for the files left (a folder may hold thousands).
      const n = notReadEither(candidates, index, seenFiles);
      errors.push({
        file,
        message: `${n === 1 ? "is" : `and the ${n - 1} files after it are`} not read: the ${formatBytes(total.maxBytes)} allowed for all input files together is used up`,
      });
      break;
    }
    if (seenFiles.has(file) || projectMembers.has(resolvePath(file))) continue;
    seenFiles.add(file);
    const read = await readCandidate(file, limits, opts);
    if (!read.ok) {
      const rest = total.exceeded ? notReadEither(candidates, index + 1, seenFiles) : 0;
      const either =
        rest > 0 ? `; the ${rest} file${rest > 1 ? "s" : ""} after it ${rest > 1 ? "are" : "is"} not read either` : "";
      errors.push({ file, message: `${read.message}${either}` });
      if (total.exceeded) break;
      continue;
    }
    const { text } = read;
    // Helm/Go templates are not manifests until rendered: in a folder they are skipped, not read.
    if (!explicit && GO_TEMPLATE.test(text)) {
      skipped.push(file);
      continue;
    }
    const parsed = parseYamlDocuments(text);
    if ("error" in parsed) {
      const { line, message } = parsed.error;
      errors.push({ file: line === undefined ? file : `${file}:${line}`, message });
      continue;
    }
    const docs = parsed.docs.filter((d) => d !== null && d !== undefined);
    if (docs.length === 1 && isComposeDocument(docs[0])) {
      // Standard input is one file on its own; a file on disk brings its project's override file.
      const members = file === STDIN_NAME ? [file] : await projectFiles(file);
      if (members.some((m) => projectMembers.has(resolvePath(m)))) continue;
      for (const m of members) {
        if (m !== STDIN_NAME) projectMembers.add(resolvePath(m));
        files.push({ file: m, kind: "compose" });
      }
      const project = await loadComposeProject(
        members,
        { file, data: docs[0] as Record<string, unknown>, text },
        {
          limits,
          allowOutside: opts.allowEnvFileOutside ?? false,
          profiles: opts.composeProfiles ?? [],
          ...(opts.composeCli && file !== STDIN_NAME ? { cli: opts.composeCli } : {}),
        },
      );
      errors.push(...project.errors);
      warnings.push(...project.warnings);
      if (!project.data) continue;
      const head = members[0] as string;
      if (head === file) lines.set(file, objectLines(text, "compose"));
      composeResults.push(
        await readCompose({
          file: head,
          data: project.data,
          environment: opts.environment,
          limits,
          allowEnvFileOutside: opts.allowEnvFileOutside ?? false,
          ...(opts.profiles ? { profiles: opts.profiles } : {}),
          ...(opts.knownDatabases ? { knownDatabases: opts.knownDatabases } : {}),
        }),
      );
    } else if (docs.length > 0 && docs.some(isKubeDocument)) {
      files.push({ file, kind: "kubernetes" });
      lines.set(file, objectLines(text, "kubernetes"));
      manifests.push({ file, docs });
    } else if (explicit) {
      errors.push({
        file,
        message: "neither a docker-compose file (a services: map) nor Kubernetes manifests (apiVersion and kind)",
      });
    } else {
      skipped.push(file);
    }
  }

  const results = [...composeResults, readManifests(manifests, opts.profiles)];
  const workloads: LoadedWorkload[] = [];
  const byId = new Map<string, LoadedWorkload>();
  for (const r of results) {
    errors.push(...r.errors);
    warnings.push(...r.warnings);
    for (const w of r.workloads) {
      const first = byId.get(w.workload.id);
      if (first) {
        errors.push({
          file: w.file,
          object: w.object,
          message: `${w.workload.id} is also defined in ${first.file}; give each compose project or manifest once`,
        });
        continue;
      }
      const line = lines.get(w.file)?.get(w.object);
      const located = line === undefined ? w : { ...w, line };
      byId.set(w.workload.id, located);
      workloads.push(located);
    }
  }
  return { workloads, errors, warnings, files, skipped };
}

/** Files from `from` on that have not been read already (each counted once). */
function notReadEither(candidates: readonly { file: string }[], from: number, seen: ReadonlySet<string>): number {
  return new Set(
    candidates
      .slice(from)
      .map((c) => c.file)
      .filter((f) => !seen.has(f)),
  ).size;
}

function readCandidate(file: string, limits: ReadLimits, opts: LoadOptions): Promise<InputFile> {
  if (file !== STDIN_NAME) return readInputFile(file, limits);
  if (!opts.stdin) return Promise.resolve({ ok: false, missing: false, message: "standard input is not read here" });
  return opts.stdin(limits);
}

/** *.yaml, *.yml, *.json under a folder, sorted, skipping dot-folders and node_modules. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile() && MANIFEST_EXT.test(e.name)) out.push(p);
  }
  return out;
}
