// Restart limits across databases (issue 12) in the shared reconcile pass, as both daemons run it, against a real
// MariaDB: two databases (two configured names for the same server, so their budgets are equal and they differ only
// by the workloads on them) with a cap of 1 restart in progress: one at a time, the most over-budget first; the hourly limit holds an increase and never a decrease; a change window holds an
// increase until it opens (the wall clock injected). The observer, actuator and notices are this test's own.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Action,
  DEFAULT_DAMPING,
  DEFAULT_POLICY,
  type PoolSettings,
  parseChangeWindow,
} from "../../../src/core/index.js";
import { DatabaseMonitor } from "../../../src/runtime/database-monitor.js";
import { createLogger } from "../../../src/runtime/logger.js";
import { Metrics } from "../../../src/runtime/metrics.js";
import type { ObservedWorkload } from "../../../src/runtime/pass-types.js";
import { ReconcilePass } from "../../../src/runtime/reconcile-pass.js";
import { RestartCoordinator } from "../../../src/runtime/restart-coordinator.js";
import { connectRoot, type MariaDb, startMariaDb } from "../../support/mariadb.js";

const monitorAccount = { user: "pt_mon", password: `pw-${randomBytes(8).toString("hex")}` };
let db: MariaDb;
let root: Awaited<ReturnType<typeof connectRoot>>;

function workload(database: string, name: string, current: PoolSettings, extra: Partial<ObservedWorkload> = {}) {
  const id = `compose:${database}/${name}`;
  return {
    id,
    managed: true,
    snapshot: {
      id,
      kind: "ComposeService",
      database,
      account: name,
      replicas: 1,
      rollout: { type: "StopFirst" },
      workers: 4,
      current,
      resources: { cpuMillis: 2000, memoryBytes: 2 * 1024 ** 3 },
    },
    updateMode: "auto",
    rollingOut: false,
    drainsDuringRollout: false,
    errors: [],
    warnings: [],
    ...extra,
  } as ObservedWorkload;
}

/** One pass object over databases `a` and `b` (one daemon), with a shared coordinator and a mutable world. */
function daemon(o: { maxConcurrent: number; maxPerHour?: number; windows?: string[]; wall?: () => number }) {
  const url = `mysql://${monitorAccount.user}:${monitorAccount.password}@${db.host}:${db.port}/`;
  const monitor = new DatabaseMonitor(
    [
      { name: "a", url },
      { name: "b", url },
    ],
    { windowMs: 60_000, now: Date.now },
  );
  const world = new Map<string, ObservedWorkload[]>();
  const applied: Action[] = [];
  const queued: string[] = [];
  const metrics = new Metrics();
  const restarts = new RestartCoordinator({
    limits: { maxConcurrent: o.maxConcurrent, maxPerHour: o.maxPerHour ?? 0 },
    databases: ["a", "b"],
    enqueue: (d) => queued.push(d),
  });
  const windows = o.windows?.map((t) => {
    const w = parseChangeWindow(t);
    if ("error" in w) throw new Error(w.error);
    return w.window;
  });
  const pass = new ReconcilePass<ObservedWorkload>({
    monitor,
    observer: { observe: async (d) => world.get(d) ?? [] },
    actuator: {
      act: async (w, action) => {
        if (!action) return { kind: "unchanged" };
        applied.push(action);
        // The restart is in progress until the test says it is over.
        world.set(
          action.database,
          (world.get(action.database) ?? []).map((x) =>
            x.id === w.id && x.snapshot
              ? { ...x, rollingOut: true, snapshot: { ...x.snapshot, current: action.to } }
              : x,
          ),
        );
        return { kind: "applied", targets: [], how: "" };
      },
    },
    notices: { raise: async () => {}, settle: () => {} },
    policy: DEFAULT_POLICY,
    damping: { ...DEFAULT_DAMPING, cooldownMs: 0 },
    failureBackoffMs: 60_000,
    probeMaxAgeMs: 60_000,
    recheckMs: 1_000,
    metrics,
    log: createLogger({ level: "silent" }),
    now: Date.now,
    accountKey: "io.pooltuner.account label",
    restarts,
    ...(windows ? { changeWindows: () => windows } : {}),
    ...(o.wall ? { wallClock: o.wall } : {}),
  });
  const done = (database: string) =>
    world.set(
      database,
      (world.get(database) ?? []).map((x) => ({ ...x, rollingOut: false })),
    );
  const gauge = async (name: string, labels: Record<string, string>) =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) =>
      Object.entries(labels).every(([k, x]) => v.labels[k] === x),
    )?.value;
  return { monitor, world, pass, applied, queued, done, restarts, gauge };
}

beforeAll(async () => {
  // usable = 40 - reserve 2 - other clients (this test's root connection, 1) = 37 on each database name.
  db = await startMariaDb({ label: "restartlimits", maxConnections: 40 });
  root = await connectRoot(db.rootUrl);
  await root.query(`CREATE USER '${monitorAccount.user}'@'%' IDENTIFIED BY '${monitorAccount.password}'`);
  await root.query(`GRANT PROCESS ON *.* TO '${monitorAccount.user}'@'%'`);
});

afterAll(async () => {
  await root?.close();
  await db?.stop();
});

