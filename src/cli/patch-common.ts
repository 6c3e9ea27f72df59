// What the two `-o patch` renderers share (render-patch.ts: kustomize and .env lines; render-helm.ts: Helm values):
// one planned workload's values to commit, its summary line, and comment lines that input text cannot break out of.
import { type PoolSettings, settingsText, type WorkloadPlan } from "../core/index.js";
import type { LoadedWorkload } from "../sources/findings.js";

export interface Change {
  readonly loaded: LoadedWorkload;
  readonly plan: WorkloadPlan;
  /** Env var name -> the value to commit (recommended, else today's), as the workload's profile writes them. */
  readonly values: readonly (readonly [string, string])[];
}

export function summary(p: WorkloadPlan): string {
  const rec = p.recommended;
  const text = (s: PoolSettings) =>
    p.writes.kind === "pool-overflow"
      ? `pool_size ${s.poolSize} + max_overflow ${s.maxOverflow}`
      : settingsText(p.writes, s);
  if (!rec) return `no safe values (see \`pooltuner plan\`): keeps today's ${text(p.current.settings)}`;
  if (p.change === "none") return `no change, ${text(rec)} per process (peak ${rec.peak})`;
  return `${p.change} ${text(p.current.settings)} -> ${text(rec)} per process (peak ${p.current.peak ?? "unbounded"} -> ${rec.peak})`;
}

/**
 * One comment line. Names and paths are the input's own text: a newline in a service name or a folder must not end
 * the comment and forge a `KEY=VALUE` line or a YAML key, so control and format characters are escaped.
 */
export function comment(text: string): string {
  return `# ${text.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`)}`;
}
