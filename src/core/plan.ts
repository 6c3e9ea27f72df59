// plan(snapshot, policy) -> Plan: the whole arithmetic of DESIGN §3, pure and deterministic.
import { allocate, type Demand } from "./allocate.js";
import type {
  AccountBudget,
  CatalogBudget,
  Change,
  CurrentUsage,
  DatabasePlan,
  Finding,
  Plan,
  Recommendation,
  Scope,
  SurgeCost,
  WorkloadPlan,
} from "./plan-types.js";
import { plannedReplicas, podsPeak } from "./pods.js";
import { type Policy, reserveFor } from "./policy.js";
import { assumedSettings, DEFAULT_WRITING, envValues, settingsText, splitFor, tableCap } from "./profile.js";
import { pickRow } from "./sizing-table.js";
import type { CapWriting, DatabaseSnapshot, PoolSettings, Snapshot, WorkloadSnapshot } from "./snapshot.js";
import { surgeCostMessage, surgeCosts } from "./surge-cost.js";
import { InvalidSnapshotError, validateSnapshot } from "./validate.js";

/** What the planner derives for one workload whose workers are known, before allocation. */
interface Sized {
  readonly w: WorkloadSnapshot;
  readonly workers: number;
  readonly podsPeak: number;
  readonly processes: number;
  readonly row: PoolSettings & { readonly name: string };
  readonly desiredCap: number;
  readonly current: CurrentUsage;
  readonly writes: CapWriting;
}

