// Tenancy (issue 10): a database serves only the namespaces its configuration entry lists, and weights up to its
// cap. A workload outside gets a Warning NotAllowed and is neither planned nor changed, while the allowed workload
// next to it converges as usual; a planned workload that shares its database user with a refused one is told that
// all of that user's connections count as other clients'.
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
  eventsFor,
  eventually2,
  getDeployment,
  poolOf,
  replicaSets,
  rolledOut,
  runController,
  seedApp,
  statusOf,
} from "./harness.js";

let c: Cluster;
let db: Database;
let controller: RunningController | undefined;
let teamA: string;
let teamB: string;

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-tenancy", 60);
  teamA = await createNamespace(c, "tenant-a");
  teamB = await createNamespace(c, "tenant-b");
  await createApp(c, seedApp("web", teamA, "main"));
  await createApp(
    c,
    seedApp("heavy", teamA, "main", { annotations: { "pooltuner.io/weight": "50", "pooltuner.io/account": "heavy" } }),
  );
  // Another team, watched by the controller but not listed by the database, on the same database user as web.
  await createApp(c, seedApp("intruder", teamB, "main", { annotations: { "pooltuner.io/weight": "1000000" } }));
  for (const [ns, name] of [
    [teamA, "web"],
    [teamA, "heavy"],
    [teamB, "intruder"],
  ] as const)
    await rolledOut(c, ns, name);
  controller = await runController(c, {
    databases: [{ name: "main", url: db.monitorUrl, namespaces: [teamA], maxWeight: 10 }],
    namespaces: [teamA, teamB],
  });
});

afterAll(async () => {
  await controller?.stop();
  await db?.db.stop();
});

async function warning(ns: string, name: string, reason: string) {
  return eventually2(`Warning ${reason} on ${ns}/${name}`, async () =>
    (await eventsFor(c, ns, name)).find((e) => e.type === "Warning" && e.reason === reason),
  );
}

describe("tenancy", () => {
  it("plans the allowed workload and leaves the ones outside the allow-list or above the weight cap alone", async () => {
    const web = await converged(c, teamA, "web");
    // 2 + 1 surge pods x 4 workers = 12 processes; 60 - reserve 3 = 57 usable: the small row's cap 3 fits (36).
    expect(poolOf(web)).toEqual({ poolSize: 1, maxOverflow: 2 });

    const intruder = await warning(teamB, "intruder", "NotAllowed");
    expect(intruder.message).toContain(`namespace ${teamB} may not use database main: database main serves ${teamA}`);
    const heavy = await warning(teamA, "heavy", "NotAllowed");
    expect(heavy.message).toContain('pooltuner.io/weight="50": above database main\'s cap of 10');

    await controller?.idle();
    for (const [ns, name] of [
      [teamB, "intruder"],
      [teamA, "heavy"],
    ] as const) {
      const d = await getDeployment(c, ns, name);
      expect(poolOf(d), name).toEqual({ poolSize: 2, maxOverflow: 3 });
      expect(statusOf(d), name).toBeUndefined();
      expect(d.metadata?.generation, name).toBe(1);
      expect((await replicaSets(c, ns, name)).length, name).toBe(1);
    }
    const planned = controller?.reconciler.lastReport.get("main")?.plan?.workloads.map((w) => w.id);
    expect(planned).toEqual([`kube:${teamA}/Deployment/web`]);
  });

  it("tells the planned workload that a refused one connects as its database user", async () => {
    const shared = await warning(teamA, "web", "AccountShared");
    expect(shared.message).toContain(`kube:${teamB}/Deployment/intruder (not allowed on this database)`);
  });
});
