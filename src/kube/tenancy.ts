// Which namespaces may use which database, and with how much weight (issue 10, tenancy). Without this any
// namespace could name any configured database in `pooltuner.io/database`, with a weight up to 1e6, and shrink
// another team's workloads at once. Deny by default: a database serves the namespaces its configuration entry
// lists (`namespaces`, `"*"` for any); an entry that lists none serves the namespaces the controller watches
// (`--namespace`), and none at all when it watches the whole cluster. A workload outside is not planned and not
// changed; its database user's connections then all count as other clients' (runtime/managed-users.ts).
import type { DatabaseConfig } from "../runtime/config.js";
import { PREFIX } from "../sources/identity.js";

/** The weight cap of a database whose entry sets no `maxWeight`. */
export const DEFAULT_MAX_WEIGHT = 10;

export interface DatabaseAccess {
  /** "any", or the namespaces allowed (possibly none). */
  readonly namespaces: "any" | ReadonlySet<string>;
  /** Where `namespaces` came from, for the messages. */
  readonly from: "config" | "watched namespaces" | "default (none)";
  readonly maxWeight: number;
}

export function accessOf(
  db: Pick<DatabaseConfig, "namespaces" | "maxWeight">,
  watched: readonly string[],
): DatabaseAccess {
  const maxWeight = db.maxWeight ?? DEFAULT_MAX_WEIGHT;
  if (db.namespaces !== undefined) {
    return { namespaces: db.namespaces.includes("*") ? "any" : new Set(db.namespaces), from: "config", maxWeight };
  }
  if (watched.length > 0) return { namespaces: new Set(watched), from: "watched namespaces", maxWeight };
  return { namespaces: new Set(), from: "default (none)", maxWeight };
}

/** One line for logs: what each database allows. */
export function describeAccess(a: DatabaseAccess): string {
  const ns = a.namespaces === "any" ? "any namespace" : [...a.namespaces].sort().join(", ") || "no namespace";
  return `${ns} (${a.from}), weight up to ${a.maxWeight}`;
}

/** Why a workload in `namespace` with `weight` may not use `database`, or undefined when it may. */
export function refusal(a: DatabaseAccess, database: string, namespace: string, weight: number): string | undefined {
  const notPlanned = "this workload is not planned or changed, and its connections count as other clients'";
  if (a.namespaces !== "any" && !a.namespaces.has(namespace)) {
    const allowed = [...a.namespaces].sort();
    const hint =
      a.from === "config"
        ? `database ${database} serves ${allowed.join(", ") || "no namespace"}`
        : a.from === "watched namespaces"
          ? `database ${database} lists no namespaces and so serves the watched ones (${allowed.join(", ")})`
          : `database ${database} lists no namespaces and the controller watches all of them, so it serves none`;
    return (
      `namespace ${namespace} may not use database ${database}: ${hint}; ${notPlanned} ` +
      `(the controller's configuration must list ${namespace} in databases[].namespaces)`
    );
  }
  if (weight > a.maxWeight) {
    return (
      `${PREFIX.kubernetes}weight="${weight}": above database ${database}'s cap of ${a.maxWeight} ` +
      `(databases[].maxWeight); ${notPlanned}`
    );
  }
  return undefined;
}
