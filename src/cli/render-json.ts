// `-o json`: the Plan as the core returns it, plus a summary of the inputs it was computed from.
// Database URLs are never included: a probed database shows `user@host:port` only.
import type { Report } from "./report.js";

export function renderJson(r: Report): string {
  return `${JSON.stringify(
    {
      command: r.command,
      exitCode: r.exitCode,
      inputs: {
        files: r.files,
        skipped: r.skipped,
        databases: r.databases.map((d) => ({ ...d.snapshot, origin: d.origin })),
        workloads: r.workloads.map((w) => ({
          id: w.workload.id,
          file: w.file,
          object: w.object,
          database: w.workload.database,
          account: w.workload.account,
          accountFrom: w.accountFrom,
          workersFrom: w.workersFrom,
          poolSizeEnv: w.options.poolSizeEnv,
          maxOverflowEnv: w.options.maxOverflowEnv,
          updateMode: w.options.updateMode,
        })),
        policy: r.policy,
      },
      plan: r.plan,
      warnings: r.warnings,
    },
    null,
    2,
  )}\n`;
}

/** Bad input or an unreachable database with `-o json`: still one JSON document on stdout. */
export function renderJsonError(command: string, exitCode: number, errors: readonly string[]): string {
  return `${JSON.stringify({ command, exitCode, errors }, null, 2)}\n`;
}
