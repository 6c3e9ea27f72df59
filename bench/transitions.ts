// `npm run bench:transitions`: the real-node scenarios of issue 14 as one table — scenario, planned peak (worked out
// by hand in each test), the most connections of the app's account the database showed, errors 1040, duration.
// Runs the node project's seed, transitions, lingering and incident suites (the real node must be built: `npm test -- node`
// once, or `bash scripts/testbed/node.sh ensure` and `bash scripts/testbed/kube.sh build`), which append one JSON
// line per transition to a file this script names.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface Row {
  scenario: string;
  plannedPeak: number;
  maxObserved: number;
  errors1040: number;
  durationMs: number;
}

const dir = mkdtempSync(join(tmpdir(), "pooltuner-transitions-"));
const out = join(dir, "rows.jsonl");
const suites = ["seed", "transitions", "lingering", "incident"].map((s) => `test/integration/node/${s}.test.ts`);
const run = spawnSync("npx", ["vitest", "run", "--project", "node", ...suites], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, POOLTUNER_TRANSITIONS_OUT: out },
});
let rows: Row[] = [];
try {
  rows = readFileSync(out, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Row);
} catch {
  // no row: the suites failed before their first transition; their output above says why
}
rmSync(dir, { recursive: true, force: true });
const width = Math.max(8, ...rows.map((r) => r.scenario.length));
console.log(
  `\n${"scenario".padEnd(width)}  planned peak  max observed  errors 1040  duration\n${"-".repeat(width + 50)}`,
);
for (const r of rows) {
  console.log(
    `${r.scenario.padEnd(width)}  ${String(r.plannedPeak).padStart(12)}  ${String(r.maxObserved).padStart(12)}  ` +
      `${String(r.errors1040).padStart(11)}  ${(r.durationMs / 1000).toFixed(1).padStart(7)} s`,
  );
}
process.exit(run.status ?? 1);
