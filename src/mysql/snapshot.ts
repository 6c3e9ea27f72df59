// A MySQL/MariaDB probe as the planner sees it. MySQL-specific because accounts are user@host: a user that several
// host patterns match gets the tightest of their MAX_USER_CONNECTIONS.
import { type DatabaseSnapshot, smoothedUnmanaged } from "../core/index.js";
import type { DatabaseConfig } from "../runtime/config.js";
import type { UsageSample } from "../runtime/database-probe.js";
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
  const unmanagedOf = (byUser: Readonly<Record<string, number>>): number =>
    Object.entries(byUser).reduce((n, [user, count]) => (managedUsers.has(user) ? n : n + count), 0);
  const smoothed = smoothedUnmanaged(
    samples.map((s) => ({ at: s.at, value: unmanagedOf(s.byUser) })),
    now,
    windowMs,
  );
  const unmanaged =
    p.visibility === "own-account-only" ? undefined : Math.max(smoothed ?? 0, unmanagedOf(p.connectionsByUser));
  // The same users, one entry each at their own highest over the same window: which part of `unmanaged` a workload
  // whose account is unknown could hold itself (the core then holds decreases those connections could explain).
  const unattributed =
    unmanaged === undefined ? [] : unattributedCounts(p.connectionsByUser, samples, managedUsers, now, windowMs);
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

/** Per unmanaged user, the highest count now or in a sample of the window; numbers only, largest first. */
function unattributedCounts(
  current: Readonly<Record<string, number>>,
  samples: readonly UsageSample[],
  managedUsers: ReadonlySet<string>,
  now: number,
  windowMs: number,
): number[] {
  const highest = new Map<string, number>();
  const add = (byUser: Readonly<Record<string, number>>) => {
    for (const [user, count] of Object.entries(byUser)) {
      if (!managedUsers.has(user) && count > 0) highest.set(user, Math.max(highest.get(user) ?? 0, count));
    }
  };
  add(current);
  for (const s of samples) if (s.at > now - windowMs && s.at <= now) add(s.byUser);
  return [...highest.values()].sort((a, b) => b - a);
}
