// Whose connections are whose, as the CLI, the controller and the compose daemon all map them (issue 8 item 7):
// `unattributed` lists, per user, the connections no managed workload is known to make; a workload whose workers
// are unknown is not planned, so its user is not managed unless a planned workload shares it.
import { describe, expect, it } from "vitest";
import { DEFAULT_DAMPING, DEFAULT_POLICY, decide, plan, type WorkloadSnapshot } from "../../src/core/index.js";
import type { ProbeResult } from "../../src/mysql/probe.js";
import { databaseSnapshotFromProbe } from "../../src/runtime/database-monitor.js";
import { managedUsers } from "../../src/runtime/managed-users.js";

const probe = (connectionsByUser: Record<string, number>, over: Partial<ProbeResult> = {}): ProbeResult => ({
  target: "monitor@db:3306",
  version: "10.11",
  account: { user: "monitor", host: "%" },
  maxConnections: 40,
  maxUserConnections: 0,
  threadsConnected: 1,
  maxUsedConnections: 20,
  connectionErrorsMaxConnections: 0,
  visibility: "processlist",
  connectionsByUser,
  accountLimits: [],
  accountLimitsReadable: true,
  warnings: [],
  ...over,
});

describe("unattributed connections in the probe mapping", () => {
  it("lists each unmanaged user once, at its own highest in the window, largest first; numbers only", () => {
    const samples: { at: number; byUser: Record<string, number> }[] = [
      { at: 1_000, byUser: { app: 9, cron: 1, report: 6 } },
      { at: 4_000, byUser: { app: 2, cron: 4, report: 2 } },
      { at: 9_000, byUser: { app: 20, cron: 0 } },
    ];
    const s = databaseSnapshotFromProbe(
      { name: "db" },
      probe({ app: 3, cron: 2, report: 1 }),
      new Set(["app"]),
      samples,
      10_000,
      8_000,
    );
    // In the window (after 2 000): cron at most 4, report at most 2; app is managed. The 1 000 sample is out.
    expect(s.unattributed).toEqual([4, 2]);
    // Each is part of `unmanaged` (the highest total in the window).
    expect(s.unmanaged).toBe(6);
    for (const n of s.unattributed ?? []) expect(n).toBeLessThanOrEqual(s.unmanaged ?? 0);
  });

  it("has none when other clients cannot be seen (no PROCESS) or there are none", () => {
    expect(
      databaseSnapshotFromProbe({ name: "db" }, probe({ app: 3 }, { visibility: "own-account-only" }), new Set())
        .unattributed,
    ).toBeUndefined();
    expect(databaseSnapshotFromProbe({ name: "db" }, probe({ app: 3 }), new Set(["app"])).unattributed).toBeUndefined();
  });
});

const w = (id: string, over: Partial<WorkloadSnapshot> = {}): WorkloadSnapshot => ({
  id,
  kind: "ComposeService",
  database: "db",
  replicas: 2,
  rollout: { type: "StopFirst" },
  workers: 4,
  current: { poolSize: 1, maxOverflow: 2 },
  ...over,
});

describe("the account loop, end to end through the mapping and the core", () => {
  it("a workload whose account is unknown is not shrunk by its own 24 connections (held: account-unknown)", () => {
    // The seed's app after a first decrease to 1+2 (2 x 4 x 3 = 24), under load, account unknown: all its 24
    // connections look like user `lineage`, which no managed workload is known to use.
    const app = w("compose:lineage/app");
    const db = databaseSnapshotFromProbe({ name: "db" }, probe({ lineage: 24 }), managedUsers([app]).users);
    expect(db).toMatchObject({ unmanaged: 24, unattributed: [24] });
    const p = plan({ databases: [db], workloads: [app] }, DEFAULT_POLICY);
    // Conservative budget: 40 - 2 - 24 = 14 → 1 per process; but the decrease is held, not applied.
    expect(p.databases[0]?.usable).toBe(14);
    const d = decide(p, new Map([[app.id, { updateMode: "auto" }]]), 0, DEFAULT_DAMPING);
    expect(d.apply).toEqual([]);
    expect(d.deferred).toContainEqual({ workload: app.id, reason: "account-unknown" });
    // Known account: the same connections are its own, nothing to decrease at all.
    const known = { ...app, account: "lineage" };
    const db2 = databaseSnapshotFromProbe({ name: "db" }, probe({ lineage: 24 }), managedUsers([known]).users);
    expect(db2).toMatchObject({ unmanaged: 0 });
    expect(plan({ databases: [db2], workloads: [known] }, DEFAULT_POLICY).workloads[0]?.change).toBe("none");
  });
});

describe("managed users", () => {
  it("a workload whose workers are unknown is not planned: its user's connections count as other clients'", () => {
    const planned = w("a", { account: "app" });
    const unknown = w("b", { account: "batch", workers: "unknown" });
    const m = managedUsers([planned, unknown]);
    expect([...m.users]).toEqual(["app"]);
    expect(m.warnings).toEqual([]);
    const db = databaseSnapshotFromProbe({ name: "db" }, probe({ app: 5, batch: 7 }), m.users);
    expect(db).toMatchObject({ unmanaged: 7, unattributed: [7] });
  });

  it("also when a planned workload shares its user: all of that user's connections count, with a warning", () => {
    const m = managedUsers([
      w("a", { account: "app" }),
      w("b", { account: "app", workers: "unknown" }),
      w("c", { account: "app" }),
      w("d", { workers: "unknown" }),
    ]);
    expect([...m.users]).toEqual([]);
    expect(m.warnings).toEqual([
      {
        workload: "b",
        message:
          "its worker count is unknown and it connects as database user app, as a, c do: their connections cannot be told apart, so all of that user's connections count as other clients' (a conservative budget) until its workers are known",
      },
    ]);
    // 12 connections of user app: b's may be among them, so all 12 count as used (none is left out of the budget).
    const db = databaseSnapshotFromProbe({ name: "db" }, probe({ app: 12 }), m.users);
    expect(db).toMatchObject({ unmanaged: 12 });
  });
});
