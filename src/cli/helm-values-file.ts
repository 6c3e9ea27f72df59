// `--helm-values <file>`: the chart's values as `helm upgrade -f` reads them, for `-o patch` on workloads annotated
// `pooltuner.io/helm-values`. Several files merge as Helm merges them (later files win; maps merge key by key, any
// other value, lists included, is replaced whole). They tell the fragment whether the env at the annotated path is a
// map (the fragment holds only the pool variables) or a list (Helm replaces a list, so the fragment repeats it).
import { type ReadLimits, readInputFile } from "../sources/input-file.js";
import { parseYamlDocuments } from "../sources/parse-yaml.js";
import { CliError } from "./exit.js";

export interface HelmValues {
  /** The files as given, in order, to name them in comments and errors. */
  readonly files: readonly string[];
  /** The merged values. */
  readonly values: Readonly<Record<string, unknown>>;
}

export const isValuesMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export async function loadHelmValues(files: readonly string[], limits: ReadLimits): Promise<HelmValues> {
  let values: Record<string, unknown> = {};
  for (const file of files) {
    const read = await readInputFile(file, limits);
    if (!read.ok) throw new CliError("bad-input", [`--helm-values ${file}: ${read.message}`]);
    const parsed = parseYamlDocuments(read.text);
    if ("error" in parsed) {
      const { line, message } = parsed.error;
      throw new CliError("bad-input", [`--helm-values ${file}${line === undefined ? "" : `:${line}`}: ${message}`]);
    }
    const docs = parsed.docs.filter((d) => d !== null && d !== undefined);
    if (docs.length > 1) throw new CliError("bad-input", [`--helm-values ${file}: must hold one document`]);
    const doc = docs[0] ?? {};
    if (!isValuesMap(doc)) throw new CliError("bad-input", [`--helm-values ${file}: must be a map of values`]);
    values = mergeValues(values, doc);
  }
  return { files, values };
}

/** Helm's coalescing of two values files: maps merge key by key, the later file's value wins everywhere else. */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = Object.hasOwn(out, k) ? out[k] : undefined;
    // defineProperty: a key named `__proto__` in a values file is a key, not the object's prototype.
    const value = isValuesMap(b) && isValuesMap(v) ? mergeValues(b, v) : v;
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
