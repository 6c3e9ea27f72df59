// `-o sarif`: SARIF 2.1.0, which code-scanning UIs (GitHub, GitLab, Azure DevOps) show on the pull request.
// One result per finding (ruleId = the finding's kind), located at the files of the workloads it is about, at the
// line each workload starts on (a compose service's key, a manifest's document), with the workload as a logical
// location. Input
// warnings are results too (ruleId `input-warning`); bad input or an unreachable database is one error result per
// line. Messages are the lines the table prints, which never quote a secret (src/sources/shown-value.ts).
import { isAbsolute, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { Finding } from "../core/index.js";
import type { LoadedWorkload } from "../sources/findings.js";
import type { Report } from "./report.js";
import { isReadFile, workloadsOf } from "./report-findings.js";

type Level = "error" | "warning" | "note";

interface Result {
  readonly ruleId: string;
  readonly level: Level;
  readonly message: { readonly text: string };
  readonly locations?: readonly unknown[];
}

const RULES: Readonly<Record<string, string>> = {
  infeasible: "No pool settings fit the database's budget",
  "current-exceeds": "The current pool settings can open more connections than the budget allows",
  "unbounded-current": "The current pool settings are unbounded",
  "assumed-current": "The current pool settings are not set; defaults were assumed",
  "unknown-database": "The workload's database is not known",
  "unknown-workers": "The number of worker processes is not known",
  "unknown-account": "The workload's database account is not known",
  "surge-cost": "The rollout surge lowers the workload's connection cap (advice)",
  "unseen-unmanaged": "Other clients' connections could not be seen; an amount was assumed",
  "input-warning": "A problem in the input that does not stop the plan",
  "bad-input": "The input cannot be used",
  unreachable: "A database could not be reached or read",
};

export function renderSarif(r: Report, version: string): string {
  const results: Result[] = [
    ...r.plan.findings.map((f) => findingResult(f, r)),
    ...r.warnings.map((w) => ({ ruleId: "input-warning", level: "warning" as const, message: { text: w } })),
  ];
  return document(results, version);
}

export function renderSarifError(kind: "bad-input" | "unreachable", lines: readonly string[], version: string): string {
  return document(
    lines.map((l) => ({ ruleId: kind, level: "error" as const, message: { text: l } })),
    version,
  );
}

function findingResult(f: Finding, r: Report): Result {
  // Advice is a note: nothing is wrong, something could be better.
  const level: Level = f.kind === "surge-cost" ? "note" : f.severity;
  const locations = locationsOf(workloadsOf(f, r), r);
  return { ruleId: f.kind, level, message: { text: f.message }, ...(locations.length > 0 ? { locations } : {}) };
}

/** One location per workload: its file (when read from disk) and the workload as a logical location. */
function locationsOf(workloads: readonly LoadedWorkload[], r: Report): unknown[] {
  return workloads.map((w) => ({
    ...(isReadFile(w.file, r)
      ? {
          physicalLocation: {
            artifactLocation: { uri: fileUri(w.file) },
            ...(w.line !== undefined ? { region: { startLine: w.line } } : {}),
          },
        }
      : {}),
    logicalLocations: [{ name: w.object, fullyQualifiedName: w.workload.id, kind: "resource" }],
  }));
}

/** A relative path stays relative (code scanning resolves it against the checkout); an absolute one is a file: URL. */
export function fileUri(path: string): string {
  if (isAbsolute(path)) return pathToFileURL(path).href;
  return path
    .split(sep)
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}

function document(results: readonly Result[], version: string): string {
  const used = [...new Set(results.map((x) => x.ruleId))];
  const rules = used.map((id) => ({ id, shortDescription: { text: RULES[id] ?? id } }));
  return `${JSON.stringify(
    {
      $schema: "https://json.schemastore.org/sarif-2.1.0.json",
      version: "2.1.0",
      runs: [
        {
          tool: {
            driver: { name: "pooltuner", version, rules },
          },
          results,
        },
      ],
    },
    null,
    2,
  )}\n`;
}
