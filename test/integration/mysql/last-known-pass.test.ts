// The shared reconcile pass started while the server is full (issue 14), against a real, full MariaDB: a fresh
// process (new monitor, new pass) cannot get in at all, yet plans the decrease from the limits an earlier process
// kept (the compose daemon's file; the controller's status annotation takes the same path through
// ObservedWorkload.lastKnownLimits), decreases only; with nothing kept it changes nothing and says why.
// The observer and actuator are this test's own implementations of pooltuner's seams, holding one workload.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql, { type Connection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Action,
  DEFAULT_DAMPING,
  DEFAULT_POLICY,
  type PoolSettings,
  type WorkloadSnapshot,
} from "../../../src/core/index.js";
import { DatabaseMonitor } from "../../../src/runtime/database-monitor.js";
import { LastKnownFile } from "../../../src/runtime/last-known.js";
import { createLogger } from "../../../src/runtime/logger.js";
import { Metrics } from "../../../src/runtime/metrics.js";
import type { ObservedWorkload } from "../../../src/runtime/pass-types.js";
import { ReconcilePass } from "../../../src/runtime/reconcile-pass.js";
import { connectRoot, type MariaDb, startMariaDb } from "../../support/mariadb.js";

const MAX = 10;
const monitorAccount = { user: "pt_mon", password: `pw-${randomBytes(8).toString("hex")}` };
const filler = { user: "pt_fill", password: `pw-${randomBytes(8).toString("hex")}` };

let db: MariaDb;
let root: Awaited<ReturnType<typeof connectRoot>>;
let dir: string;

/** A process's worth of pooltuner around one workload: monitor, pass, and what its actuator and notices saw. */
function processWith(current: PoolSettings, file: string | undefined) {
  const monitor = new DatabaseMonitor([{ name: "main", url: urlOf(monitorAccount) }], {
    windowMs: 60_000,
    now: Date.now,
  });
  const snapshot: WorkloadSnapshot = {
    id: "compose:shop/web",
    kind: "ComposeService",
    database: "main",
    account: "app",
    replicas: 1,
    rollout: { type: "StopFirst" },
    workers: 2,
    current,
    resources: { cpuMillis: 2000, memoryBytes: 2 * 1024 ** 3 },
  };
  const w: ObservedWorkload = {
    id: snapshot.id,
    managed: true,
    snapshot,
    updateMode: "auto",
    rollingOut: false,
    drainsDuringRollout: false,
    errors: [],
    warnings: [],
  };
  const applied: Action[] = [];
  const said: string[] = [];
  const pass = new ReconcilePass<ObservedWorkload>({
    monitor,
    observer: { observe: async () => [w] },
    actuator: {
      act: async (_w, action) => {
        if (!action) return { kind: "unchanged" };
        applied.push(action);
        return { kind: "applied", targets: [], how: "" };
      },
    },
    notices: { raise: async (_w, reason, lines) => void said.push(`${reason}: ${lines.join("; ")}`), settle: () => {} },
    policy: DEFAULT_POLICY,
    // No cooldown: an increase would be picked at once, so only the server-full gate can hold it.
    damping: { ...DEFAULT_DAMPING, cooldownMs: 0 },
    failureBackoffMs: 60_000,
    probeMaxAgeMs: 60_000,
    recheckMs: 1_000,
    metrics: new Metrics(),
    log: createLogger({ level: "silent" }),
    now: Date.now,
    accountKey: "io.pooltuner.account label",
    ...(file ? { lastKnown: new LastKnownFile(file) } : {}),
  });
  return { monitor, pass, applied, said };
}

const urlOf = (a: { user: string; password: string }) => `mysql://${a.user}:${a.password}@${db.host}:${db.port}/`;

const held: Connection[] = [];
async function fillServer(): Promise<Awaited<ReturnType<typeof connectRoot>>> {
  for (let i = 0; i < 3 * MAX; i++) {
    try {
      const c = await mysql.createConnection({ host: db.host, port: db.port, ...filler });
      c.on("error", () => {});
      held.push(c);
    } catch (err) {
      expect((err as { errno?: number }).errno).toBe(1040);
      break;
    }
  }
  return connectRoot(db.rootUrl); // the SUPER extra slot: now nobody gets in
}
async function freeServer(extra: Awaited<ReturnType<typeof connectRoot>>): Promise<void> {
  await extra.close();
  await Promise.all(held.splice(0).map((c) => c.end().catch(() => c.destroy())));
}

