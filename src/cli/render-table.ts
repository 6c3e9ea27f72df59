// The human output of `plan` / `check`: budgets per database, one row per workload, what to set, findings.
import {
  type CapWriting,
  type CurrentUsage,
  type DatabasePlan,
  envText,
  type Finding,
  type PoolSettings,
  type WorkloadPlan,
} from "../core/index.js";
import type { LoadedWorkload } from "../sources/findings.js";
import type { Report } from "./report.js";

export function renderTable(r: Report): string {
  const out: string[] = [];
  const { plan } = r;

  const dbRows: string[][] = [];
  for (const d of plan.databases) {
    const input = r.databases.find((x) => x.snapshot.name === d.name);
    const source =
      input?.origin.kind === "probe" ? `${input.origin.target} (${input.origin.version})` : "--max-connections";
    dbRows.push([
      d.name,
      source,
      String(d.limit),
      String(d.reserve),
      d.unmanagedAssumed ? `${d.unmanaged} (assumed)` : String(d.unmanaged),
      String(d.usable),
      d.feasible ? String(d.allocated) : "-",
      d.feasible ? String(d.free) : "INFEASIBLE",
    ]);
    for (const a of d.accounts) {
      dbRows.push([
        `  account ${a.account}`,
        "MAX_USER_CONNECTIONS",
        String(a.limit),
        "-",
        String(a.unmanaged),
        String(a.usable),
        d.feasible ? String(a.allocated) : "-",
        d.feasible ? String(a.usable - a.allocated) : "-",
      ]);
    }
    for (const c of d.catalogs ?? []) {
      dbRows.push([
        `  database ${c.catalog}`,
        "CONNECTION LIMIT",
        String(c.limit),
        "-",
        String(c.unmanaged),
        String(c.usable),
        d.feasible ? String(c.allocated) : "-",
        d.feasible ? String(c.usable - c.allocated) : "-",
      ]);
    }
  }
  out.push(columns(["DATABASE", "SOURCE", "LIMIT", "RESERVE", "UNMANAGED", "USABLE", "ALLOCATED", "FREE"], dbRows));

  const several = plan.databases.length > 1;
  // The PROFILE column only when some workload is not SQLAlchemy's (today's tables stay as they were).
  const profiled = plan.workloads.some((w) => w.writes.profile !== "sqlalchemy");
  const wlRows = plan.workloads.map((w) => [
    w.id,
    ...(several ? [w.database] : []),
    ...(profiled ? [w.writes.profile] : []),
    pods(w, r.workloads.find((x) => x.workload.id === w.id)?.workload),
    String(w.workers),
    String(w.processes),
    settings(w.current, w.writes),
    w.current.peak === null ? "unbounded" : String(w.current.peak),
    w.recommended ? capShown(w.recommended, w.writes) : "-",
    w.recommended ? String(w.recommended.peak) : "-",
    w.recommended ? w.change : "no plan",
  ]);
  out.push(
    "",
    columns(
      [
        "WORKLOAD",
        ...(several ? ["DATABASE"] : []),
        ...(profiled ? ["PROFILE"] : []),
        "PODS(peak)",
        "WORKERS",
        "PROCS",
        "CURRENT",
        "PEAK",
        "RECOMMENDED",
        "PEAK",
        "CHANGE",
      ],
      wlRows,
    ),
  );

  const toApply = plan.workloads.flatMap((w) => {
    const src = r.workloads.find((x) => x.workload.id === w.id);
    if (!w.recommended || w.change === "none" || !src) return [];
    const where = `${src.file} (${src.object})`;
    return [`  ${w.id}: ${envText(w.recommended.env)}  in ${where}`];
  });
  if (toApply.length > 0) out.push("", "TO APPLY", ...toApply);

  const findings = [...plan.findings].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1));
  const notes = [
    ...findings.map((f) => `${f.severity === "error" ? "error  " : "warning"}  ${message(r, f)}`),
    ...r.warnings.map((w) => `warning  ${w}`),
  ];
  if (notes.length > 0) out.push("", ...notes);
  out.push("", summary(r, plan.databases));
  return `${out.join("\n")}\n`;
}

/** The core speaks of the probe; offline, the fix is a flag. */
function message(r: Report, f: Finding): string {
  if (f.kind !== "unseen-unmanaged") return f.message;
  const origin = r.databases.find((d) => d.snapshot.name === f.database)?.origin;
  return origin?.kind === "offline"
    ? `${f.database}: other clients' connections are not known offline; assuming ${f.assumed} (give --unmanaged N)`
    : f.message;
}

function summary(r: Report, dbs: readonly DatabasePlan[]): string {
  const { plan } = r;
  const verdict =
    r.command === "check" ? (r.exitCode === 0 ? "check: OK" : `check: FAILED (exit ${r.exitCode})`) : undefined;
  let text: string;
  if (!plan.feasible) {
    const bad = dbs.filter((d) => !d.feasible).map((d) => d.name);
    text = `NO SAFE PLAN${bad.length > 0 ? ` for ${bad.join(", ")}` : ""}: even 1 connection per process does not fit (see the errors above)`;
  } else {
    const used = dbs.map((d) => `${d.name} ${d.allocated}/${d.usable}`).join(", ");
    text = `plan fits (allocated/usable: ${used}); current settings ${plan.currentSafe ? "cannot exceed the budget" : "CAN EXCEED the budget: apply the recommended values"}`;
  }
  return verdict ? `${text}\n${verdict}` : text;
}

/** `replicas (why more are planned)→peak pods`: an HPA's max, the max-replicas key, or a scaled-to-zero workload at 1. */
function pods(w: WorkloadPlan, src: LoadedWorkload["workload"] | undefined): string {
  const why =
    w.plannedReplicas === w.replicas
      ? ""
      : src?.hpa
        ? ` (HPA max ${w.plannedReplicas})`
        : src?.maxReplicas === w.plannedReplicas
          ? ` (max-replicas ${w.plannedReplicas})`
          : ` (planned ${w.plannedReplicas})`;
  return `${w.replicas}${why}→${w.podsPeak}`;
}

/** `1+2` for SQLAlchemy's pair, the one number otherwise. */
function capShown(s: PoolSettings, writes: CapWriting): string {
  return writes.kind === "pool-overflow" ? `${s.poolSize}+${s.maxOverflow}` : String(s.poolSize + s.maxOverflow);
}

function settings(c: CurrentUsage, writes: CapWriting): string {
  const s = capShown(c.settings, writes);
  return c.assumed ? `${s} (unset)` : s;
}

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function columns(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}
