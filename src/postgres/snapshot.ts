// A PostgreSQL reading as the planner sees it.
// - The limit planned into is what an ordinary role can get: max_connections less superuser_reserved_connections
//   and (16+) reserved_connections. Those slots are never planned into, like MySQL's extra SUPER slot: an ordinary
//   role is refused once only the reserved slots are free, whoever holds the others.
// - A role's CONNECTION LIMIT (rolconnlimit) bounds the workloads that log in as it, like MySQL's per-account
//   MAX_USER_CONNECTIONS; PostgreSQL has no global per-role cap (max_user_connections is 0).
// - A database's CONNECTION LIMIT (datconnlimit) bounds the workloads that connect to it, whatever their role (the
//   planner's catalog bound); every session in it of a role no workload logs in as counts against it, superusers'
//   included (the server counts them, though it never refuses them).
import type { DatabaseSnapshot } from "../core/index.js";
import type { SnapshotInput } from "../runtime/database-probe.js";
import { otherClients } from "../runtime/other-clients.js";
import type { PostgresReading } from "./probe.js";

/** The slots an ordinary role can hold: max_connections less the reserved ones, never below 0. */
export function ordinarySlots(
  r: Pick<PostgresReading, "maxConnections" | "superuserReservedConnections" | "reservedConnections">,
): number {
  return Math.max(0, r.maxConnections - r.superuserReservedConnections - r.reservedConnections);
}

/**
 * Other clients = every client backend of a role no managed workload logs in as (the probe's own excluded), at their
 * highest over the window. pg_stat_activity shows every session's role to every role, so they are always seen.
 */
export function databaseSnapshotFromReading(i: SnapshotInput<PostgresReading>): DatabaseSnapshot {
  const { config, reading: r, managedUsers } = i;
  const { unmanaged, unattributed } = otherClients(r.connectionsByUser, managedUsers, i.samples, i.now, i.windowMs);
  const accounts: Record<string, { maxUserConnections: number }> = {};
  for (const user of [...managedUsers].sort()) {
    const limit = r.accountLimits.find((a) => a.user === user && a.maxUserConnections > 0);
    if (limit) accounts[user] = { maxUserConnections: limit.maxUserConnections };
  }
  const catalogs: Record<string, { maxConnections: number; unmanaged: number }> = {};
  for (const d of r.databaseLimits) {
    const sessions = Object.entries(r.connectionsByDatabase[d.database] ?? {});
    const unmanagedHere = sessions.reduce((n, [user, count]) => (managedUsers.has(user) ? n : n + count), 0);
    catalogs[d.database] = { maxConnections: d.maxConnections, unmanaged: unmanagedHere };
  }
  return {
    name: config.name,
    maxConnections: ordinarySlots(r),
    maxUserConnections: 0,
    unmanaged,
    ...(unattributed.length > 0 ? { unattributed } : {}),
    accounts,
    ...(Object.keys(catalogs).length > 0 ? { catalogs } : {}),
    ...(config.reserve ? { reserve: config.reserve } : {}),
  };
}
