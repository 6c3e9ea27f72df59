// Which databases a run plans for, and what each one allows: offline from `--max-connections`, or live from the
// database's driver (picked by URL scheme in src/runtime/drivers.ts). The driver maps its reading to a
// DatabaseSnapshot: other clients are every user no managed workload connects as; per-account limits are those of the
// workloads' users.
import type { DatabaseSnapshot, Reserve } from "../core/index.js";
import { DatabaseProbeError, type DatabaseReading, DatabaseUrlError } from "../runtime/database-probe.js";
import { driverFor } from "../runtime/drivers.js";
import { managedUsers } from "../runtime/managed-users.js";
import { CliError } from "./exit.js";
import type { DatabaseFlags } from "./flags.js";

/** The name a database gets when no workload names one and a single plain flag defines it. */
export const DEFAULT_DATABASE = "default";

export type DatabaseSource = { readonly kind: "offline" } | { readonly kind: "probe"; readonly url: string };

export interface DatabaseTarget {
  readonly name: string;
  readonly source: DatabaseSource;
}

export interface WorkloadRef {
  readonly id: string;
  readonly database?: string;
  readonly account?: string;
  /** "unknown": not planned, so its user's connections count as other clients' (runtime/managed-users.ts). */
  readonly workers: number | "unknown";
}

export interface Resolution {
  readonly targets: readonly DatabaseTarget[];
  /** Workload id -> database name. */
  readonly assignment: ReadonlyMap<string, string>;
  readonly warnings: readonly string[];
}

/** Decide the databases and which one each workload uses; every ambiguity is a bad-input error. */
export function resolveDatabases(workloads: readonly WorkloadRef[], flags: DatabaseFlags): Resolution {
  const errors: string[] = [];
  const warnings: string[] = [];
  const { mysqlUrl, maxConnections } = flags;
  const targets = new Map<string, DatabaseSource>();

  for (const [name, url] of mysqlUrl.named) targets.set(name, { kind: "probe", url });
  for (const name of maxConnections.named.keys()) {
    if (targets.has(name)) errors.push(`database ${name}: give either --mysql-url or --max-connections, not both`);
    targets.set(name, { kind: "offline" });
  }
  if (mysqlUrl.all !== undefined && maxConnections.all !== undefined) {
    errors.push("give either --mysql-url or --max-connections without a database name, not both");
  }
  const plain: DatabaseSource | undefined =
    mysqlUrl.all !== undefined
      ? { kind: "probe", url: mysqlUrl.all }
      : maxConnections.all !== undefined
        ? { kind: "offline" }
        : undefined;

  const referenced = [...new Set(workloads.flatMap((w) => (w.database ? [w.database] : [])))].sort();
  const unnamed = workloads.filter((w) => !w.database);
  if (plain) {
    const open = referenced.filter((n) => !targets.has(n));
    const flag = plain.kind === "probe" ? "--mysql-url" : "--max-connections";
    if (open.length > 1) {
      errors.push(
        `workloads use several databases (${open.join(", ")}): give ${flag} per database as name=value (e.g. ${flag} ${open[0]}=...)`,
      );
    } else if (open.length === 1) {
      targets.set(open[0] as string, plain);
    } else if (unnamed.length > 0 || targets.size === 0) {
      targets.set(DEFAULT_DATABASE, plain);
    } else {
      warnings.push(`${flag} without a database name applies to no database: every workload names one`);
    }
  }

  if (targets.size === 0) {
    errors.push(
      "no database given: use --max-connections N (offline), or --mysql-url mysql://user:password@host:port/ or --postgres-url postgres://user:password@host:port/dbname (live; also from POOLTUNER_MYSQL_URL / POOLTUNER_POSTGRES_URL)",
    );
  }
  const assignment = new Map<string, string>();
  for (const w of workloads) {
    if (w.database) {
      if (targets.has(w.database)) assignment.set(w.id, w.database);
      else if (targets.size > 0) {
        errors.push(
          `${w.id}: uses database "${w.database}", which is not given: add --max-connections ${w.database}=N or --mysql-url/--postgres-url ${w.database}=URL (given: ${[...targets.keys()].sort().join(", ")})`,
        );
      }
    } else if (targets.size === 1) {
      assignment.set(w.id, [...targets.keys()][0] as string);
    } else if (targets.size > 1) {
      errors.push(
        `${w.id}: names no database and several are given (${[...targets.keys()].sort().join(", ")}): set its database label/annotation`,
      );
    }
  }
  for (const name of [...targets.keys()].sort()) {
    if (![...assignment.values()].includes(name)) warnings.push(`database ${name}: no workload uses it`);
  }
  for (const flag of ["reserve", "unmanaged", "maxUserConnections"] as const) {
    for (const name of flags[flag].named.keys()) {
      if (!targets.has(name))
        errors.push(`--${kebab(flag)} ${name}=...: no such database (given: ${[...targets.keys()].sort().join(", ")})`);
    }
  }
  if (errors.length > 0) throw new CliError("bad-input", errors);
  const sorted = [...targets.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, source]) => ({ name, source }));
  return { targets: sorted, assignment, warnings };
}

