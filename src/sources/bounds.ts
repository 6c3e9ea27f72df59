// The largest numbers an input may hold. Beyond them a value is a mistake or an attack (`1e300`, `999999999999`),
// never a workload: it is bad input (exit 2) with a finding that names the field and the bound, not a plan for
// 2e300 processes. One place, so every source (compose, manifests, annotations, env, flags) uses the same bounds.

/** Replicas of a Deployment/StatefulSet/compose service, or an HPA's bounds (a large cluster runs ~100k pods). */
export const MAX_REPLICAS = 100_000;
/** Worker processes in one container. */
export const MAX_WORKERS = 10_000;
/** max_connections: MySQL and MariaDB accept at most 100,000; so do counts of connections (reserve, other clients). */
export const MAX_CONNECTIONS = 100_000;
/** A current pool_size or max_overflow (-1 and 0 keep their SQLAlchemy meaning: unbounded). */
export const MAX_POOL_SETTING = MAX_CONNECTIONS;
/** A container's CPU limit, in millicores (10,000 cores). */
export const MAX_CPU_MILLIS = 10_000_000;
/** A container's memory limit, in bytes (1 PiB). */
export const MAX_MEMORY_BYTES = 2 ** 50;
