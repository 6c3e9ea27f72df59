// A controller started in the middle of the incident (issue 14): the server is full, the SUPER extra slot taken too,
// so its probe cannot get in at all. With the limits an earlier run recorded in the workload's status annotation it
// still applies the decrease that restores safety, with the default 15 s poll interval, within seconds; with nothing
// recorded it changes nothing and says why. The server is a private MariaDB filled by this test's own connections.
import { randomBytes } from "node:crypto";
import mysql, { type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import { connectRoot } from "../../support/mariadb.js";
import {
  type Cluster,
  cluster,
  converged,
  createApp,
  createNamespace,
  type Database,
  database,
  eventsFor,
  eventually2,
  getDeployment,
  poolOf,
  rolledOut,
  runController,
  seedApp,
  statusOf,
} from "./harness.js";

const MAX = 20;
const DEFAULT_POLL_MS = 15_000;
const filler = { user: "fill", password: randomBytes(8).toString("hex") };

let c: Cluster;
let db: Database;
const running: RunningController[] = [];
const held: Connection[] = [];
let extraSlot: Awaited<ReturnType<typeof connectRoot>> | undefined;

async function start(namespace: string, pollIntervalMs: number): Promise<RunningController> {
  const ctl = await runController(c, {
    databases: [{ name: "main", url: db.monitorUrl }],
    namespaces: [namespace],
    pollIntervalMs,
  });
  running.push(ctl);
  return ctl;
}

/** Every slot taken: ordinary ones by `fill`, then the one MariaDB keeps for SUPER by root. Nobody gets in. */
async function fillServer(): Promise<void> {
  // Connections closed by a stopped controller or by the previous test (its fillers and the root connection in the
  // SUPER slot) go away asynchronously on the server: every one must be gone first, or the root connection below
  // finds the extra slot still taken (CI once failed here with "Too many connections").
  await eventually2("no client connection left but the harness's own", async () => {
    const rows = await db.db.query<{ n: number }[]>(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST " +
        "WHERE ID <> CONNECTION_ID() AND USER IN ('monitor', 'fill', 'root')",
    );
    return Number(rows[0]?.n) === 0 ? true : undefined;
  });
  for (let i = 0; i < 3 * MAX; i++) {
    try {
      const conn = await mysql.createConnection({ host: db.db.host, port: db.db.port, ...filler });
      conn.on("error", () => {});
      held.push(conn);
    } catch (err) {
      expect((err as { errno?: number }).errno).toBe(1040);
      break;
    }
  }
  extraSlot = await connectRoot(db.db.rootUrl);
  const refused = await connectRoot(db.db.rootUrl).then(
    async (x) => {
      await x.close();
      return undefined;
    },
    (e: unknown) => e as { errno?: number },
  );
  expect(refused?.errno).toBe(1040);
}

async function freeServer(): Promise<void> {
  await extraSlot?.close();
  extraSlot = undefined;
  await Promise.all(held.splice(0).map((x) => x.end().catch(() => x.destroy())));
}

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-full", MAX);
  await db.db.query(`CREATE USER '${filler.user}'@'%' IDENTIFIED BY '${filler.password}'`);
});

afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  await freeServer();
});

afterAll(async () => {
  await db?.db.stop();
});

