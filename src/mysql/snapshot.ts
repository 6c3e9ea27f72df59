// A MySQL/MariaDB probe as the planner sees it. MySQL-specific because accounts are user@host: a user that several
// host patterns match gets the tightest of their MAX_USER_CONNECTIONS.
import type { DatabaseSnapshot } from "../core/index.js";
import type { DatabaseConfig } from "../runtime/config.js";
import type { UsageSample } from "../runtime/database-probe.js";
import { otherClients } from "../runtime/other-clients.js";
import type { ProbeResult } from "./probe.js";

/**
 * Other clients = every user that no managed workload connects as (the probe's own connection is already excluded),
 * at their highest over the window; `unattributed` lists them per user. Without PROCESS they cannot be seen:
 * `unmanaged` stays undefined and the planner assumes a number and warns. `managedUsers` comes from managedUsers()
 * (src/runtime/managed-users.ts).
 */
export function databaseSnapshotFromProbe(
  config: Pick<DatabaseConfig, "name" | "reserve">,
  p: ProbeResult,
  managedUsers: ReadonlySet<string>,
  samples: readonly UsageSample[] = [],
  now = 0,
  windowMs = 0,
): DatabaseSnapshot {
  const others =
    p.visibility === "own-account-only"
      ? undefined
      : otherClients(p.connectionsByUser, managedUsers, samples, now, windowMs);
  const unmanaged = others?.unmanaged;
  const unattributed = others?.unattributed ?? [];
  const accounts: Record<string, { maxUserConnections: number }> = {};
  for (const user of [...managedUsers].sort()) {
    const limits = p.accountLimits.filter((a) => a.user === user && a.maxUserConnections > 0);
    if (limits.length > 0)
      accounts[user] = { maxUserConnections: Math.min(...limits.map((a) => a.maxUserConnections)) };
  }
  return {
    name: config.name,
    maxConnections: p.maxConnections,
    maxUserConnections: p.maxUserConnections,
    ...(unmanaged !== undefined ? { unmanaged } : {}),
    ...(unattributed.length > 0 ? { unattributed } : {}),
    accounts,
    ...(config.reserve ? { reserve: config.reserve } : {}),
  };
}