beforeAll(async () => {
  db = await startMariaDb({ label: "lastknown", maxConnections: MAX });
  root = await connectRoot(db.rootUrl);
  await root.query(`CREATE USER '${monitorAccount.user}'@'%' IDENTIFIED BY '${monitorAccount.password}'`);
  await root.query(`GRANT PROCESS ON *.* TO '${monitorAccount.user}'@'%'`);
  await root.query(`CREATE USER '${filler.user}'@'%' IDENTIFIED BY '${filler.password}'`);
  dir = await mkdtemp(join(tmpdir(), "pooltuner-lastknown-"));
});

afterAll(async () => {
  await root?.close();
  await db?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a fresh process while the server is full", () => {
  it("plans the decrease from the limits an earlier process kept, decreases only", async () => {
    const file = join(dir, ".pooltuner", "last-limits.json");
    // The earlier process: the server answers. usable = 10 - 2 (reserve) - 1 (root, another client) = 7.
    const earlier = processWith({ poolSize: 1, maxOverflow: 2 }, file);
    await earlier.monitor.poll("main");
    const first = await earlier.pass.run("main");
    await earlier.monitor.close();
    expect(first.report.outcome).toBe("planned");
    const kept = JSON.parse(await readFile(file, "utf8")) as { databases: Record<string, unknown> };
    expect(kept.databases.main).toMatchObject({ maxConnections: 10, usable: 7 });

    // Someone puts 2 + 3 back; the server fills up, its extra slot too; pooltuner restarts.
    const extra = await fillServer();
    try {
      const fresh = processWith({ poolSize: 2, maxOverflow: 3 }, file);
      await fresh.monitor.poll("main");
      const st = fresh.monitor.status("main");
      expect(st?.ok === false && st.kind).toBe("server-full");
      const { report } = await fresh.pass.run("main");
      expect(report.decreasesOnly).toBe(true);
      expect(report.lastKnown).toMatchObject({ maxConnections: 10, usable: 7, from: `file ${file}` });
      // By hand: 1 replica x 2 workers = 2 processes; the small row's cap 3 fits (6 <= 7): 1 + 2.
      expect(fresh.applied.map((a) => [a.change, a.to])).toEqual([["decrease", { poolSize: 1, maxOverflow: 2 }]]);
      expect(fresh.said.join("\n")).toMatch(
        /DatabaseFull: .*last known limits \(max_connections 10, budget 7.*stale\)/,
      );
      await fresh.monitor.close();
    } finally {
      await freeServer(extra);
    }
  });

  it("never plans an increase from them", async () => {
    const file = join(dir, "increase", "last-limits.json");
    await new LastKnownFile(file).remember({ database: "main", maxConnections: 10, usable: 7, at: Date.now() });
    const extra = await fillServer();
    try {
      // 1 + 0 runs; the kept budget would allow 1 + 2: an increase, which a full server must not get.
      const fresh = processWith({ poolSize: 1, maxOverflow: 0 }, file);
      await fresh.monitor.poll("main");
      const { report } = await fresh.pass.run("main");
      expect(report.decreasesOnly).toBe(true);
      expect(report.plan?.workloads[0]?.change).toBe("increase");
      expect(fresh.applied).toEqual([]);
      expect(report.deferred).toContainEqual({ workload: "compose:shop/web", reason: "database-full" });
      await fresh.monitor.close();
    } finally {
      await freeServer(extra);
    }
  });

  it("with nothing kept, changes nothing and says why", async () => {
    const extra = await fillServer();
    try {
      const fresh = processWith({ poolSize: 2, maxOverflow: 3 }, join(dir, "none", "last-limits.json"));
      await fresh.monitor.poll("main");
      const { report } = await fresh.pass.run("main");
      expect(report.outcome).toBe("unreachable");
      expect(report.skipped).toMatch(/^server-full: .*no limits known from an earlier run/);
      expect(fresh.applied).toEqual([]);
      expect(fresh.said.join("\n")).toMatch(/DatabaseUnreachable: .*nothing is changed until it answers/);
      await fresh.monitor.close();
    } finally {
      await freeServer(extra);
    }
  });
});
