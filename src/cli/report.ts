// Everything one `plan`/`check` run knows, as the renderers (table, JSON) receive it.
import type { Plan, Policy } from "../core/index.js";
import type { LoadedWorkload } from "../sources/findings.js";
import type { DatabaseInput } from "./databases.js";
import type { Command } from "./exit.js";
import type { HelmValues } from "./helm-values-file.js";

export interface Report {
  readonly command: Command;
  readonly exitCode: number;
  readonly plan: Plan;
  readonly policy: Policy;
  readonly databases: readonly DatabaseInput[];
  readonly workloads: readonly LoadedWorkload[];
  readonly files: readonly { readonly file: string; readonly kind: "compose" | "kubernetes" }[];
  readonly skipped: readonly string[];
  /** Input warnings, one line each (files, labels, probe), already naming what they are about. */
  readonly warnings: readonly string[];
  /** `--helm-values`: the chart's values, merged, for `-o patch` (src/cli/render-helm.ts). */
  readonly helmValues?: HelmValues;
}
