// `-o json` / `-o yaml`: the Plan as the core returns it, plus a summary of the inputs it was computed from.
// Database URLs are never included: a probed database shows `user@host:port` only.
import { stringify } from "yaml";
import type { Report } from "./report.js";

export function renderJson(r: Report): string {
  return `${JSON.stringify(reportDocument(r), null, 2)}\n`;
}

/** The same document as `-o json`, as YAML. */
export function renderYaml(r: Report): string {
  return toYaml(reportDocument(r));
}

function reportDocument(r: Report): object {
  return {
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
        profile: w.options.profile,
        ...(w.options.capEnv !== undefined ? { capEnv: w.options.capEnv } : {}),
        updateMode: w.options.updateMode,
      })),
      policy: r.policy,
    },
    plan: r.plan,
    warnings: r.warnings,
  };
}

/** Bad input or an unreachable database with `-o json`: still one JSON document on stdout. */
export function renderJsonError(command: string, exitCode: number, errors: readonly string[]): string {
  return `${JSON.stringify({ command, exitCode, errors }, null, 2)}\n`;
}

export function renderYamlError(command: string, exitCode: number, errors: readonly string[]): string {
  return toYaml({ command, exitCode, errors });
}

/**
 * Through JSON first, so the YAML holds exactly what `-o json` holds (no undefined, no Infinity); written as YAML 1.1
 * so a string such as "yes" or "on" is quoted for readers that would take it for a boolean.
 */
function toYaml(doc: object): string {
  return stringify(JSON.parse(JSON.stringify(doc)), { version: "1.1", lineWidth: 0 });
}
