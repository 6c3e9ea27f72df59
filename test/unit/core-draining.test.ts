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
