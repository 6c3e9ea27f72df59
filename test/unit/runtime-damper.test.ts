import { describe, expect, it } from "vitest";
import { type Action, DEFAULT_POLICY, plan, type WorkloadPlan } from "../../src/core/index.js";
import { Damper } from "../../src/runtime/damper.js";

// 2 replicas × 4 workers at 1+0 on a server with room: the planner recommends more (an increase).
const increase = (): WorkloadPlan => {
  const p = plan(
    {
      databases: [{ name: "db", maxConnections: 100, unmanaged: 0 }],
      workloads: [
        {
          id: "web",
          kind: "ComposeService",
          database: "db",
          replicas: 2,
          rollout: { type: "StopFirst" },
          workers: 4,
          weight: 1,
          current: { poolSize: 1, maxOverflow: 0 },
        },
      ],
    },
    DEFAULT_POLICY,
  ).workloads[0] as WorkloadPlan;
  expect(p.change).toBe("increase");
  return p;
};
const action = (poolSize: number, maxOverflow: number): Action => ({
  workload: "web",
  database: "db",
  change: "decrease",
  from: { poolSize: 2, maxOverflow: 3 },
  to: { poolSize, maxOverflow },
  env: [
    { name: "DB_POOL_SIZE", value: String(poolSize) },
    { name: "DB_MAX_OVERFLOW", value: String(maxOverflow) },
  ],
});

describe("Damper", () => {
  it("remembers when an increase was first seen, until it is applied or goes away", () => {
    const d = new Damper(1_000);
    const p = increase();
    expect(d.increaseSeenAt(p, 100)).toBe(100);
    expect(d.increaseSeenAt(p, 900)).toBe(100);
    d.applied({ ...action(1, 1), workload: "web" });
    expect(d.increaseSeenAt(p, 950)).toBe(950);
    expect(d.increaseSeenAt({ ...p, change: "none" }, 960)).toBeUndefined();
    expect(d.increaseSeenAt(p, 970)).toBe(970);
  });

  it("holds the same failed change for the backoff, not another one", () => {
    const d = new Damper(1_000);
    d.failed(action(1, 1), 5_000);
    expect(d.failedUntil(action(1, 1), 5_500)).toBe(6_000);
    expect(d.failedUntil(action(1, 0), 5_500)).toBeUndefined();
    expect(d.failedUntil(action(1, 1), 6_000)).toBeUndefined();
    d.failed(action(1, 1), 7_000);
    d.applied(action(1, 1));
    expect(d.failedUntil(action(1, 1), 7_100)).toBeUndefined();
  });
});
