// Worked examples of the catalog bound (a database inside the server with its own connection limit: PostgreSQL's
// datconnlimit), numbers worked out by hand. The property oracle (core-plan.oracle.property.test.ts) covers it over
// random snapshots; these name the edges.
import { describe, expect, it } from "vitest";
import {
  type DatabaseSnapshot,
  DEFAULT_POLICY,
  decide,
  InvalidSnapshotError,
  plan,
  type WorkloadSnapshot,
  type WorkloadState,
} from "../../src/core/index.js";

const server = (over: Partial<DatabaseSnapshot> = {}): DatabaseSnapshot => ({
  name: "pg",
  maxConnections: 100, // reserve max(2, 5) = 5: usable 95
  unmanaged: 0,
  ...over,
});
const svc = (id: string, over: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot => ({
  id,
  kind: "ComposeService",
  database: "pg",
  replicas: 2,
  rollout: { type: "StopFirst" },
  workers: 2, // 4 processes
  current: { poolSize: 1, maxOverflow: 2 },
  ...over,
});

describe("a database's CONNECTION LIMIT", () => {
  it("bounds the workloads connecting to it, whatever their role, less other clients there", () => {
    // shop: limit 14, 2 held by others: 12 for a (4 processes) and b (4 processes) together; c uses another database.
    const p = plan(
      {
        databases: [server({ catalogs: { shop: { maxConnections: 14, unmanaged: 2 } } })],
        workloads: [
          svc("a", { account: "web", catalog: "shop" }),
          svc("b", { account: "jobs", catalog: "shop" }),
          svc("c", { account: "web", catalog: "ledger" }),
        ],
      },
      DEFAULT_POLICY,
    );
    const cap = (id: string) => p.workloads.find((w) => w.id === id)?.recommended?.cap;
    // The seed table's default row caps at 3; 8 processes into 12: 1 each (8), then one of them gets 2 (12).
    expect((cap("a") ?? 0) * 4 + (cap("b") ?? 0) * 4).toBeLessThanOrEqual(12);
    expect([cap("a"), cap("b")].sort()).toEqual([1, 2]);
    expect(cap("c")).toBe(3); // not in shop: only the server (95) bounds it
    expect(p.databases[0]?.catalogs).toEqual([{ catalog: "shop", limit: 14, unmanaged: 2, usable: 12, allocated: 12 }]);
    expect(p.workloads.find((w) => w.id === "a")?.catalog).toBe("shop");
  });

  it("is infeasible with the numbers when 1 per process does not fit, and says which database", () => {
    const p = plan(
      {
        databases: [server({ catalogs: { shop: { maxConnections: 7 } } })],
        workloads: [svc("a", { catalog: "shop" }), svc("b", { catalog: "shop" })],
      },
      DEFAULT_POLICY,
    );
    expect(p.feasible).toBe(false);
    const f = p.findings.find((x) => x.kind === "infeasible");
    expect(f).toMatchObject({ scope: { kind: "catalog", catalog: "shop" }, needed: 8, available: 7, missing: 1 });
    expect(f?.message).toMatch(/^database shop \(its CONNECTION LIMIT\) on pg: needs 8 connections/);
  });

  it("a workload whose catalog is unknown, or a catalog without a limit, is not bound by it", () => {
    const p = plan(
      {
        databases: [server({ catalogs: { shop: { maxConnections: 4 } } })],
        workloads: [svc("a"), svc("b", { catalog: "open" })],
      },
      DEFAULT_POLICY,
    );
    expect(p.feasible).toBe(true);
    expect(p.databases[0]?.catalogs).toBeUndefined();
    expect(p.workloads.map((w) => w.recommended?.cap)).toEqual([3, 3]);
  });

  it("an increase that would overrun the catalog now (another workload still above its plan) waits", () => {
    // b runs 1+4 (20 at peak) and is off (not changed); a would go from 1 to 2 per process: 8 + 20 > 24.
    const snapshot = {
      databases: [server({ catalogs: { shop: { maxConnections: 24 } } })],
      workloads: [
        svc("a", { catalog: "shop", current: { poolSize: 1, maxOverflow: 0 } }),
        svc("b", { catalog: "shop", current: { poolSize: 1, maxOverflow: 4 } }),
      ],
    };
    const p = plan(snapshot, DEFAULT_POLICY);
    expect(p.workloads.find((w) => w.id === "a")?.change).toBe("increase");
    const states = new Map<string, WorkloadState>([
      ["a", { updateMode: "auto", increaseSeenAt: 0 }],
      ["b", { updateMode: "off" }],
    ]);
    const d = decide(p, states, 1e12, { cooldownMs: 0, minGain: 1 });
    expect(d.apply).toEqual([]);
    expect(d.deferred).toContainEqual(expect.objectContaining({ workload: "a", reason: "would-exceed-now" }));
  });

  it("a negative limit or count is bad input", () => {
    let error: unknown;
    try {
      plan(
        { databases: [server({ catalogs: { shop: { maxConnections: -1, unmanaged: 1.5 } } })], workloads: [] },
        DEFAULT_POLICY,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidSnapshotError);
    expect((error as InvalidSnapshotError).problems).toEqual([
      "database pg catalog shop: maxConnections must be >= 0",
      "database pg catalog shop: unmanaged must be an integer >= 0",
    ]);
  });
});