/** What the output says about where a database's numbers came from. */
export type DatabaseOrigin =
  | { readonly kind: "offline" }
  | {
      readonly kind: "probe";
      readonly target: string;
      readonly version: string;
      readonly visibility: string;
      readonly threadsConnected: number;
      readonly connectionsByUser: Readonly<Record<string, number>>;
    };

export interface DatabaseInput {
  readonly snapshot: DatabaseSnapshot;
  readonly origin: DatabaseOrigin;
}

export type Probe = (url: string) => Promise<DatabaseReading>;

/** Build each database's snapshot, probing the live ones (in parallel). A failed probe fails the run: exit 3. */
export async function readDatabases(
  resolution: Resolution,
  workloads: readonly WorkloadRef[],
  flags: DatabaseFlags,
  probe: Probe,
): Promise<{ databases: DatabaseInput[]; warnings: string[] }> {
  const warnings: string[] = [];
  const pick = <T>(f: { all?: T; named: ReadonlyMap<string, T> }, name: string): T | undefined =>
    f.named.get(name) ?? f.all;

  const results = await Promise.allSettled(
    resolution.targets.map(async (t): Promise<DatabaseInput> => {
      const members = workloads.filter((w) => resolution.assignment.get(w.id) === t.name);
      const reserve: Reserve | undefined = pick(flags.reserve, t.name);
      const unmanagedFlag = pick(flags.unmanaged, t.name);
      const mucFlag = pick(flags.maxUserConnections, t.name);
      const common = {
        name: t.name,
        ...(reserve ? { reserve } : {}),
      };
      if (t.source.kind === "offline") {
        const maxConnections = pick(flags.maxConnections, t.name) as number;
        return {
          snapshot: {
            ...common,
            maxConnections,
            ...(unmanagedFlag !== undefined ? { unmanaged: unmanagedFlag } : {}),
            ...(mucFlag !== undefined ? { maxUserConnections: mucFlag } : {}),
          },
          origin: { kind: "offline" },
        };
      }
      const r = await probe(t.source.url);
      for (const w of r.warnings) warnings.push(`database ${t.name}: ${w}`);
      // The same users and mapping the daemons use; the flags override what the probe saw.
      const managed = managedUsers(members);
      for (const w of managed.warnings) warnings.push(`database ${t.name}: ${w.workload}: ${w.message}`);
      const {
        unmanaged: seen,
        unattributed,
        accounts,
        ...probed
      } = driverFor(t.source.url).snapshot({ config: common, reading: r, managedUsers: managed.users });
      const unmanaged = unmanagedFlag ?? seen;
      if (!r.accountLimitsReadable && managed.users.size > 0) {
        warnings.push(
          `database ${t.name}: per-account MAX_USER_CONNECTIONS could not be read (the monitoring account needs SELECT on mysql.global_priv or mysql.user); only the global max_user_connections is planned for`,
        );
      }
      return {
        snapshot: {
          ...probed,
          maxUserConnections: mucFlag ?? probed.maxUserConnections,
          ...(unmanaged !== undefined ? { unmanaged } : {}),
          // Part of what the probe saw: meaningless once --unmanaged says what other clients hold.
          ...(unattributed && unmanagedFlag === undefined ? { unattributed } : {}),
          ...(accounts && Object.keys(accounts).length > 0 ? { accounts } : {}),
        },
        origin: {
          kind: "probe",
          target: r.target,
          version: r.version,
          visibility: r.visibility,
          threadsConnected: r.threadsConnected,
          connectionsByUser: r.connectionsByUser,
        },
      };
    }),
  );

  const badInput: string[] = [];
  const unreachable: string[] = [];
  const databases: DatabaseInput[] = [];
  results.forEach((res, i) => {
    const name = resolution.targets[i]?.name;
    if (res.status === "fulfilled") databases.push(res.value);
    else if (res.reason instanceof DatabaseUrlError) badInput.push(`database ${name}: ${res.reason.message}`);
    else if (res.reason instanceof DatabaseProbeError) unreachable.push(`database ${name}: ${res.reason.message}`);
    else throw res.reason;
  });
  if (badInput.length > 0) throw new CliError("bad-input", badInput);
  if (unreachable.length > 0) throw new CliError("unreachable", unreachable);
  return { databases, warnings };
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
