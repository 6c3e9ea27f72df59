// `-o <format>`: which renderer prints a `plan`/`check` result on stdout (diagnostics go to stderr, always).
import { renderJson, renderJsonError, renderYaml, renderYamlError } from "./render-json.js";
import { renderJunit, renderJunitError } from "./render-junit.js";
import { renderPatch } from "./render-patch.js";
import { renderSarif, renderSarifError } from "./render-sarif.js";
import { renderTable } from "./render-table.js";
import type { Report } from "./report.js";

export const OUTPUT_FORMATS = ["table", "json", "yaml", "junit", "sarif", "patch"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function renderReport(format: OutputFormat, r: Report, version: string): string {
  switch (format) {
    case "table":
      return renderTable(r);
    case "json":
      return renderJson(r);
    case "yaml":
      return renderYaml(r);
    case "junit":
      return renderJunit(r);
    case "sarif":
      return renderSarif(r, version);
    case "patch":
      return renderPatch(r);
  }
}

export interface Failure {
  readonly command: string;
  readonly exitCode: number;
  readonly kind: "bad-input" | "unreachable";
  readonly lines: readonly string[];
}

/**
 * Bad input or an unreachable database: the machine-read formats still print one document on stdout (the errors
 * are on stderr as well); the table and the patch print nothing more.
 */
export function renderFailure(format: OutputFormat, f: Failure, version: string): string | undefined {
  switch (format) {
    case "table":
      return undefined;
    case "json":
      return renderJsonError(f.command, f.exitCode, f.lines);
    case "yaml":
      return renderYamlError(f.command, f.exitCode, f.lines);
    case "junit":
      return renderJunitError(f.command, f.kind, f.lines);
    case "sarif":
      return renderSarifError(f.kind, f.lines, version);
    case "patch":
      return undefined;
  }
}
