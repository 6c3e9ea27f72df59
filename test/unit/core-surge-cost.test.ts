// The surge advice (issue 14): what a RollingUpdate's surge pods cost each process, worked out by hand here.
import { describe, expect, it } from "vitest";
import { type DatabaseSnapshot, DEFAULT_POLICY, plan, type WorkloadSnapshot } from "../../src/core/index.js";
import { pairEnv } from "./pair-env.js";

const db = (maxConnections: number): DatabaseSnapshot => ({ name: "main", maxConnections, unmanaged: 0 });
const web = (over: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot => ({
  id: "kube:shop/Deployment/web",
  kind: "Deployment",
  database: "main",
  replicas: 2,
  // No maxSurge in the manifest: Kubernetes' (and the policy's) 25 %, rounded up.
  rollout: { type: "RollingUpdate" },
  workers: 4,
  current: { poolSize: 1, maxOverflow: 0 },
  resources: { cpuMillis: 2000, memoryBytes: 2 * 1024 ** 3 },
  ...over,
});

describe("surge-cost", () => {
  it("2 replicas + 25 % surge on max_connections 20: 1+0 with the surge, 1+1 without (the issue's numbers)", () => {
    // By hand: usable = 20 - max(2, 5 % of 20) - 0 = 18. With surge: ceil(0.25 x 2) = 1 pod, 3 pods x 4 workers = 12
    // processes; 12 x 2 = 24 > 18, so cap 1 (1+0). Without: 2 x 4 = 8 processes; 8 x 2 = 16 <= 18, 8 x 3 = 24 > 18:
    // cap 2, split 1+1 by the small row (1+2). The surge pod holds 4 workers x 1 = 4 connections.
    const p = plan({ databases: [db(20)], workloads: [web()] }, DEFAULT_POLICY);
    const w = p.workloads[0];
    expect(w?.recommended).toMatchObject({ poolSize: 1, maxOverflow: 0, cap: 1 });
    // Keeping the surge, 3 workers per pod: 3 x 3 = 9 processes; 9 x 2 = 18 <= 18: 1+1, peak 18.
    expect(w?.surgeCost).toEqual({
      pods: 1,
      connections: 4,
      withoutSurge: { poolSize: 1, maxOverflow: 1, cap: 2, peak: 16, env: pairEnv(1, 1) },
      fewerWorkers: { workers: 3, recommended: { poolSize: 1, maxOverflow: 1, cap: 2, peak: 18, env: pairEnv(1, 1) } },
    });
    const f = p.findings.find((x) => x.kind === "surge-cost");
    expect(f?.severity).toBe("warning");
    expect(f?.message).toBe(
      "kube:shop/Deployment/web: the rollout surge (1 pod) costs 4 connections of the budget: with maxSurge: 0, " +
        "maxUnavailable: 1 each process would get 1+1 instead of 1+0 (2x the connections per process); " +
        "one pod fewer serves during a rollout; or, keeping the surge, 3 workers per pod would get 1+1 each " +
        "(18 connections at peak instead of 12)",
    );
  });

  it("says nothing when the surge costs nothing: the table's cap fits with it", () => {
    // usable = 100 - 5 = 95; 12 processes x 3 (the small row's cap) = 36 fits.
    const p = plan({ databases: [db(100)], workloads: [web()] }, DEFAULT_POLICY);
    expect(p.workloads[0]?.recommended?.cap).toBe(3);
    expect(p.workloads[0]?.surgeCost).toBeUndefined();
    expect(p.findings.some((f) => f.kind === "surge-cost")).toBe(false);
  });

  it("says nothing when dropping the surge would not raise the cap either", () => {
    // usable 18. With the surge: (4 + 1) pods x 3 workers = 15 processes; 15 x 2 = 30 > 18: cap 1. Without it:
    // 4 x 3 = 12 processes; 12 x 2 = 24 > 18: still cap 1. Nothing to say.
    const p = plan(
      {
        databases: [db(20)],
        workloads: [
          web({ replicas: 4, workers: 3, rollout: { type: "RollingUpdate", maxSurge: { kind: "int", value: 1 } } }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.workloads[0]?.recommended?.cap).toBe(1);
    expect(p.workloads[0]?.surgeCost).toBeUndefined();
  });

  it("no surge, no advice: Recreate Deployments, StatefulSets and compose services", () => {
    for (const rollout of [{ type: "Recreate" }, { type: "Ordered" }, { type: "StopFirst" }] as const) {
      const p = plan({ databases: [db(20)], workloads: [web({ rollout })] }, DEFAULT_POLICY);
      expect(p.workloads[0]?.surgeCost).toBeUndefined();
    }
  });

  it("one replica: the price is that no pod serves while it is replaced", () => {
    // 1 replica: surge ceil(0.25) = 1, 2 pods x 4 = 8 processes on usable 10 - 2 = 8: cap 1. Without: 4 processes,
    // 4 x 2 = 8 fits: cap 2 (1+1).
    const p = plan({ databases: [db(10)], workloads: [web({ replicas: 1 })] }, DEFAULT_POLICY);
    expect(p.workloads[0]?.surgeCost?.withoutSurge).toMatchObject({ poolSize: 1, maxOverflow: 1 });
    // Keeping the surge: 2 pods x 3 workers = 6 processes x 2 = 12 > 8, x 1 only; 2 workers: 4 x 2 = 8 fits (1+1).
    expect(p.workloads[0]?.surgeCost?.fewerWorkers).toEqual({
      workers: 2,
      recommended: { poolSize: 1, maxOverflow: 1, cap: 2, peak: 8, env: pairEnv(1, 1) },
    });
    expect(p.findings.find((f) => f.kind === "surge-cost")?.message).toMatch(
      /no pod serves while its only pod is replaced; or, keeping the surge, 2 workers per pod would get 1\+1 each/,
    );
  });

  it("two surge pods, a cap of 2 that would be 3: the ratio and the plural", () => {
    // usable = 14 - 2 = 12. 4 replicas, maxSurge 50 % = 2 pods, 1 worker: 6 processes; 6 x 2 = 12 fits, 6 x 3 = 18
    // does not: cap 2 (1+1). Without the surge: 4 processes x 3 = 12: cap 3 (1+2), 1.5x. No fewer workers than 1.
    const p = plan(
      {
        databases: [db(14)],
        workloads: [
          web({
            replicas: 4,
            workers: 1,
            rollout: { type: "RollingUpdate", maxSurge: { kind: "percent", value: 50 } },
          }),
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.findings.find((f) => f.kind === "surge-cost")?.message).toBe(
      "kube:shop/Deployment/web: the rollout surge (2 pods) costs 4 connections of the budget: with maxSurge: 0, " +
        "maxUnavailable: 1 each process would get 1+2 instead of 1+1 (1.5x the connections per process); " +
        "one pod fewer serves during a rollout",
    );
  });

  it("the worker lever down to 1 worker per pod, said in the singular", () => {
    // usable = 12 - 2 = 10. 2 replicas + 1 surge pod, 2 workers: 6 processes; 6 x 2 = 12 > 10: cap 1.
    // Without the surge: 4 x 2 = 8 <= 10: cap 2. Keeping it with 1 worker: 3 processes x 3 = 9 <= 10: 1+2, peak 9.
    const p = plan({ databases: [db(12)], workloads: [web({ workers: 2 })] }, DEFAULT_POLICY);
    expect(p.findings.find((f) => f.kind === "surge-cost")?.message).toMatch(
      /\(1 pod\) costs 2 connections.*1\+1 instead of 1\+0 \(2x .*; or, keeping the surge, 1 worker per pod would get 1\+2 each \(9 connections at peak instead of 6\)$/,
    );
  });
});
