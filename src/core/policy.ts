import { SEED_SIZING_TABLE, type SizingRow } from "./sizing-table.js";
import type { IntOrPercent, PoolSettings, Reserve } from "./snapshot.js";

/** Knobs of the planner. Shells read them from flags/config and pass them in; the core has no defaults hidden elsewhere. */
export interface Policy {
  readonly sizingTable: readonly SizingRow[];
  /** Headroom kept free on every server unless the database sets its own. */
  readonly reserve: Reserve;
  /** Assumed other clients when the probe cannot see them (no PROCESS privilege, or offline planning without a number). */
  readonly unseenUnmanaged: Reserve;
  /** Deployment maxSurge when the manifest does not say. */
  readonly defaultMaxSurge: IntOrPercent;
  /** What a process runs with when its env vars are unset: SQLAlchemy's QueuePool defaults. */
  readonly assumedCurrent: PoolSettings;
}

export const DEFAULT_POLICY: Policy = {
  sizingTable: SEED_SIZING_TABLE,
  reserve: { absolute: 2, percent: 5 },
  unseenUnmanaged: { absolute: 2, percent: 10 },
  defaultMaxSurge: { kind: "percent", value: 25 },
  assumedCurrent: { poolSize: 5, maxOverflow: 10 },
};

/** The larger of the absolute number and the percentage of max_connections, rounded up. */
export function reserveFor(reserve: Reserve, maxConnections: number): number {
  return Math.max(reserve.absolute, Math.ceil((reserve.percent * maxConnections) / 100));
}
