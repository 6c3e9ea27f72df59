// Which workloads a finding is about, for the CI formats (JUnit, SARIF) that attach findings to workloads and
// files. A finding names its workload, or a bound (the server, one account) that every workload under it shares.
import type { Finding } from "../core/index.js";
import type { LoadedWorkload } from "../sources/findings.js";
import { STDIN_NAME } from "../sources/load.js";
import type { Report } from "./report.js";

export function workloadsOf(f: Finding, r: Report): readonly LoadedWorkload[] {
  const byId = (id: string) => r.workloads.filter((w) => w.workload.id === id);
  if ("workload" in f) return byId(f.workload);
  if (f.kind === "unseen-unmanaged") return onDatabase(r, f.database);
  const { scope } = f;
  if (scope.kind === "unknown-account") return byId(scope.workload);
  if (scope.kind === "account") {
    const ids = new Set(
      r.plan.workloads.filter((w) => w.database === f.database && w.account === scope.account).map((w) => w.id),
    );
    return r.workloads.filter((w) => ids.has(w.workload.id));
  }
  if (scope.kind === "catalog") {
    const ids = new Set(
      r.plan.workloads.filter((w) => w.database === f.database && w.catalog === scope.catalog).map((w) => w.id),
    );
    return r.workloads.filter((w) => ids.has(w.workload.id));
  }
  return onDatabase(r, f.database);
}

function onDatabase(r: Report, database: string): readonly LoadedWorkload[] {
  return r.workloads.filter((w) => w.workload.database === database);
}

/** Whether `file` is a file read from disk (not the cluster of `--kube`, not standard input). */
export function isReadFile(file: string, r: Report): boolean {
  return r.files.some((f) => f.file === file) && file !== STDIN_NAME;
}
