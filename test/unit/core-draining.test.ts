import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY, drainingPeak, plan, type WorkloadSnapshot } from "../../src/core/index.js";

const web = (over: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot => ({
  id: "web",
  kind: "Deployment",
  database: "db",
  replicas: 3,
  rollout: { type: "RollingUpdate" },
  workers: 4,
  weight: 1,
  current: { poolSize: 2, maxOverflow: 3 },
  ...over,
});
const planned = (w: WorkloadSnapshot) =>
  plan({ databases: [{ name: "db", maxConnections: 1000 }], workloads: [w] }, DEFAULT_POLICY).workloads[0];

describe("drainingPeak", () => {
  it("is every planned pod's processes at the current cap while a rolling update drains", () => {
    const p = planned(web({ hpa: { minReplicas: 2, maxReplicas: 5 } }));
    // worked out by hand: HPA max 5 pods × 4 workers × (2 + 3)
    expect(p && drainingPeak(p, true)).toBe(100);
  });
  it("is 0 when old pods are gone before new ones start", () => {
    const p = planned(web());
    expect(p && drainingPeak(p, false)).toBe(0);
  });
  it("is 0 for unbounded current settings and for unknown workers", () => {
    const unbounded = planned(web({ current: { poolSize: 0, maxOverflow: 3 } }));
    expect(unbounded && drainingPeak(unbounded, true)).toBe(0);
    const unknown = planned(web({ workers: "unknown" }));
    expect(unknown && drainingPeak(unknown, true)).toBe(0);
  });
});

describe("lingering old pods (preStop) in the peak", () => {
  const linger = (over: Partial<WorkloadSnapshot> = {}) =>
    web({ replicas: 2, current: { poolSize: 1, maxOverflow: 0 }, ...over });
  it("2 replicas, 25 % surge: 3 pods without lingering, 4 with (every old pod beside every new one)", () => {
    // worked out by hand: ceil(25 % of 2) = 1 surge pod; lingering: max(2 + 1, 2 × 2) = 4 pods
    expect(planned(linger())?.podsPeak).toBe(3);
    expect(planned(linger({ rollout: { type: "RollingUpdate", oldPodsLinger: true } }))?.podsPeak).toBe(4);
  });
  it("maxSurge 0 does not help lingering pods: still 2R, and no surge advice", () => {
    const p = plan(
      {
        databases: [{ name: "db", maxConnections: 20, reserve: { absolute: 2, percent: 0 } }],
        workloads: [linger({ rollout: { type: "RollingUpdate", oldPodsLinger: true } })],
      },
      DEFAULT_POLICY,
    );
    expect(p.workloads[0]?.podsPeak).toBe(4);
    expect(p.workloads[0]?.surgeCost).toBeUndefined();
    const noSurge = linger({
      rollout: { type: "RollingUpdate", oldPodsLinger: true, maxSurge: { kind: "int", value: 0 } },
    });
    expect(planned(noSurge)?.podsPeak).toBe(4);
  });
  it("100 % surge already covers them: 2R either way", () => {
    const full = { kind: "percent", value: 100 } as const;
    expect(planned(linger({ rollout: { type: "RollingUpdate", maxSurge: full, oldPodsLinger: true } }))?.podsPeak).toBe(
      4,
    );
  });
});
