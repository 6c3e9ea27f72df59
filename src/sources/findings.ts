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
  readonly flavor: OptionsFlavor;
  readonly options: WorkloadOptions;
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
