// Files and folders -> workloads. docker-compose files and Kubernetes manifests are told apart by content, not
// by name; folders are walked for *.yaml / *.yml / *.json. Manifests are read together, so an HPA or a ConfigMap
// may sit in another file than its Deployment.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isComposeDocument, readCompose } from "./compose.js";
import type { LoadedWorkload, SourceFinding, SourceResult } from "./findings.js";
import { DEFAULT_MAX_FILE_BYTES, readInputFile } from "./input-file.js";
import { isKubeDocument, type ManifestFile, readManifests } from "./manifests.js";
import { parseYamlDocuments } from "./parse-yaml.js";

export interface LoadOptions {
  /** The shell environment, for compose interpolation (`${VAR}`), as compose itself would see it. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Cap for every file read (compose, manifests, env files); default DEFAULT_MAX_FILE_BYTES. */
  readonly maxFileBytes?: number;
  /** Said when a file is over the cap, e.g. "raise it with --max-file-size". */
  readonly raiseHint?: string;
  /** compose `env_file` / `.env` may resolve outside the compose file's folder (off: refused). */
  readonly allowEnvFileOutside?: boolean;
}

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

  const limits = {
    maxBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    ...(opts.raiseHint ? { raiseHint: opts.raiseHint } : {}),
  };
  const seenFiles = new Set<string>();
  const manifests: ManifestFile[] = [];
  const composeResults: SourceResult[] = [];
  for (const { file, explicit } of candidates) {
    if (seenFiles.has(file)) continue;
    seenFiles.add(file);
    const read = await readInputFile(file, limits);
    if (!read.ok) {
      errors.push({ file, message: read.message });
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
      files.push({ file, kind: "compose" });
      composeResults.push(
        await readCompose({
          file,
          data: docs[0],
          environment: opts.environment,
          limits,
          allowEnvFileOutside: opts.allowEnvFileOutside ?? false,
        }),
      );
    } else if (docs.length > 0 && docs.some(isKubeDocument)) {
      files.push({ file, kind: "kubernetes" });
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

  const results = [...composeResults, readManifests(manifests)];
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
      byId.set(w.workload.id, w);
      workloads.push(w);
    }
  }
  return { workloads, errors, warnings, files, skipped };
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
