// Pause and freeze (issue 12) in the shared reconcile pass, as both daemons run it, against a real MariaDB: the
// global switch (`paused: true` in the config file) and a workload's own pause hold its decrease and raise `Paused` on
// every pass, while the others' changes go; a workload with a stuck rollout of pooltuner's freezes the database.
// The observer, actuator and notices are this test's own implementations of pooltuner's seams.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Action, DEFAULT_DAMPING, DEFAULT_POLICY, type PoolSettings } from "../../../src/core/index.js";
import { DatabaseMonitor } from "../../../src/runtime/database-monitor.js";
import { createLogger } from "../../../src/runtime/logger.js";
import { Metrics } from "../../../src/runtime/metrics.js";
import type { ObservedWorkload } from "../../../src/runtime/pass-types.js";
import { ReconcilePass } from "../../../src/runtime/reconcile-pass.js";
import { connectRoot, type MariaDb, startMariaDb } from "../../support/mariadb.js";

const monitorAccount = { user: "pt_mon", password: `pw-${randomBytes(8).toString("hex")}` };
let db: MariaDb;
let root: Awaited<ReturnType<typeof connectRoot>>;

function workload(name: string, current: PoolSettings, extra: Partial<ObservedWorkload> = {}): ObservedWorkload {
  const id = `compose:shop/${name}`;
  return {
    id,
    managed: true,
    snapshot: {
      id,
      kind: "ComposeService",
      database: "main",
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
  };
}

function passOver(ws: ObservedWorkload[], globalPause = false) {
  const monitor = new DatabaseMonitor(
    [{ name: "main", url: `mysql://${monitorAccount.user}:${monitorAccount.password}@${db.host}:${db.port}/` }],
    {
      windowMs: 60_000,
      now: Date.now,
    },
  );
  const applied: Action[] = [];
  const said: string[] = [];
  const metrics = new Metrics();
  const pass = new ReconcilePass<ObservedWorkload>({
    monitor,
    observer: { observe: async () => ws },
    actuator: {
      act: async (_w, action) => {
        if (!action) return { kind: "unchanged" };
        applied.push(action);
        return { kind: "applied", targets: [], how: "" };
      },
    },
    notices: {
      raise: async (w, reason, lines) => void said.push(`${w.id} ${reason}: ${lines.join("; ")}`),
      settle: () => {},
    },
    policy: DEFAULT_POLICY,
    damping: { ...DEFAULT_DAMPING, cooldownMs: 0 },
    failureBackoffMs: 60_000,
    probeMaxAgeMs: 60_000,
    recheckMs: 1_000,
    metrics,
    log: createLogger({ level: "silent" }),
    now: Date.now,
    accountKey: "io.pooltuner.account label",
    pausedRepeatMs: 5_000,
    ...(globalPause ? { paused: true } : {}),
  });
  const gauge = async (name: string, labels: Record<string, string>) =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) =>
      Object.entries(labels).every(([k, x]) => v.labels[k] === x),
    )?.value;
  return { monitor, pass, applied, said, gauge };
}

beforeAll(async () => {
  // usable = 40 - reserve 2 - other clients (this test's root connection, 1) = 37.
  db = await startMariaDb({ label: "pausepass", maxConnections: 40 });
  root = await connectRoot(db.rootUrl);
  await root.query(`CREATE USER '${monitorAccount.user}'@'%' IDENTIFIED BY '${monitorAccount.password}'`);
  await root.query(`GRANT PROCESS ON *.* TO '${monitorAccount.user}'@'%'`);
});

afterAll(async () => {
  await root?.close();
  await db?.stop();
});

// Two services of 1 container x 4 workers: 8 processes; 8 x 3 (the small row, 1 + 2) = 24 <= 37: each gets 1 + 2.
// "big" runs 2 + 3 (peak 20, a decrease); "small" runs 1 + 0 (peak 4, an increase to 1 + 2).
describe("pause in the shared pass", () => {
  it("the global switch holds everything, says Paused on every pass for the decrease only, and counts them", async () => {
    const big = workload("big", { poolSize: 2, maxOverflow: 3 });
    const small = workload("small", { poolSize: 1, maxOverflow: 0 });
    const p = passOver([big, small], true);
    await p.monitor.poll("main");
    const first = await p.pass.run("main");
    const second = await p.pass.run("main");
    await p.monitor.close();
    expect(p.applied).toEqual([]);
    expect(first.report.deferred).toEqual([
      { workload: big.id, reason: "paused" },
      { workload: small.id, reason: "paused" },
    ]);
    // The decrease is told on each pass (the notices repeat it), the increase never; the next pass is due soon.
    const paused = p.said.filter((l) => l.includes(" Paused: "));
    expect(paused).toHaveLength(2);
    expect(paused[0]).toBe(
      `${big.id} Paused: ${big.id}: paused (paused: true in the configuration file), but a decrease is needed: ` +
        "pool_size+max_overflow 2+3 -> 1+2 (peak 20 -> 12); nothing is changed until the pause is lifted",
    );
    expect(second.requeueAfter).toBe(5_000);
    expect(await p.gauge("pooltuner_workload_paused", { workload: big.id })).toBe(1);
    expect(await p.gauge("pooltuner_workload_paused", { workload: small.id })).toBe(1);
  });

  it("a service's own pause holds only its change: the other's increase goes", async () => {
    const big = workload(
      "big",
      { poolSize: 2, maxOverflow: 3 },
      { paused: "io.pooltuner.paused label of service big" },
    );
    const small = workload("small", { poolSize: 1, maxOverflow: 0 });
    const p = passOver([big, small]);
    await p.monitor.poll("main");
    const { report } = await p.pass.run("main");
    await p.monitor.close();
    // The increase fits beside big's current peak: 20 + 12 = 32 <= 37.
    expect(p.applied.map((a) => [a.workload, a.change, a.to])).toEqual([
      [small.id, "increase", { poolSize: 1, maxOverflow: 2 }],
    ]);
    expect(report.deferred).toEqual([{ workload: big.id, reason: "paused" }]);
    expect(p.said.filter((l) => l.includes(" Paused: "))[0]).toContain("(io.pooltuner.paused label of service big)");
    expect(await p.gauge("pooltuner_workload_paused", { workload: small.id })).toBe(0);
  });
});

describe("freeze in the shared pass", () => {
  it("a stuck rollout of pooltuner's holds every change on its database until it is over", async () => {
    const stuck = "the rollout pooltuner started (generation 2) is stuck";
    const big = workload("big", { poolSize: 2, maxOverflow: 3 });
    const small = workload("small", { poolSize: 1, maxOverflow: 2 }, { stuck });
    const frozen = passOver([big, small]);
    await frozen.monitor.poll("main");
    const { report, requeueAfter } = await frozen.pass.run("main");
    await frozen.monitor.close();
    expect(frozen.applied).toEqual([]);
    expect(report.deferred).toEqual([{ workload: big.id, reason: "database-frozen" }]);
    expect(requeueAfter).toBe(1_000);
    expect(await frozen.gauge("pooltuner_database_frozen", { database: "main" })).toBe(1);

    const free = passOver([big, workload("small", { poolSize: 1, maxOverflow: 2 })]);
    await free.monitor.poll("main");
    await free.pass.run("main");
    await free.monitor.close();
    expect(free.applied.map((a) => [a.workload, a.to])).toEqual([[big.id, { poolSize: 1, maxOverflow: 2 }]]);
    expect(await free.gauge("pooltuner_database_frozen", { database: "main" })).toBe(0);
  });
});
