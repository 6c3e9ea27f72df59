// What reading files produces besides workloads: problems, each naming the file, the object and the field,
// printed on one line. Errors make the input unusable (exit 2); warnings are shown with the plan.
import type { OptionFinding, OptionsFlavor, WorkloadOptions } from "./annotations.js";
import { fieldWithValue } from "./shown-value.js";
import type { BuiltWorkload } from "./workload.js";

export interface SourceFinding {
  readonly file: string;
  /** `service web`, `Deployment shop/web`; absent for problems with the whole file. */
  readonly object?: string;
  readonly field?: string;
  readonly value?: string;
  readonly message: string;
}

/** A workload read from a file, with what the shells need to explain or apply its plan. */
export interface LoadedWorkload extends BuiltWorkload {
  readonly file: string;
  readonly object: string;
  /** The line the object starts on in `file` (1-based), when read from a file. */
  readonly line?: number;
  readonly flavor: OptionsFlavor;
  readonly options: WorkloadOptions;
  /** Where the workload's pool env is written in its source, for `-o patch`; absent for live sources. */
  readonly patchTarget?: PatchTarget;
}

/** The object a `-o patch` document changes, and where each pool env var is set today. */
export interface PatchTarget {
  /** The object's apiVersion, kind, namespace and name, as written; absent for compose services. */
  readonly manifest?: {
    readonly apiVersion: string;
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
  };
  /** The container whose env holds the pool settings; absent for compose services. */
  readonly container?: string;
  /**
   * By env var name: `env` (a literal value a patch can set), `environment` or `env_file <path>` (compose), or a
   * place a patch of `env` must not fight, such as `ConfigMap app-config key POOL_SIZE`. Absent: not set anywhere.
   */
  readonly envOrigin: Readonly<Record<string, string>>;
}

export interface SourceResult {
  readonly workloads: readonly LoadedWorkload[];
  readonly errors: readonly SourceFinding[];
  readonly warnings: readonly SourceFinding[];
}

export function inFile(file: string, f: OptionFinding): SourceFinding {
  return { file, ...f };
}

/** `file: object: field="value": message`, one line. */
export function formatSourceFinding(f: SourceFinding): string {
  const parts = [f.file];
  if (f.object) parts.push(f.object);
  if (f.field) parts.push(fieldWithValue(f.field, f.value));
  parts.push(f.message);
  return parts.join(": ");
}
