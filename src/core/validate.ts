import type { Policy } from "./policy.js";
import { validateSizingTable } from "./sizing-table.js";
import type { Snapshot } from "./snapshot.js";

/** A Snapshot the shells should never have built: the planner refuses it rather than guess. */
export class InvalidSnapshotError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid snapshot: ${problems.join("; ")}`);
    this.name = "InvalidSnapshotError";
  }
}

const isCount = (n: unknown): boolean => typeof n === "number" && Number.isInteger(n) && n >= 0;

/** Problems, one line each, naming the object and field; empty when the planner can use the input. */
export function validateSnapshot(snapshot: Snapshot, policy: Policy): string[] {
  const problems = validateSizingTable(policy.sizingTable);
  const seen = new Set<string>();
  for (const db of snapshot.databases) {
    const at = `database ${db.name}`;
    if (seen.has(`db:${db.name}`)) problems.push(`${at}: defined twice`);
    seen.add(`db:${db.name}`);
    if (!isCount(db.maxConnections)) problems.push(`${at}: maxConnections must be an integer >= 0`);
    if (db.maxUserConnections !== undefined && !isCount(db.maxUserConnections))
      problems.push(`${at}: maxUserConnections must be an integer >= 0`);
    if (db.unmanaged !== undefined && !isCount(db.unmanaged)) problems.push(`${at}: unmanaged must be an integer >= 0`);
    if (db.unattributed !== undefined && !db.unattributed.every(isCount))
      problems.push(`${at}: unattributed must be integers >= 0`);
    for (const [name, acct] of Object.entries(db.accounts ?? {})) {
      if (!isCount(acct.maxUserConnections)) problems.push(`${at} account ${name}: maxUserConnections must be >= 0`);
      if (acct.unmanaged !== undefined && !isCount(acct.unmanaged))
        problems.push(`${at} account ${name}: unmanaged must be an integer >= 0`);
    }
    for (const [name, cat] of Object.entries(db.catalogs ?? {})) {
      if (!isCount(cat.maxConnections)) problems.push(`${at} catalog ${name}: maxConnections must be >= 0`);
      if (cat.unmanaged !== undefined && !isCount(cat.unmanaged))
        problems.push(`${at} catalog ${name}: unmanaged must be an integer >= 0`);
    }
  }
  for (const w of snapshot.workloads) {
    const at = `workload ${w.id}`;
    if (seen.has(`w:${w.id}`)) problems.push(`${at}: defined twice`);
    seen.add(`w:${w.id}`);
    if (!isCount(w.replicas)) problems.push(`${at}: replicas must be an integer >= 0`);
    if (w.workers !== "unknown" && !(Number.isInteger(w.workers) && w.workers >= 1))
      problems.push(`${at}: workers must be an integer >= 1 or "unknown"`);
    if (w.maxReplicas !== undefined && !isCount(w.maxReplicas))
      problems.push(`${at}: maxReplicas must be an integer >= 0`);
    if (w.weight !== undefined && !(Number.isFinite(w.weight) && w.weight > 0))
      problems.push(`${at}: weight must be > 0`);
    if (w.terminatingPods !== undefined && !isCount(w.terminatingPods))
      problems.push(`${at}: terminatingPods must be an integer >= 0`);
    if (w.hpa && (!isCount(w.hpa.maxReplicas) || !isCount(w.hpa.minReplicas)))
      problems.push(`${at}: HPA replicas must be integers >= 0`);
    if (w.rollout.type === "RollingUpdate") {
      const { maxSurge, maxUnavailable } = w.rollout;
      for (const [field, v] of [
        ["maxSurge", maxSurge],
        ["maxUnavailable", maxUnavailable],
      ] as const) {
        if (v !== undefined && !isCount(v.value))
          problems.push(`${at}: ${field} must be a whole number or percentage >= 0`);
      }
      // Kubernetes' own rule, on what the manifest says (an absent field is Kubernetes' 25 %, whatever our policy).
      if (maxSurge?.value === 0 && maxUnavailable?.value === 0)
        problems.push(
          `${at}: maxSurge and maxUnavailable cannot both be 0 (Kubernetes rejects it: no pod could be replaced)`,
        );
    }
    const wr = w.writes;
    if (wr?.kind === "pool-overflow" && (wr.poolSizeEnv === "" || wr.poolSizeEnv === wr.maxOverflowEnv))
      problems.push(`${at}: pool_size and max_overflow need two different env vars`);
    if (wr?.kind === "single") {
      if (wr.env === "") problems.push(`${at}: the cap needs an env var`);
      if (!(Number.isInteger(wr.assumed) && wr.assumed >= 1))
        problems.push(`${at}: the ${wr.profile} profile's assumed cap must be an integer >= 1`);
      for (const v of wr.atMost ?? [])
        if (v.current !== undefined && !Number.isInteger(v.current))
          problems.push(`${at}: current ${v.name} must be an integer`);
    }
    for (const field of ["poolSize", "maxOverflow"] as const) {
      const v = w.current?.[field];
      if (v !== undefined && !Number.isInteger(v)) problems.push(`${at}: current ${field} must be an integer`);
    }
  }
  return problems;
}