describe("started while the server is full", () => {
  it("plans the decrease from the status annotation of an earlier run and patches it long before one poll interval", async () => {
    const ns = await createNamespace(c, "full-known");
    // 2 replicas + maxSurge 1 = 3 pods x 4 workers = 12 processes. usable = 20 - 2 (reserve) - 1 (the harness's
    // root connection) = 17: 12 x 2 = 24 does not fit, 12 x 1 does: 1 + 0 per process.
    await createApp(c, seedApp("web", ns, "main"));
    const first = await start(ns, 1_000);
    await converged(c, ns, "web");
    expect(poolOf(await getDeployment(c, ns, "web"))).toEqual({ poolSize: 1, maxOverflow: 0 });
    // The surge advice: without the surge pod, 2 x 4 = 8 processes; 8 x 2 = 16 <= 17: 1 + 1 (twice per process).
    const advice = await eventually2("a SurgeCost event", async () =>
      (await eventsFor(c, ns, "web")).find((e) => e.reason === "SurgeCost"),
    );
    expect(advice.type).toBe("Normal");
    expect(advice.message).toMatch(/maxSurge: 0, maxUnavailable: 1 each process would get 1\+1 instead of 1\+0/);
    await first.idle();
    const surge = (statusOf(await getDeployment(c, ns, "web")) as { surge?: { withoutSurge: unknown } }).surge;
    expect(surge?.withoutSurge).toEqual({ poolSize: 1, maxOverflow: 1 });
    await first.stop();

    // Someone redeploys the old settings, 2 + 3: 12 x 5 = 60 possible connections against 20.
    const current = await getDeployment(c, ns, "web");
    const web = current.spec?.template.spec?.containers[0];
    if (web)
      web.env = (web.env ?? []).map((e) =>
        e.name === "DB_POOL_SIZE" ? { ...e, value: "2" } : e.name === "DB_MAX_OVERFLOW" ? { ...e, value: "3" } : e,
      );
    await c.apps.replaceNamespacedDeployment({ name: "web", namespace: ns, body: current });
    expect(poolOf(await getDeployment(c, ns, "web"))).toEqual({ poolSize: 2, maxOverflow: 3 });
    await rolledOut(c, ns, "web");
    const recorded = statusOf(await getDeployment(c, ns, "web")) as { plan: { maxConnections: number } };
    expect(recorded.plan.maxConnections).toBe(MAX);

    // The incident: every slot is taken. Then pooltuner is (re)started, with the default poll interval.
    await fillServer();
    const startedAt = Date.now();
    const second = await start(ns, DEFAULT_POLL_MS);
    const patched = await eventually2(
      "the decrease patched while the server is full",
      async () => {
        const d = await getDeployment(c, ns, "web");
        const p = poolOf(d);
        return p.poolSize === 1 && p.maxOverflow === 0 ? d : undefined;
      },
      DEFAULT_POLL_MS,
    );
    const tookMs = Date.now() - startedAt;
    console.log(`server full, controller started: decrease patched after ${tookMs} ms (poll interval 15 s)`);
    // Generous on a busy 2-core machine; the point is that it did not wait for a poll interval.
    expect(tookMs).toBeLessThan(DEFAULT_POLL_MS);
    expect(patched.metadata?.generation).toBeGreaterThan(0);
    const report = second.reconciler.lastReport.get("main");
    expect(report?.decreasesOnly).toBe(true);
    expect(report?.lastKnown?.maxConnections).toBe(MAX);

    // It says so, where people look: a Warning that the limits are last known and stale.
    const full = await eventually2("a DatabaseFull event", async () =>
      (await eventsFor(c, ns, "web")).find((e) => e.reason === "DatabaseFull"),
    );
    expect(full.message).toMatch(/last known limits \(max_connections 20, budget 17.*stale\), decreases only/);
  });

  it("without limits recorded by an earlier run, it changes nothing and says why", async () => {
    const ns = await createNamespace(c, "full-unknown");
    await createApp(c, seedApp("web", ns, "main"));
    await rolledOut(c, ns, "web");
    const before = await getDeployment(c, ns, "web");
    await fillServer();
    const ctl = await start(ns, DEFAULT_POLL_MS);
    const warning = await eventually2("a DatabaseUnreachable event", async () =>
      (await eventsFor(c, ns, "web")).find((e) => e.reason === "DatabaseUnreachable"),
    );
    expect(warning.type).toBe("Warning");
    expect(warning.message).toMatch(/server-full.*no limits known from an earlier run.*nothing is changed/);
    await ctl.idle();
    expect(ctl.reconciler.lastReport.get("main")?.outcome).toBe("unreachable");
    // The pass that raised the event is the one that would have patched: the Deployment is as it was.
    const after = await getDeployment(c, ns, "web");
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(poolOf(after)).toEqual({ poolSize: 2, maxOverflow: 3 });
  });
});
