// Worked examples for the ways a plan could exceed the server (issue 8): each number is worked out by hand here.
import { describe, expect, it } from "vitest";
import {
  type Damping,
  type DatabaseSnapshot,
  DEFAULT_POLICY,
  decide,
  plan,
  podsPeak,
  type WorkloadSnapshot,
  type WorkloadState,
} from "../../src/core/index.js";

const SURGE = DEFAULT_POLICY.defaultMaxSurge;
const damping: Damping = { cooldownMs: 0, minGain: 1 };
const db = (over: Partial<DatabaseSnapshot> = {}): DatabaseSnapshot => ({
  name: "db",
  maxConnections: 20,
  unmanaged: 0,
  reserve: { absolute: 2, percent: 0 },
  ...over,
});
const w = (id: string, over: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot => ({
  id,
  kind: "Deployment",
  database: "db",
  replicas: 2,
  rollout: { type: "Recreate" },
  workers: 4,
  current: { poolSize: 1, maxOverflow: 2 },
  ...over,
});
const rolling = (maxSurge: number | string | undefined, maxUnavailable: number | string | undefined = 1) => {
  const v = (x: number | string) =>
    typeof x === "number"
      ? { kind: "int" as const, value: x }
      : { kind: "percent" as const, value: Number.parseInt(x, 10) };
  return {
    type: "RollingUpdate" as const,
    ...(maxSurge !== undefined ? { maxSurge: v(maxSurge) } : {}),
    ...(maxUnavailable !== undefined ? { maxUnavailable: v(maxUnavailable) } : {}),
  };
};
const old = new Map<string, WorkloadState>();

describe("scaled to zero and max-replicas", () => {
  it("plans a workload at replicas 0 without an HPA as 1 pod (it comes back)", () => {
    expect(podsPeak(w("a", { replicas: 0 }), SURGE)).toBe(1);
    // a: 0 replicas but planned at 1 pod x 3 workers = 3 processes; b: 4 processes; usable 18, table cap 10.
    // Filling: both at 2 (6 + 8 = 14), a to 3 (17), nothing more fits. Counting a at 0 processes gave b cap 4.
    const p = plan(
      { databases: [db()], workloads: [w("a", { replicas: 0, workers: 3 }), w("b", { replicas: 1 })] },
      {
        ...DEFAULT_POLICY,
        sizingTable: [
          { name: "one", cpuMillis: 1000, memoryBytes: 1024 ** 3, workers: 1, poolSize: 2, maxOverflow: 8 },
        ],
      },
    );
    const b = p.workloads.find((x) => x.id === "b");
    expect(b?.recommended?.cap).toBe(2);
    expect(p.workloads.find((x) => x.id === "a")?.recommended?.peak).toBe(3 * 3);
  });

  it("plans for max-replicas when higher than spec.replicas, and an HPA's maxReplicas wins over it", () => {
    expect(podsPeak(w("a", { replicas: 2, maxReplicas: 6 }), SURGE)).toBe(6);
    expect(podsPeak(w("a", { replicas: 7, maxReplicas: 6 }), SURGE)).toBe(7);
    expect(podsPeak(w("a", { replicas: 2, maxReplicas: 9, hpa: { minReplicas: 1, maxReplicas: 4 } }), SURGE)).toBe(4);
    // An HPA allowed to scale to zero, at zero now: its maxReplicas still counts.
    expect(podsPeak(w("a", { replicas: 0, hpa: { minReplicas: 0, maxReplicas: 3 } }), SURGE)).toBe(3);
  });
});

describe("surge", () => {
  it("caps an absolute maxSurge at the replica count (never more than 2 x R pods)", () => {
    expect(podsPeak(w("a", { replicas: 2, rollout: rolling(10) }), SURGE)).toBe(4);
    expect(podsPeak(w("a", { replicas: 3, rollout: rolling("250%") }), SURGE)).toBe(6);
    expect(podsPeak(w("a", { replicas: 3, rollout: rolling(1) }), SURGE)).toBe(4);
  });

  it("takes an unset maxSurge from the policy", () => {
    expect(podsPeak(w("a", { replicas: 4, rollout: rolling(undefined) }), SURGE)).toBe(5); // 25 % of 4
    expect(podsPeak(w("a", { replicas: 4, rollout: rolling(undefined) }), { kind: "int", value: 0 })).toBe(4);
    expect(podsPeak(w("a", { replicas: 4, rollout: rolling(undefined) }), { kind: "percent", value: 50 })).toBe(6);
  });

  it("refuses maxSurge 0 with maxUnavailable 0 (Kubernetes rejects it)", () => {
    expect(() =>
      plan({ databases: [db()], workloads: [w("a", { rollout: rolling(0, "0%") })] }, DEFAULT_POLICY),
    ).toThrow(/maxSurge and maxUnavailable cannot both be 0/);
    // An unset maxUnavailable is 25 %: fine with maxSurge 0.
    expect(() =>
      plan({ databases: [db()], workloads: [w("a", { rollout: rolling(0, undefined) })] }, DEFAULT_POLICY),
    ).not.toThrow();
  });
});

describe("unknown workers", () => {
  it("is neither planned nor changed, says so, and leaves the budget to the others", () => {
    const p = plan(
      {
        databases: [db()],
        workloads: [w("a", { workers: "unknown", current: { poolSize: 5, maxOverflow: 10 } }), w("b")],
      },
      DEFAULT_POLICY,
    );
    const a = p.workloads.find((x) => x.id === "a");
    expect(a?.recommended).toBeUndefined();
    expect(a?.change).toBe("none");
    expect(a?.processes).toBeNull();
    expect(p.findings.some((f) => f.kind === "unknown-workers" && f.severity === "error" && f.workload === "a")).toBe(
      true,
    );
    // b alone: 2 pods x 4 workers x 2 = 16 <= 18; its current 8 x 3 = 24 would not fit, so it is a decrease.
    expect(p.databases[0]?.currentPeak).toBe(24);
    const d = decide(p, old, 0, damping);
    expect(d.apply.map((x) => x.workload)).toEqual(["b"]);
  });
});

describe("no account against the global max_user_connections", () => {
  it("bounds each account-less workload by the global limit on its own", () => {
    // Server room 100 - 2 = 98; global limit 10; 8 processes: cap 1 (8 <= 10, 16 > 10).
    const p = plan(
      { databases: [db({ maxConnections: 100, maxUserConnections: 10 })], workloads: [w("a")] },
      DEFAULT_POLICY,
    );
    expect(p.workloads[0]?.recommended?.cap).toBe(1);
    expect(p.databases[0]?.currentSafe).toBe(false); // 8 x 3 = 24 > 10
    // 11 processes cannot fit 10 even at 1 each.
    const q = plan(
      {
        databases: [db({ maxConnections: 100, maxUserConnections: 10 })],
        workloads: [w("a", { replicas: 11, workers: 1 })],
      },
      DEFAULT_POLICY,
    );
    expect(q.feasible).toBe(false);
    expect(q.findings.find((f) => f.kind === "infeasible")?.message).toMatch(/account unknown/);
  });
});

describe("decide checks every bound an increase touches", () => {
  it("holds an increase that fits the server but not its account with the others' current settings", () => {
    // Account "app" limit 20. a: 4 processes at 1 (current), b: 4 processes running 3+1 = 16 (update-mode off).
    // The plan gives both cap 2 (16 <= 20); a's increase to 2 would make 8 + 16 = 24 > 20 now.
    const database = db({ maxConnections: 200, accounts: { app: { maxUserConnections: 20 } } });
    const a = w("a", { replicas: 1, account: "app", current: { poolSize: 1, maxOverflow: 0 } });
    const b = w("b", { replicas: 1, account: "app", current: { poolSize: 3, maxOverflow: 1 } });
    const p = plan({ databases: [database], workloads: [a, b] }, DEFAULT_POLICY);
    expect(p.workloads.find((x) => x.id === "a")?.change).toBe("increase");
    const states = new Map<string, WorkloadState>([["b", { updateMode: "off" }]]);
    const d = decide(p, states, 0, damping);
    expect(d.apply).toEqual([]);
    expect(d.deferred).toContainEqual({ workload: "a", reason: "would-exceed-now" });
  });

  it("holds an increase of an account-less workload that its old pods draining would push over the global limit", () => {
    // Global 16; 4 processes; plan cap 3 (12 <= 16); now 1+0 = 4; during the rollout 12 + 4 draining = 16 fits,
    // with 8 draining it is 20 > 16.
    const database = db({ maxConnections: 200, maxUserConnections: 16 });
    const a = w("a", { replicas: 1, current: { poolSize: 1, maxOverflow: 0 } });
    const p = plan({ databases: [database], workloads: [a] }, DEFAULT_POLICY);
    expect(p.workloads[0]?.recommended?.cap).toBe(3);
    expect(decide(p, new Map([["a", { updateMode: "auto", drainingPeak: 4 }]]), 0, damping).apply).toHaveLength(1);
    expect(decide(p, new Map([["a", { updateMode: "auto", drainingPeak: 8 }]]), 0, damping).deferred).toContainEqual({
      workload: "a",
      reason: "would-exceed-now",
    });
  });
});

describe("a workload whose account is unknown", () => {
  // The seed on compose, after the fix: 8 processes at 1+1 = 16; under load the probe sees 16 connections of a
  // user that no workload names.
  const loaded = (unattributed: number[], unmanaged: number) =>
    plan(
      {
        databases: [db({ unmanaged, unattributed })],
        workloads: [w("app", { current: { poolSize: 1, maxOverflow: 1 }, rollout: { type: "StopFirst" } })],
      },
      DEFAULT_POLICY,
    );

  it("is not shrunk again by its own connections (no ratchet)", () => {
    const p = loaded([16], 16);
    expect(p.databases[0]?.possiblyOwn).toBe(16);
    expect(p.findings.some((f) => f.kind === "unknown-account")).toBe(true);
    const d = decide(p, old, 0, damping);
    expect(d.apply).toEqual([]);
  });

  it("counts as possibly its own never more than other clients were counted at", () => {
    // Two account-less workloads, per-user maxima 9 and 8 over the window, but 10 other connections in total.
    const p = plan(
      {
        databases: [db({ maxConnections: 100, unmanaged: 10, unattributed: [9, 8] })],
        workloads: [w("a", { account: undefined }), w("b", { account: undefined })],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]?.possiblyOwn).toBe(10);
  });

  it("reports a held decrease once (not also as an increase whose gain is too small)", () => {
    const d = decide(loaded([4], 4), old, 0, damping);
    expect(d.deferred).toEqual([{ workload: "app", reason: "account-unknown" }]);
  });

  it("never gets another client's connections: increases use the conservative budget", () => {
    // Idle now, 4 connections of some user: 20 - 2 - 4 = 14 usable, 8 processes -> cap 1; it runs 1+1 = 16 > 14
    // but 16 <= 14 + 4 if those 4 are its own: the decrease is held, and no increase is planned.
    const p = loaded([4], 4);
    expect(p.workloads[0]?.recommended?.cap).toBe(1);
    const d = decide(p, old, 0, damping);
    expect(d.apply).toEqual([]);
    expect(d.deferred).toContainEqual({ workload: "app", reason: "account-unknown" });
  });

  it("is decreased when even its own connections cannot explain the excess", () => {
    // Lower max_connections to 16 with 4 others: usable 16 - 2 - 4 = 10 -> cap 1 (8); 16 > 10 + 4: decrease.
    const p = plan(
      {
        databases: [db({ maxConnections: 16, unmanaged: 4, unattributed: [4] })],
        workloads: [w("app", { current: { poolSize: 1, maxOverflow: 1 }, rollout: { type: "StopFirst" } })],
      },
      DEFAULT_POLICY,
    );
    expect(p.workloads[0]?.recommended?.cap).toBe(1);
    expect(decide(p, old, 0, damping).apply.map((a) => a.to)).toEqual([{ poolSize: 1, maxOverflow: 0 }]);
  });
});
