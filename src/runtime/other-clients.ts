// Other clients' connections as the planner sees them, from per-user counts, whatever the engine: every user that no
// managed workload connects as, at their highest over the smoothing window. Both drivers' snapshot mappings use it,
// so MySQL and PostgreSQL cannot disagree on whose connections are whose.
import { smoothedUnmanaged } from "../core/index.js";
import type { UsageSample } from "./database-probe.js";

/**
 * `unmanaged`: other clients now or smoothed over the window, whichever is higher; `unattributed`: the same users
 * one entry each at their own highest (numbers only, largest first) — which part of `unmanaged` a workload whose
 * account is unknown could hold itself.
 */
export function otherClients(
  current: Readonly<Record<string, number>>,
  managedUsers: ReadonlySet<string>,
  samples: readonly UsageSample[] = [],
  now = 0,
  windowMs = 0,
): { readonly unmanaged: number; readonly unattributed: number[] } {
  const unmanagedOf = (byUser: Readonly<Record<string, number>>): number =>
    Object.entries(byUser).reduce((n, [user, count]) => (managedUsers.has(user) ? n : n + count), 0);
  const smoothed = smoothedUnmanaged(
    samples.map((s) => ({ at: s.at, value: unmanagedOf(s.byUser) })),
    now,
    windowMs,
  );
  const highest = new Map<string, number>();
  const add = (byUser: Readonly<Record<string, number>>) => {
    for (const [user, count] of Object.entries(byUser)) {
      if (!managedUsers.has(user) && count > 0) highest.set(user, Math.max(highest.get(user) ?? 0, count));
    }
  };
  add(current);
  for (const s of samples) if (s.at > now - windowMs && s.at <= now) add(s.byUser);
  return {
    unmanaged: Math.max(smoothed ?? 0, unmanagedOf(current)),
    unattributed: [...highest.values()].sort((a, b) => b - a),
  };
}
