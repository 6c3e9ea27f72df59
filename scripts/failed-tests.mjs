// Names the failed tests of one vitest project from its JSON report (scripts/test.sh), one line each with the
// first line of the error, so the tail of a long CI log says what failed. Plain Node: runs before anything is built.
import { readFileSync } from "node:fs";

const [project, file] = process.argv.slice(2);
let report;
try {
  report = JSON.parse(readFileSync(file, "utf8"));
} catch {
  console.log(`\n${project}: no JSON report (the project failed before its tests ran; see its output above)`);
  process.exit(0);
}
const lines = [];
for (const suite of report.testResults ?? []) {
  const path = String(suite.name ?? "").replace(`${process.cwd()}/`, "");
  const failed = (suite.assertionResults ?? []).filter((t) => t.status === "failed");
  for (const t of failed) {
    const first = String(t.failureMessages?.[0] ?? "").split("\n")[0].slice(0, 600);
    lines.push(`  ${path} > ${t.fullName ?? t.title}\n      ${first}`);
  }
  if (failed.length === 0 && suite.status === "failed") {
    lines.push(`  ${path}: ${String(suite.message ?? "failed outside a test").split("\n")[0].slice(0, 300)}`);
  }
}
console.log(`\n${project}: ${lines.length} failed\n${lines.join("\n")}`);
