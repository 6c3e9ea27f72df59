// How a per-process cap becomes env values, as data: every application profile (src/sources/profiles.ts) reduces to
// one of two shapes, so the planner computes what to write and every shell writes exactly that.
//   pool-overflow: SQLAlchemy's pair. pool_size + max_overflow = cap, split with the sizing-table row's ratio.
//   single: one number is the whole cap (Gunicorn threads under Django, Hikari maximumPoolSize, ActiveRecord pool,
//     pg Pool max). Carried in PoolSettings as { poolSize: cap, maxOverflow: 0 } so damping, status and decide stay
//     one code path; only the env values and the words differ.
import { type SizingRow, splitCap } from "./sizing-table.js";
import type { CapWriting, PoolSettings } from "./snapshot.js";

/** The default: SQLAlchemy's pair under the default env names (the `pool-size-env`/`max-overflow-env` defaults). */
export const DEFAULT_WRITING: CapWriting = {
  kind: "pool-overflow",
  profile: "sqlalchemy",
  poolSizeEnv: "DB_POOL_SIZE",
  maxOverflowEnv: "DB_MAX_OVERFLOW",
};

export interface EnvSetting {
  readonly name: string;
  readonly value: string;
}

/** The env values that carry `settings` (a cap already split by splitCap) for this writing. */
export function envValues(writing: CapWriting, settings: PoolSettings): EnvSetting[] {
  if (writing.kind === "pool-overflow") {
    return [
      { name: writing.poolSizeEnv, value: String(settings.poolSize) },
      { name: writing.maxOverflowEnv, value: String(settings.maxOverflow) },
    ];
  }
  const cap = settings.poolSize + settings.maxOverflow;
  return [
    { name: writing.env, value: String(cap) },
    ...(writing.atMost ?? [])
      .filter((v) => v.name !== writing.env && v.current !== undefined && v.current > cap)
      .map((v) => ({ name: v.name, value: String(cap) })),
  ];
}

/** The cap the sizing table asks for, as this writing reads the row. */
export function tableCap(writing: CapWriting, row: SizingRow): number {
  const perProcess = row.poolSize + row.maxOverflow;
  return writing.kind === "single" && writing.tableCap === "container" ? perProcess * row.workers : perProcess;
}

/** Split a cap into settings: the row's ratio for the pair, the whole cap in one number otherwise. */
export function splitFor(writing: CapWriting, cap: number, row: PoolSettings): PoolSettings {
  return writing.kind === "single" ? { poolSize: cap, maxOverflow: 0 } : splitCap(cap, row);
}

/** What a process runs with when its env is unset. */
export function assumedSettings(writing: CapWriting, policyAssumed: PoolSettings): PoolSettings {
  return writing.kind === "single" ? { poolSize: writing.assumed, maxOverflow: 0 } : policyAssumed;
}

/** `pool_size+max_overflow 1+2` or `SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=6`, for messages. */
export function settingsText(writing: CapWriting, s: PoolSettings): string {
  return writing.kind === "pool-overflow"
    ? `${s.poolSize}+${s.maxOverflow}`
    : `${writing.env}=${s.poolSize + s.maxOverflow}`;
}

/** `pool_size+max_overflow 2+3 -> 1+1` or `RAILS_MAX_THREADS 5 -> 2`, for logs and events. */
export function changeText(writing: CapWriting, from: PoolSettings, to: PoolSettings): string {
  return writing.kind === "pool-overflow"
    ? `pool_size+max_overflow ${from.poolSize}+${from.maxOverflow} -> ${to.poolSize}+${to.maxOverflow}`
    : `${writing.env} ${from.poolSize + from.maxOverflow} -> ${to.poolSize + to.maxOverflow}`;
}

/** `NAME=v NAME2=w`, for plans and events. */
export function envText(env: readonly EnvSetting[]): string {
  return env.map((e) => `${e.name}=${e.value}`).join(" ");
}