// One service of 1 container × 4 workers per database; the small row gives 1 + 2 (peak 12).
// On a: 2 services at 3+3 → peak 24 each, 48 > 37: 11 over. On b: 2 services at 5+5 → 40 each, 80: 43 over.
describe("restart limits in the shared pass", () => {
  it("cap 1: two databases needing decreases at once go one at a time, the more over-budget first", async () => {
    const d = daemon({ maxConcurrent: 1 });
    d.world.set("a", [
      workload("a", "x", { poolSize: 3, maxOverflow: 3 }),
      workload("a", "y", { poolSize: 3, maxOverflow: 3 }),
    ]);
    d.world.set("b", [
      workload("b", "x", { poolSize: 5, maxOverflow: 5 }),
      workload("b", "y", { poolSize: 5, maxOverflow: 5 }),
    ]);
    await d.monitor.poll("a");
    await d.monitor.poll("b");
    try {
      // a asks first: the slot is free, but b has not said what it wants yet: b is asked (queued), a waits.
      const a1 = await d.pass.run("a");
      expect(a1.report.deferred).toContainEqual({ workload: "compose:a/x", reason: "restart-cap" });
      expect(d.queued).toContain("b");
      expect(d.applied).toEqual([]);
      // b answers: it is 43 over against a's 11, so b goes.
      await d.pass.run("b");
      expect(d.applied.map((x) => x.database)).toEqual(["b"]);
      // a again: b's restart is in progress, a waits behind it.
      const a2 = await d.pass.run("a");
      expect(a2.report.deferred).toContainEqual({ workload: "compose:a/x", reason: "restart-cap" });
      expect(await d.gauge("pooltuner_restarts_deferred", { database: "a", reason: "restart-cap" })).toBe(1);
      expect(await d.gauge("pooltuner_restarts_in_progress", {})).toBe(1);
      // b's restart ends (a pass of b sees it no longer rolling out): the slot frees and a is asked again.
      d.done("b");
      d.queued.length = 0;
      await d.pass.run("b");
      expect(d.queued).toContain("a");
      // b's other service still needs its decrease: a (11 over) and b (now 40 + 12 - 37 = 15 over) compete again.
      expect(d.applied.map((x) => x.database)).toEqual(["b", "b"]);
      d.done("b");
      await d.pass.run("b");
      await d.pass.run("a");
      expect(d.applied.map((x) => x.database)).toEqual(["b", "b", "a"]);
      // Never two in progress at once: each apply came after the one before had ended.
    } finally {
      await d.monitor.close();
    }
  });

  it("the hourly limit holds an increase, never a decrease", async () => {
    const d = daemon({ maxConcurrent: 5, maxPerHour: 1 });
    d.world.set("a", [
      workload("a", "x", { poolSize: 5, maxOverflow: 5 }),
      workload("a", "y", { poolSize: 5, maxOverflow: 5 }),
    ]);
    d.world.set("b", [workload("b", "x", { poolSize: 1, maxOverflow: 0 })]);
    await d.monitor.poll("a");
    await d.monitor.poll("b");
    try {
      await d.pass.run("b"); // b asks a first (a round), the increase waits for it
      await d.pass.run("a"); // a's first decrease: the one restart of the hour
      d.done("a");
      await d.pass.run("a"); // a's second decrease: over the limit, goes anyway
      const b = await d.pass.run("b");
      expect(d.applied.map((x) => [x.database, x.change])).toEqual([
        ["a", "decrease"],
        ["a", "decrease"],
      ]);
      const held = b.report.deferred.find((x) => x.reason === "restart-rate");
      expect(held?.workload).toBe("compose:b/x");
      expect(held?.until).toBeGreaterThan(Date.now() + 59 * 60_000);
    } finally {
      await d.monitor.close();
    }
  });

  it("a change window holds an increase until it opens (wall clock injected); a decrease goes at once", async () => {
    let wall = Date.parse("2026-11-28T01:59:00Z"); // a Saturday, a minute before the window
    const d = daemon({ maxConcurrent: 5, windows: ["Sat 02:00-04:00"], wall: () => wall });
    d.world.set("a", [workload("a", "x", { poolSize: 1, maxOverflow: 0 })]);
    d.world.set("b", [
      workload("b", "x", { poolSize: 5, maxOverflow: 5 }),
      workload("b", "y", { poolSize: 5, maxOverflow: 5 }),
    ]);
    await d.monitor.poll("a");
    await d.monitor.poll("b");
    try {
      const before = Date.now();
      const held = await d.pass.run("a");
      const w = held.report.deferred.find((x) => x.reason === "change-window");
      expect(w?.workload).toBe("compose:a/x");
      // Due in a minute on the pass's own clock, and the pass asks to look again then.
      expect(w?.until).toBeGreaterThanOrEqual(before + 60_000 - 1_000);
      expect(w?.until).toBeLessThanOrEqual(Date.now() + 60_000);
      await d.pass.run("b");
      expect(d.applied.map((x) => [x.database, x.change])).toEqual([["b", "decrease"]]);
      wall = Date.parse("2026-11-28T02:00:00Z");
      await d.pass.run("a");
      expect(d.applied.map((x) => [x.database, x.change])).toEqual([
        ["b", "decrease"],
        ["a", "increase"],
      ]);
    } finally {
      await d.monitor.close();
    }
  });
});
