// plan() time for 10, 1,000 and 10,000 workloads over 100 databases (target: 10,000 in < 200 ms).
// Inputs are random but seeded (same numbers every run): replicas, HPAs, percent and absolute surges,
// StatefulSets and compose services, container sizes, weights, shared accounts with limits, current settings.
// Each size: warm-up runs, then the median of timed runs. Prints numbers; asserts nothing.
import { performance } from "node:perf_hooks";
import {
  type DatabaseSnapshot,
  DEFAULT_POLICY,
  plan,
  type Rollout,
  type Snapshot,
  type WorkloadSnapshot,
} from "../src/core/index.js";

const DATABASES = 100;
const SIZES = [10, 1_000, 10_000];
const WARMUP = 3;
const RUNS = 9;

/** mulberry32: a small seeded PRNG, so every run plans the same snapshots. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function snapshot(workloads: number, seed: number): Snapshot {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const perDb = Math.max(1, Math.ceil(workloads / DATABASES));

  const databases: DatabaseSnapshot[] = Array.from({ length: DATABASES }, (_, d) => {
    const accounts: Record<string, { maxUserConnections: number; unmanaged?: number }> = {};
    for (let a = 0; a < 3; a++) {
      if (r() < 0.5) accounts[`app${a}`] = { maxUserConnections: int(perDb * 20, perDb * 100), unmanaged: int(0, 3) };
    }
    return {
      name: `db${String(d).padStart(3, "0")}`,
      // Sized so that most databases fit and a few are tight or infeasible.
      maxConnections: int(perDb * 25, perDb * 150),
      maxUserConnections: r() < 0.2 ? int(perDb * 30, perDb * 120) : 0,
      ...(r() < 0.8 ? { unmanaged: int(0, 20) } : {}),
      accounts,
    };
  });

  const list: WorkloadSnapshot[] = Array.from({ length: workloads }, (_, i) => {
    const kind = pick(["Deployment", "Deployment", "Deployment", "StatefulSet", "ComposeService"] as const);
    const rollout: Rollout =
      kind === "StatefulSet"
        ? { type: "Ordered" }
        : kind === "ComposeService"
          ? { type: "StopFirst" }
          : r() < 0.15
            ? { type: "Recreate" }
            : {
                type: "RollingUpdate",
                maxSurge:
                  r() < 0.6 ? { kind: "percent", value: pick([10, 25, 50, 100]) } : { kind: "int", value: int(0, 3) },
                maxUnavailable: { kind: "percent", value: 25 },
              };
    const replicas = int(1, 6);
    return {
      id: `w${String(i).padStart(6, "0")}`,
      kind,
      database: `db${String(i % DATABASES).padStart(3, "0")}`,
      ...(r() < 0.6 ? { account: `app${int(0, 2)}` } : {}),
      replicas,
      ...(kind === "Deployment" && r() < 0.4
        ? { hpa: { minReplicas: replicas, maxReplicas: replicas + int(0, 8) } }
        : {}),
      rollout,
      workers: int(1, 8),
      resources: {
        cpuMillis: pick([250, 500, 1000, 2000, 4000, 8000]),
        memoryBytes: pick([0.5, 1, 2, 4, 8]) * 2 ** 30,
      },
      weight: pick([1, 1, 1, 2, 0.5]),
      ...(r() < 0.8 ? { current: { poolSize: int(1, 5), maxOverflow: int(0, 10) } } : {}),
    };
  });
  return { databases, workloads: list };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

console.log(
  `plan() over ${DATABASES} databases: median of ${RUNS} runs after ${WARMUP} warm-up runs (Node ${process.version})`,
);
console.log("workloads  median ms  min ms  max ms  feasible dbs  findings");
for (const n of SIZES) {
  const snap = snapshot(n, 42 + n);
  for (let i = 0; i < WARMUP; i++) plan(snap, DEFAULT_POLICY);
  const times: number[] = [];
  let result = plan(snap, DEFAULT_POLICY);
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    result = plan(snap, DEFAULT_POLICY);
    times.push(performance.now() - t0);
  }
  const feasible = result.databases.filter((d) => d.feasible).length;
  console.log(
    [
      String(n).padStart(9),
      median(times).toFixed(2).padStart(10),
      Math.min(...times)
        .toFixed(2)
        .padStart(7),
      Math.max(...times)
        .toFixed(2)
        .padStart(7),
      `${feasible}/${result.databases.length}`.padStart(13),
      String(result.findings.length).padStart(9),
    ].join("  "),
  );
}