/** One bound on a database: the server itself or an account with a connection limit. */
interface Bound {
  readonly scope: Scope;
  readonly capacity: number;
  readonly members: readonly Sized[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function plan(snapshot: Snapshot, policy: Policy): Plan {
  const problems = validateSnapshot(snapshot, policy);
  if (problems.length > 0) throw new InvalidSnapshotError(problems);

  const databases = [...snapshot.databases].sort((a, b) => byString(a.name, b.name));
  const all = [...snapshot.workloads].sort((a, b) => byString(a.id, b.id));
  // A workload whose worker count cannot be known is neither planned nor changed: assuming a number could undercount.
  const sized = all.flatMap((w) => (w.workers === "unknown" ? [] : [size(w, w.workers, policy)]));
  const findings: Finding[] = [];
  const dbPlans: DatabasePlan[] = [];
  const recommendations = new Map<string, Recommendation>();
  const surges = new Map<string, SurgeCost>();

  const known = new Set(databases.map((d) => d.name));
  for (const w of all) {
    if (!known.has(w.database)) {
      findings.push({
        kind: "unknown-database",
        severity: "error",
        database: w.database,
        workload: w.id,
        message: `${w.id}: database "${w.database}" is not defined; nothing is planned for it`,
      });
    } else if (w.workers === "unknown") {
      findings.push({
        kind: "unknown-workers",
        severity: "error",
        database: w.database,
        workload: w.id,
        message: `${w.id}: worker processes per pod cannot be known (the server may read them from a config file); it is not planned and not changed: set its workers annotation/label or workers-env`,
      });
    }
  }

  for (const db of databases) {
    const members = sized.filter((s) => s.w.database === db.name);
    const reserve = reserveFor(db.reserve ?? policy.reserve, db.maxConnections);
    const unmanagedAssumed = db.unmanaged === undefined;
    const unmanaged = db.unmanaged ?? reserveFor(policy.unseenUnmanaged, db.maxConnections);
    const usable = db.maxConnections - reserve - unmanaged;
    if (unmanagedAssumed && members.length > 0) {
      findings.push({
        kind: "unseen-unmanaged",
        severity: "warning",
        database: db.name,
        assumed: unmanaged,
        message: `${db.name}: other clients' connections cannot be seen (grant PROCESS to the monitoring account); assuming ${unmanaged}`,
      });
    }

    const bounds: Bound[] = [{ scope: { kind: "server" }, capacity: usable, members }];
    const accountBudgets: { account: string; limit: number; unmanaged: number; usable: number }[] = [];
    /** Index in `bounds` of each limited account. */
    const accountBound = new Map<string, number>();
    for (const account of [...new Set(members.flatMap((s) => (s.w.account !== undefined ? [s.w.account] : [])))].sort(
      byString,
    )) {
      const limit = accountLimit(db, account);
      if (limit === undefined) continue;
      const acctUnmanaged = db.accounts?.[account]?.unmanaged ?? 0;
      const acctUsable = limit - acctUnmanaged;
      accountBudgets.push({ account, limit, unmanaged: acctUnmanaged, usable: acctUsable });
      accountBound.set(account, bounds.length);
      bounds.push({
        scope: { kind: "account", account },
        capacity: acctUsable,
        members: members.filter((s) => s.w.account === account),
      });
    }
    // A database inside the server with a connection limit (PostgreSQL's datconnlimit) bounds every workload that
    // connects to it, whatever its role. A workload whose catalog is not known is not bound by any.
    const catalogBudgets: { catalog: string; limit: number; unmanaged: number; usable: number }[] = [];
    const catalogBound = new Map<string, number>();
    for (const catalog of [...new Set(members.flatMap((s) => (s.w.catalog !== undefined ? [s.w.catalog] : [])))].sort(
      byString,
    )) {
      const entry = Object.hasOwn(db.catalogs ?? {}, catalog) ? db.catalogs?.[catalog] : undefined;
      if (entry === undefined) continue;
      const catUnmanaged = entry.unmanaged ?? 0;
      const catUsable = entry.maxConnections - catUnmanaged;
      catalogBudgets.push({ catalog, limit: entry.maxConnections, unmanaged: catUnmanaged, usable: catUsable });
      catalogBound.set(catalog, bounds.length);
      bounds.push({
        scope: { kind: "catalog", catalog },
        capacity: catUsable,
        members: members.filter((s) => s.w.catalog === catalog),
      });
    }
    // A workload that names no account may connect as any account: the global max_user_connections bounds it alone.
    const global = db.maxUserConnections ?? 0;
    const accountless = members.filter((s) => s.w.account === undefined);
    const ownBound = new Map<string, number>();
    if (global > 0) {
      for (const s of accountless) {
        ownBound.set(s.w.id, bounds.length);
        bounds.push({ scope: { kind: "unknown-account", workload: s.w.id }, capacity: global, members: [s] });
      }
    }
    // Never more than other clients were counted at (the per-user maxima over a window can add up to more).
    const possiblyOwn = unmanagedAssumed
      ? 0
      : Math.min(unmanaged, possiblyOwnConnections(accountless, db.unattributed ?? []));
    if (possiblyOwn > 0) {
      findings.push({
        kind: "unknown-account",
        severity: "warning",
        database: db.name,
        workload: accountless.map((s) => s.w.id).join(", "),
        message: `${accountless.map((s) => s.w.id).join(", ")}: database account unknown, so up to ${possiblyOwn} connections of other users may be its own; they are counted as other clients' (a conservative budget), and it is not shrunk for them: set its account annotation/label or put the user in a database URL in its env`,
      });
    }

    const demands: Demand[] = members.map((s) => ({
      id: s.w.id,
      processes: s.processes,
      desiredCap: s.desiredCap,
      weight: s.w.weight ?? 1,
      bounds: [
        0,
        ...(s.w.account !== undefined && accountBound.has(s.w.account)
          ? [accountBound.get(s.w.account) as number]
          : []),
        ...(ownBound.has(s.w.id) ? [ownBound.get(s.w.id) as number] : []),
        ...(s.w.catalog !== undefined && catalogBound.has(s.w.catalog)
          ? [catalogBound.get(s.w.catalog) as number]
          : []),
      ],
    }));
    const result = allocate(
      demands,
      bounds.map((b) => b.capacity),
    );

    if (result.feasible) {
      for (const s of members) {
        const cap = result.caps.get(s.w.id) ?? 1;
        recommendations.set(s.w.id, recommend(s, cap));
      }
      const candidates = members.map((s) => ({
        id: s.w.id,
        surgePods: surgeSaving(s.w, policy),
        workers: s.workers,
        processes: s.processes,
        desiredCap: s.desiredCap,
        recommend: (cap: number, processes: number) => recommend({ ...s, processes }, cap),
      }));
      const capacities = bounds.map((b) => b.capacity);
      for (const [id, cost] of surgeCosts(candidates, demands, capacities, result.caps)) {
        surges.set(id, cost);
        const s = members.find((m) => m.w.id === id) as Sized;
        findings.push({
          kind: "surge-cost",
          severity: "warning",
          database: db.name,
          workload: id,
          surge: cost,
          message: surgeCostMessage(id, plannedReplicas(s.w), recommendations.get(id) as Recommendation, cost, (x) =>
            settingsText(s.writes, x),
          ),
        });
      }
    } else {
      for (const { bound, needed } of result.overBounds) {
        const b = bounds[bound] as Bound;
        findings.push(infeasible(db.name, b, needed, { limit: db.maxConnections, reserve, unmanaged }, policy));
      }
    }

    // Current settings against every bound: what `check` gates on.
    let currentSafe = true;
    for (const b of bounds) {
      const peak = sumPeaks(b.members.map((s) => s.current.peak));
      if (peak === null || peak > b.capacity) {
        currentSafe = false;
        findings.push(currentExceeds(db.name, b, peak));
      }
    }
    for (const s of members) {
      if (s.current.unbounded) {
        findings.push({
          kind: "unbounded-current",
          severity: "error",
          database: db.name,
          workload: s.w.id,
          message:
            s.writes.kind === "pool-overflow"
              ? `${s.w.id}: pool_size=${s.current.settings.poolSize} max_overflow=${s.current.settings.maxOverflow} is unbounded (0 pool_size or negative overflow lets each process open any number of connections)`
              : `${s.w.id}: ${s.writes.env}=${s.current.settings.poolSize} is taken as unbounded (a cap of 0 or less may let each process open any number of connections)`,
        });
      } else if (s.current.assumed) {
        findings.push({
          kind: "assumed-current",
          severity: "warning",
          database: db.name,
          workload: s.w.id,
          message:
            s.writes.kind === "pool-overflow"
              ? `${s.w.id}: pool settings not set; assuming SQLAlchemy's defaults ${s.current.settings.poolSize}+${s.current.settings.maxOverflow}`
              : `${s.w.id}: ${s.writes.env} not set; assuming ${s.current.settings.poolSize} per process (the ${s.writes.profile} profile's default)`,
        });
      }
    }

    const allocated = result.feasible
      ? members.reduce((n, s) => n + s.processes * (result.caps.get(s.w.id) ?? 1), 0)
      : 0;
    const accounts: AccountBudget[] = accountBudgets.map((a) => ({
      ...a,
      allocated: result.feasible
        ? members
            .filter((s) => s.w.account === a.account)
            .reduce((n, s) => n + s.processes * (result.caps.get(s.w.id) ?? 1), 0)
        : 0,
    }));
    const catalogs: CatalogBudget[] = catalogBudgets.map((c) => ({
      ...c,
      allocated: result.feasible
        ? members
            .filter((s) => s.w.catalog === c.catalog)
            .reduce((n, s) => n + s.processes * (result.caps.get(s.w.id) ?? 1), 0)
        : 0,
    }));
    dbPlans.push({
      name: db.name,
      limit: db.maxConnections,
      reserve,
      unmanaged,
      unmanagedAssumed,
      usable,
      possiblyOwn,
      maxUserConnections: global,
      allocated,
      free: usable - allocated,
      feasible: result.feasible,
      currentPeak: sumPeaks(members.map((s) => s.current.peak)),
      currentSafe,
      accounts,
      ...(catalogs.length > 0 ? { catalogs } : {}),
      workloads: members.map((s) => s.w.id),
    });
  }

  const byId = new Map(sized.map((s) => [s.w.id, s]));
  const workloads: WorkloadPlan[] = all.map((w) => {
    const s = byId.get(w.id) ?? unplanned(w, policy);
    const recommended = recommendations.get(w.id);
    const surgeCost = surges.get(w.id);
    return {
      id: w.id,
      database: w.database,
      ...(w.account !== undefined ? { account: w.account } : {}),
      ...(w.catalog !== undefined ? { catalog: w.catalog } : {}),
      replicas: w.replicas,
      plannedReplicas: plannedReplicas(w),
      podsPeak: s.podsPeak,
      workers: w.workers,
      processes: w.workers === "unknown" ? null : s.processes,
      row: s.row.name,
      desiredCap: s.desiredCap,
      writes: s.writes,
      current: s.current,
      ...(recommended ? { recommended } : {}),
      change: changeOf(s.current, recommended),
      ...(surgeCost ? { surgeCost } : {}),
    };
  });

  return {
    databases: dbPlans,
    workloads,
    findings,
    feasible: dbPlans.every((d) => d.feasible) && !findings.some((f) => f.kind === "unknown-database"),
    currentSafe: dbPlans.every((d) => d.currentSafe),
  };
}

function size(w: WorkloadSnapshot, workers: number, policy: Policy): Sized {
  const peakPods = podsPeak(w, policy.defaultMaxSurge);
  const processes = peakPods * workers;
  const row = pickRow(policy.sizingTable, w.resources);
  const writes = w.writes ?? DEFAULT_WRITING;
  const assumed = assumedSettings(writes, policy.assumedCurrent);
  const single = writes.kind === "single";
  const poolSize = w.current?.poolSize ?? assumed.poolSize;
  // A single number has no overflow: the whole cap is in poolSize.
  const maxOverflow = single ? 0 : (w.current?.maxOverflow ?? assumed.maxOverflow);
  const unbounded = poolSize <= 0 || maxOverflow < 0;
  return {
    w,
    workers,
    podsPeak: peakPods,
    processes,
    row,
    desiredCap: tableCap(writes, row),
    writes,
    current: {
      settings: { poolSize, maxOverflow },
      assumed: w.current?.poolSize === undefined || (!single && w.current?.maxOverflow === undefined),
      unbounded,
      peak: unbounded ? null : processes * (poolSize + maxOverflow),
    },
  };
}

/** A workload with unknown workers, for output only: its peak cannot be known. */
function unplanned(w: WorkloadSnapshot, policy: Policy): Sized {
  const s = size(w, 1, policy);
  return { ...s, processes: 0, current: { ...s.current, peak: null } };
}

/**
 * How many of the unattributed connections (those of users no workload is known to use) workloads with an unknown
 * account could hold themselves: each connects as one user, so at most the largest entries, one per workload, and
 * never more than their current settings allow at peak.
 */
function possiblyOwnConnections(accountless: readonly Sized[], unattributed: readonly number[]): number {
  if (accountless.length === 0) return 0;
  const largest = [...unattributed].sort((a, b) => b - a).slice(0, accountless.length);
  const seen = largest.reduce((n, v) => n + v, 0);
  const peaks = sumPeaks(accountless.map((s) => s.current.peak));
  return peaks === null ? seen : Math.min(seen, peaks);
}

/** Effective per-account limit: the account's own MAX_USER_CONNECTIONS, else the global one; none when both are 0. */
function accountLimit(db: DatabaseSnapshot, account: string): number | undefined {
  const own = db.accounts?.[account]?.maxUserConnections ?? 0;
  if (own > 0) return own;
  const global = db.maxUserConnections ?? 0;
  return global > 0 ? global : undefined;
}

/**
 * Turn a cap into settings. When the workload already runs bounded settings with the same cap,
 * keep its split: the peak is the same, so a restart would buy nothing.
 */
function recommend(s: Sized, cap: number): Recommendation {
  const cur = s.current;
  const keep = !cur.assumed && !cur.unbounded && cur.settings.poolSize + cur.settings.maxOverflow === cap;
  const settings = keep ? cur.settings : splitFor(s.writes, cap, s.row);
  return { ...settings, cap, peak: s.processes * cap, env: envValues(s.writes, settings) };
}

function changeOf(current: CurrentUsage, rec: Recommendation | undefined): Change {
  if (!rec) return "none";
  if (current.unbounded) return "decrease";
  const curCap = current.settings.poolSize + current.settings.maxOverflow;
  if (rec.cap < curCap) return "decrease";
  if (rec.cap > curCap) return "increase";
  if (current.assumed) return "decrease"; // same cap, but unset env: pin it explicitly
  return rec.poolSize === current.settings.poolSize && rec.maxOverflow === current.settings.maxOverflow
    ? "none"
    : "increase";
}

function sumPeaks(peaks: readonly (number | null)[]): number | null {
  let total = 0;
  for (const p of peaks) {
    if (p === null) return null;
    total += p;
  }
  return total;
}

function scopeName(db: string, scope: Scope): string {
  switch (scope.kind) {
    case "server":
      return `database ${db}`;
    case "account":
      return `account ${scope.account} on ${db}`;
    case "unknown-account":
      return `${scope.workload} (account unknown) against max_user_connections on ${db}`;
    case "catalog":
      return `database ${scope.catalog} (its CONNECTION LIMIT) on ${db}`;
  }
}

function infeasible(
  db: string,
  b: Bound,
  needed: number,
  server: { limit: number; reserve: number; unmanaged: number },
  policy: Policy,
): Finding {
  const available = b.capacity;
  const why =
    b.scope.kind === "server" && available < 0
      ? ` (reserve ${server.reserve} + other clients ${server.unmanaged} exceed max_connections ${server.limit})`
      : "";
  const fits = b.members.map((s) => {
    const room = available - (needed - s.processes);
    const workers = Math.max(0, Math.min(s.workers, Math.floor(room / Math.max(1, s.podsPeak))));
    return { workload: s.w.id, workers, pods: maxPodsFitting(s, room, policy) };
  });
  const hints = fits
    .filter((f) => f.workers > 0 || f.pods > 0)
    .slice(0, 3)
    .map((f) => `${f.workload} with ${f.workers} workers per pod or ${f.pods} replicas`);
  const fix =
    hints.length > 0 ? `fits: ${hints.join("; ")}; or add a pooler` : "reduce workers or replicas, or add a pooler";
  return {
    kind: "infeasible",
    severity: "error",
    database: db,
    scope: b.scope,
    needed,
    available,
    missing: needed - available,
    fits,
    message: `${scopeName(db, b.scope)}: needs ${needed} connections at 1 per process, allows ${available}${why}: ${needed - available} missing; ${fix}`,
  };
}

/** The most replicas (planned, HPA max included) whose peak processes fit in `room`, the others unchanged. */
function maxPodsFitting(s: Sized, room: number, policy: Policy): number {
  let lo = 0;
  let hi = plannedReplicas(s.w);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const w = {
      ...s.w,
      replicas: mid,
      maxReplicas: mid,
      ...(s.w.hpa ? { hpa: { ...s.w.hpa, maxReplicas: mid } } : {}),
    };
    if (podsPeak(w, policy.defaultMaxSurge) * s.workers <= room) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function currentExceeds(db: string, b: Bound, peak: number | null): Finding {
  const shown = peak === null ? "an unbounded number of" : String(peak);
  return {
    kind: "current-exceeds",
    severity: "error",
    database: db,
    scope: b.scope,
    currentPeak: peak,
    available: b.capacity,
    message: `${scopeName(db, b.scope)}: current settings can open ${shown} connections at peak, ${b.capacity} available`,
  };
}

/**
 * Pods at peak that `maxSurge: 0` would save a RollingUpdate: its surge, less the old pods that would linger instead
 * (with lingering old pods the worst moment holds 2R pods either way, so the surge then costs nothing).
 */
function surgeSaving(w: WorkloadSnapshot, policy: Policy): number {
  if (w.rollout.type !== "RollingUpdate") return 0;
  const noSurge: WorkloadSnapshot = { ...w, rollout: { ...w.rollout, maxSurge: { kind: "int", value: 0 } } };
  return podsPeak(w, policy.defaultMaxSurge) - podsPeak(noSurge, policy.defaultMaxSurge);
}
