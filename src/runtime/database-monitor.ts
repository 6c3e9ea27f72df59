// Polls every configured database with the probe and keeps what the planner needs:
// the live limits, and other clients' connections smoothed over a window (a brief dip must not
// inflate the budget). Shells ask it for a DatabaseSnapshot; an unreachable database yields none,
// so nothing is planned or changed for it until it answers again.
import { type DatabaseSnapshot, smoothedUnmanaged } from "../core/index.js";
import { ProbeError } from "../mysql/errors.js";
import { type ProbeResult, probe as realProbe } from "../mysql/probe.js";
import { addressOf, type DatabaseAddress } from "../sources/account.js";
import type { DatabaseConfig } from "./config.js";

export type DatabaseStatus =
  | { readonly ok: true; readonly at: number; readonly probe: ProbeResult }
  | { readonly ok: false; readonly at: number; readonly kind: string; readonly message: string };

export interface MonitorOptions {
  readonly windowMs: number;
  readonly now: () => number;
  readonly probe?: (url: string) => Promise<ProbeResult>;
}

interface Tracked {
  readonly config: DatabaseConfig;
  status?: DatabaseStatus;
  /** Raw connections per user over the window; unmanaged is derived per plan from the managed users. */
  samples: { at: number; byUser: Record<string, number> }[];
}

export class DatabaseMonitor {
  private readonly tracked = new Map<string, Tracked>();
  private readonly probeFn: (url: string) => Promise<ProbeResult>;

  constructor(
    databases: readonly DatabaseConfig[],
    private readonly options: MonitorOptions,
  ) {
    for (const config of databases) this.tracked.set(config.name, { config, samples: [] });
    this.probeFn = options.probe ?? ((url) => realProbe(url));
  }

  names(): string[] {
    return [...this.tracked.keys()].sort();
  }

  status(name: string): DatabaseStatus | undefined {
    return this.tracked.get(name)?.status;
  }

  /** host:port of the database as configured, to tell which database URL in a workload's env points at it. */
  address(name: string): DatabaseAddress | undefined {
    const t = this.tracked.get(name);
    return t ? addressOf(t.config.url) : undefined;
  }

  /**
   * Probe one database now. Returns true when what the planner sees may have changed
   * (limits, reachability, or other clients' usage).
   */
  async poll(name: string): Promise<boolean> {
    const t = this.tracked.get(name);
    if (!t) return false;
    const before = t.status;
    const at = this.options.now();
    try {
      const p = await this.probeFn(t.config.url);
      t.status = { ok: true, at, probe: p };
      t.samples.push({ at, byUser: p.connectionsByUser });
      t.samples = t.samples.filter((s) => s.at > at - this.options.windowMs);
    } catch (err) {
      const kind = err instanceof ProbeError ? err.kind : "error";
      const message = err instanceof Error ? err.message : String(err);
      t.status = { ok: false, at, kind, message };
    }
    const now = t.status;
    if (!before || before.ok !== now.ok) return true;
    if (!before.ok || !now.ok) return false;
    const a = before.probe;
    const b = now.probe;
    return (
      a.maxConnections !== b.maxConnections ||
      a.maxUserConnections !== b.maxUserConnections ||
      JSON.stringify(a.connectionsByUser) !== JSON.stringify(b.connectionsByUser) ||
      JSON.stringify(a.accountLimits) !== JSON.stringify(b.accountLimits)
    );
  }

  /**
   * The database as the planner should see it, given which users the managed workloads connect as.
   * Undefined when the database has never answered or does not answer now.
   */
  snapshot(name: string, managedUsers: ReadonlySet<string>): DatabaseSnapshot | undefined {
    const t = this.tracked.get(name);
    if (!t?.status?.ok) return undefined;
    return databaseSnapshotFromProbe(
      t.config,
      t.status.probe,
      managedUsers,
      t.samples,
      this.options.now(),
      this.options.windowMs,
    );
  }
}

/**
 * Map a probe to the planner's view. Other clients = every user that no managed workload connects as
 * (the probe's own connection is already excluded), at their highest over the window; `unattributed` lists them
 * per user. Without PROCESS they cannot be seen: `unmanaged` stays undefined and the planner assumes a number and
 * warns. `managedUsers` comes from managedUsers() (managed-users.ts).
 */
export function databaseSnapshotFromProbe(
  config: Pick<DatabaseConfig, "name" | "reserve">,
  p: ProbeResult,
  managedUsers: ReadonlySet<string>,
  samples: readonly { at: number; byUser: Record<string, number> }[] = [],
  now = 0,
  windowMs = 0,
): DatabaseSnapshot {
  const unmanagedOf = (byUser: Record<string, number>): number =>
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
    // An account is user@host; a user that several host patterns match gets the tightest of their limits.
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
  samples: readonly { at: number; byUser: Record<string, number> }[],
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
