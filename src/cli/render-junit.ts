// `-o junit`: JUnit XML, which CI systems (GitLab, Jenkins, GitHub test reporters) show inline. One testsuite per
// command, one testcase per workload; an error finding about a workload is its <failure>, warnings go to its
// <system-out>. Bad input or an unreachable database is one testcase with an <error>. Every text is escaped; the
// texts are the same lines the table prints (findings never quote a secret, src/sources/shown-value.ts).
import type { Finding } from "../core/index.js";
import type { Report } from "./report.js";
import { workloadsOf } from "./report-findings.js";

interface Case {
  readonly name: string;
  readonly classname: string;
  readonly file?: string;
  readonly line?: number;
  readonly failures: readonly Finding[];
  readonly out: readonly string[];
}

export function renderJunit(r: Report): string {
  const cases: Case[] = r.workloads.map((w) => {
    const about = r.plan.findings.filter((f) => workloadsOf(f, r).includes(w));
    return {
      name: w.workload.id,
      classname: `pooltuner.${r.command}.${w.workload.database ?? "unknown"}`,
      file: w.file,
      ...(w.line !== undefined ? { line: w.line } : {}),
      failures: about.filter((f) => f.severity === "error"),
      out: about.filter((f) => f.severity !== "error").map((f) => `${f.severity}: ${f.kind}: ${f.message}`),
    };
  });
  // A finding no workload is under (a database nothing uses) still shows, as its database's testcase.
  for (const f of r.plan.findings.filter((x) => workloadsOf(x, r).length === 0)) {
    const name = `database ${f.database}`;
    const existing = cases.findIndex((c) => c.name === name);
    const before = existing >= 0 ? (cases.splice(existing, 1)[0] as Case) : undefined;
    cases.push({
      name,
      classname: `pooltuner.${r.command}.${f.database}`,
      failures: [...(before?.failures ?? []), ...(f.severity === "error" ? [f] : [])],
      out: [...(before?.out ?? []), ...(f.severity === "error" ? [] : [`${f.severity}: ${f.kind}: ${f.message}`])],
    });
  }
  const body = cases.map(testcase).join("");
  const failures = cases.filter((c) => c.failures.length > 0).length;
  const suiteOut =
    r.warnings.length > 0
      ? `    <system-out>${text(r.warnings.map((w) => `warning: ${w}`).join("\n"))}</system-out>\n`
      : "";
  return document(r.command, cases.length, failures, 0, `${body}${suiteOut}`);
}

/** Bad input (exit 2) or an unreachable database (exit 3): one testcase whose <error> lists the lines. */
export function renderJunitError(command: string, kind: "bad-input" | "unreachable", lines: readonly string[]): string {
  const name = kind === "bad-input" ? "input" : "databases";
  const first = lines[0] ?? kind;
  const body =
    `    <testcase name="${attr(name)}" classname="pooltuner.${attr(command)}">\n` +
    `      <error message="${attr(first)}" type="${attr(kind)}">${text(lines.join("\n"))}</error>\n` +
    "    </testcase>\n";
  return document(command, 1, 0, 1, body);
}

function testcase(c: Case): string {
  const open = `    <testcase name="${attr(c.name)}" classname="${attr(c.classname)}"${c.file ? ` file="${attr(c.file)}"` : ""}${c.line !== undefined ? ` line="${c.line}"` : ""}`;
  if (c.failures.length === 0 && c.out.length === 0) return `${open}/>\n`;
  const first = c.failures[0];
  const failure = first
    ? `      <failure message="${attr(first.message)}" type="${attr(first.kind)}">${text(c.failures.map((f) => `${f.kind}: ${f.message}`).join("\n"))}</failure>\n`
    : "";
  const out = c.out.length > 0 ? `      <system-out>${text(c.out.join("\n"))}</system-out>\n` : "";
  return `${open}>\n${failure}${out}    </testcase>\n`;
}

function document(command: string, tests: number, failures: number, errors: number, body: string): string {
  const counts = `tests="${tests}" failures="${failures}" errors="${errors}" skipped="0"`;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="pooltuner" ${counts}>\n` +
    `  <testsuite name="pooltuner ${attr(command)}" ${counts}>\n${body}  </testsuite>\n</testsuites>\n`
  );
}

/**
 * Characters XML 1.0 cannot hold at all (controls but tab and newline, lone surrogates, U+FFFE/FFFF) are written
 * as `\u{..}`; a carriage return too (a parser would turn it into a newline), and format characters (U+202E would
 * reverse the text a CI page shows).
 */
const FORMAT = /^[\p{Cf}\u2028\u2029]$/u;

function visible(s: string): string {
  let out = "";
  // for..of yields a surrogate pair as one code point, so only a lone surrogate is in the surrogate range here.
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    const bad =
      (c < 0x20 && c !== 0x09 && c !== 0x0a) ||
      (c >= 0xd800 && c <= 0xdfff) ||
      c === 0xfffe ||
      c === 0xffff ||
      FORMAT.test(ch);
    out += bad ? `\\u{${c.toString(16)}}` : ch;
  }
  return out;
}

/** Element text. */
function text(s: string): string {
  return visible(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Attribute value (double-quoted); a newline or tab would be normalised to a space by the parser, so escaped. */
function attr(s: string): string {
  return text(s).replace(/"/g, "&quot;").replace(/'/g, "&apos;").replace(/\n/g, "&#10;").replace(/\t/g, "&#9;");
}
