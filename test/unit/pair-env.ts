// The env values SQLAlchemy's pair is written as under the default names, spelled out (not computed by src/core).
export const pairEnv = (poolSize: number, maxOverflow: number) => [
  { name: "DB_POOL_SIZE", value: String(poolSize) },
  { name: "DB_MAX_OVERFLOW", value: String(maxOverflow) },
];
