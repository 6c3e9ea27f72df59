// Application profiles: how a workload's processes are counted and how a per-process cap is written into its env.
// A profile is data; the core only sees its CapWriting (src/core/profile.ts). Built-in ones below; the daemons'
// configuration adds custom ones (`profiles:` in src/runtime/config.ts). Selected by the `profile` key.
//
//   sqlalchemy  Gunicorn/uvicorn workers x (pool_size + max_overflow)                  DB_POOL_SIZE + DB_MAX_OVERFLOW
//   django      Gunicorn workers x threads (CONN_MAX_AGE > 0: one connection a thread)  GUNICORN_THREADS
//   hikari      one JVM per container x maximumPoolSize            SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE (+MINIMUMIDLE)
//   rails       Puma workers (WEB_CONCURRENCY) x ActiveRecord pool                       RAILS_MAX_THREADS
//   node        PM2/cluster instances x pg Pool max / mysql2 connectionLimit             DB_POOL_MAX
//   celery      prefork concurrency x (pool_size + max_overflow)                        DB_POOL_SIZE + DB_MAX_OVERFLOW
import type { CapWriting } from "../core/index.js";

/** How processes per container are counted (src/sources/processes.ts). `workers`/`workers-env` win over all. */
export type ProcessCounting = "gunicorn" | "one" | "puma" | "pm2" | "celery";
export const PROCESS_COUNTINGS: readonly ProcessCounting[] = ["gunicorn", "one", "puma", "pm2", "celery"];

export type ProfileCap =
  /** SQLAlchemy's pair; names from `pool-size-env`/`max-overflow-env` (defaults DB_POOL_SIZE, DB_MAX_OVERFLOW). */
  | { readonly kind: "pool-overflow" }
  | {
      readonly kind: "single";
      /** Default env var of the cap; `cap-env` overrides it. */
      readonly env: string;
      /** What a process runs with when the env var is unset. */
      readonly assumed: number;
      /** Env vars that must not exceed the cap (lowered with it when set above it). */
      readonly atMost?: readonly string[];
      /** The sizing table's cap is per container (one process serves it all) instead of per process. */
      readonly tableCap?: "process" | "container";
      /** The cap is Gunicorn's thread count: read from `--threads`, refused when `--threads` is a literal. */
      readonly threads?: boolean;
    };

export interface Profile {
  readonly name: string;
  readonly processes: ProcessCounting;
  readonly cap: ProfileCap;
  /** One line for README-like output: what the cap is. */
  readonly what: string;
}

export const BUILTIN_PROFILES: readonly Profile[] = [
  {
    name: "sqlalchemy",
    processes: "gunicorn",
    cap: { kind: "pool-overflow" },
    what: "SQLAlchemy pool_size + max_overflow per process",
  },
  {
    name: "django",
    processes: "gunicorn",
    cap: { kind: "single", env: "GUNICORN_THREADS", assumed: 1, threads: true },
    what: "Gunicorn threads per process (persistent connections, CONN_MAX_AGE > 0: one per thread)",
  },
  {
    name: "hikari",
    processes: "one",
    cap: {
      kind: "single",
      env: "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE",
      assumed: 10,
      atMost: ["SPRING_DATASOURCE_HIKARI_MINIMUMIDLE"],
      tableCap: "container",
    },
    what: "HikariCP maximumPoolSize of the one JVM",
  },
  {
    name: "rails",
    processes: "puma",
    cap: { kind: "single", env: "RAILS_MAX_THREADS", assumed: 5 },
    what: "ActiveRecord pool per Puma worker",
  },
  {
    name: "node",
    processes: "pm2",
    cap: { kind: "single", env: "DB_POOL_MAX", assumed: 10 },
    what: "pg Pool max / mysql2 connectionLimit per process",
  },
  {
    name: "celery",
    processes: "celery",
    cap: { kind: "pool-overflow" },
    what: "SQLAlchemy pool_size + max_overflow per prefork child",
  },
];

/** Profiles by name: the built-ins plus the configuration's own. */
export type ProfileRegistry = ReadonlyMap<string, Profile>;

export const BUILTIN_REGISTRY: ProfileRegistry = new Map(BUILTIN_PROFILES.map((p) => [p.name, p]));

/** The built-ins plus custom ones; a custom profile may not take a built-in's name (checked by the config). */
export function profileRegistry(custom: readonly Profile[] = []): ProfileRegistry {
  return new Map([...BUILTIN_PROFILES, ...custom].map((p) => [p.name, p]));
}

/** The env var names a profile writes for a workload's options, in the order they are written. */
export function writtenEnvNames(
  profile: Profile,
  options: { poolSizeEnv: string; maxOverflowEnv: string; capEnv?: string },
): string[] {
  if (profile.cap.kind === "pool-overflow") return [options.poolSizeEnv, options.maxOverflowEnv];
  return [options.capEnv ?? profile.cap.env, ...(profile.cap.atMost ?? [])];
}

/** The core's CapWriting for a workload of this profile, with the current values of `atMost` variables. */
export function capWriting(
  profile: Profile,
  options: { poolSizeEnv: string; maxOverflowEnv: string },
  capEnv: string,
  atMostCurrent: ReadonlyMap<string, number>,
): CapWriting {
  if (profile.cap.kind === "pool-overflow") {
    return {
      kind: "pool-overflow",
      profile: profile.name,
      poolSizeEnv: options.poolSizeEnv,
      maxOverflowEnv: options.maxOverflowEnv,
    };
  }
  const atMost = (profile.cap.atMost ?? []).map((name) => {
    const current = atMostCurrent.get(name);
    return current !== undefined ? { name, current } : { name };
  });
  return {
    kind: "single",
    profile: profile.name,
    env: capEnv,
    assumed: profile.cap.assumed,
    ...(atMost.length > 0 ? { atMost } : {}),
    ...(profile.cap.tableCap === "container" ? { tableCap: "container" as const } : {}),
  };
}
