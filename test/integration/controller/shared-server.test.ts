// Issue 13: a controller restart causes zero writes, also when several configured databases live on one server (one
// MariaDB holding many applications' schemas, as in bench/controller.ts). Each database's probe sees the other
// databases' probes as connections of another client; the restarted controller opens its probes 8 at a time, so
// its first readings saw fewer of them than its predecessor did, planned with room that is not there and wrote
// (27 writes after a restart in the bench). 20 databases on one private MariaDB, one workload on the first of
// them, sized so that one connection more in its budget changes its plan.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import {
  type Cluster,
  cluster,
  converged,
  createApp,
  createNamespace,
  type Database,
  database,
  eventually2,
  getDeployment,
  poolOf,
  runController,
  seedApp,
  statusOf,
} from "./harness.js";

const DATABASES = 20;
const names = Array.from({ length: DATABASES }, (_, i) => `db-${String(i).padStart(2, "0")}`);
const WORKLOAD_DB = names[0] as string; // probed in the first 8 of a round (names in order)
// max_connections 58, reserve max(2, 5 % = 3) = 3, other clients 19 sibling probes + the test's root connection:
// usable 58 - 3 - 20 = 35. The workload: 2 replicas + 1 surge pod x 4 workers = 12 processes, 2 connections each
// (24); 3 each would need 36, one more than there is.
const MAX_CONNECTIONS = 58;
const USABLE = MAX_CONNECTIONS - 3 - (DATABASES - 1 + 1);

let c: Cluster;
let db: Database;
let ns: string;
const running: RunningController[] = [];

async function start(extra: Partial<Parameters<typeof runController>[1]> = {}) {
  const ctl = await runController(c, {
    databases: names.map((name) => ({ name, url: db.monitorUrl })),
    namespaces: [ns],
    ...extra,
  });
  running.push(ctl);
  return ctl;
}

async function reconcilesOf(ctl: RunningController, database: string): Promise<number> {
  const m = await ctl.metrics.registry.getSingleMetric("pooltuner_reconciles_total")?.get();
  return (m?.values ?? []).filter((v) => v.labels.database === database).reduce((n, v) => n + v.value, 0);
}

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-shared", MAX_CONNECTIONS);
  await db.db.query("SELECT 1"); // the root connection: one other client, open for the whole test
  ns = await createNamespace(c, "shared");
  await createApp(c, seedApp("api", ns, WORKLOAD_DB));
});

afterAll(async () => {
  for (const r of running) await r.stop();
  await db?.db.stop();
});

describe("several databases on one server", () => {
  it("a restarted controller writes nothing", async () => {
    const first = await start();
    const settled = await eventually2("api at 1 + 1 per process", async () => {
      const d = await getDeployment(c, ns, "api");
      const p = poolOf(d);
      return p.poolSize + p.maxOverflow === 2 ? d : undefined;
    });
    await converged(c, ns, "api");
    // The plan it settled on is the one the arithmetic above says: at the edge of its budget.
    const plan = (statusOf(settled) as { plan?: { usable?: number; allocated?: number } }).plan;
    expect(plan?.usable).toBe(USABLE);
    expect(plan?.allocated).toBe(24);
    await first.idle();
    await first.stop();
    const rows = await db.db.query<Array<{ n: number }>>(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'monitor'",
    );
    expect(Number(rows[0]?.n)).toBe(0); // its probes are gone: the second starts as a restarted process does

    const before = await getDeployment(c, ns, "api");
    // A resync every 2 s: passes keep running with every probe connected, not only the first from first readings.
    const second = await start({ resyncMs: 2_000 });
    await eventually2("second controller planned the database three times", async () =>
      second.reconciler.lastReport.get(WORKLOAD_DB)?.outcome === "planned" &&
      (await reconcilesOf(second, WORKLOAD_DB)) >= 3
        ? true
        : undefined,
    );
    await second.idle();
    expect(second.writes()).toBe(0);
    const after = await getDeployment(c, ns, "api");
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    await second.stop();
  });
});
