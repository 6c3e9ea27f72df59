// What users look at when pooltuner does not (or may not) change things: update-mode off recommends through the
// status annotation, an event and metrics without touching the template; bad annotations give a Warning on that
// workload while the others are still reconciled; a database that stops answering changes nothing, says why, and
// the controller recovers by itself when it answers again.
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
  mergePatch,
  metricValue,
  poolOf,
  replicaSets,
  rolledOut,
  runController,
  seedApp,
  sleep,
  statusOf,
} from "./harness.js";

let c: Cluster;
let db: Database;
let ns: string;
let controller: RunningController;
let initialTemplate: unknown;

beforeAll(async () => {
  c = await cluster();
  // usable 100 - 5 - 1 = 94 for 4 plannable workloads of 12 processes each (bad-container cannot be planned, and
  // no-workers is not: its worker count is unknown).
  db = await database("ctl-signals", 100);
  await db.db.query("SELECT 1");
  ns = await createNamespace(c, "signals");
  await createApp(c, seedApp("good", ns, "main"));
  await createApp(c, seedApp("recommend-only", ns, "main", { annotations: { "pooltuner.io/update-mode": "off" } }));
  await createApp(c, seedApp("bad-workers", ns, "main", { annotations: { "pooltuner.io/workers": "four" } }));
  await createApp(c, seedApp("bad-weight", ns, "main", { annotations: { "pooltuner.io/weight": "-1" } }));
  await createApp(c, seedApp("bad-database", ns, "nope"));
  await createApp(c, seedApp("bad-container", ns, "main", { annotations: { "pooltuner.io/container": "sidecar" } }));
  // Gunicorn reading its workers from a config file: no count anywhere pooltuner can see. Not planned, never changed.
  const noWorkers = seedApp("no-workers", ns, "main", {
    env: [
      { name: "DB_POOL_SIZE", value: "2" },
      { name: "DB_MAX_OVERFLOW", value: "3" },
    ],
  });
  delete noWorkers.annotations?.["pooltuner.io/workers-env"];
  await createApp(c, noWorkers);
  for (const name of [
    "good",
    "recommend-only",
    "bad-workers",
    "bad-weight",
    "bad-database",
    "bad-container",
    "no-workers",
  ]) {
    await rolledOut(c, ns, name);
  }
  initialTemplate = (await getDeployment(c, ns, "recommend-only")).spec?.template;
  controller = await runController(c, {
    databases: [
      { name: "main", url: db.monitorUrl },
      { name: "other", url: db.monitorUrl },
    ],
    namespaces: [ns],
  });
});

afterAll(async () => {
  await controller?.stop();
  await db?.db.stop();
});

async function warning(name: string, reason: string, timeoutMs = 30_000) {
  return eventually2(
    `Warning ${reason} on ${name}`,
    async () => (await eventsFor(c, ns, name)).find((e) => e.type === "Warning" && e.reason === reason),
    timeoutMs,
  );
}

describe("signals", () => {
  it("reconciles the good workload although others are misconfigured", async () => {
    const d = await converged(c, ns, "good");
    // 2 + 3 (12 processes x 5 = 60 each) cannot stay; the controller lowered it.
    const p = poolOf(d);
    expect(p.poolSize + p.maxOverflow).toBeLessThan(5);
    expect((statusOf(d) as { applied: { from: unknown } }).applied.from).toEqual({ poolSize: 2, maxOverflow: 3 });
    expect((await eventsFor(c, ns, "good")).some((e) => e.reason === "Applied")).toBe(true);
  });

  it("puts a Warning on each misconfigured workload, naming the annotation, and leaves it unchanged", async () => {
    const cases: [string, string][] = [
      ["bad-workers", "pooltuner.io/workers=<a 4-character value, not shown>"],
      ["bad-weight", 'pooltuner.io/weight="-1"'],
      ["bad-database", 'pooltuner.io/database="nope": unknown database'],
      ["bad-container", 'no container named "sidecar"'],
      ["no-workers", "worker processes per container unknown"],
    ];
    for (const [name, text] of cases) {
      const e = await warning(name, "InvalidConfiguration");
      expect(e.message).toContain(text);
      const d = await getDeployment(c, ns, name);
      expect(poolOf(d)).toEqual({ poolSize: 2, maxOverflow: 3 });
      expect(statusOf(d)).toBeUndefined();
      expect((await replicaSets(c, ns, name)).length).toBe(1);
    }
    expect(
      await metricValue(controller, "pooltuner_workload_invalid", { workload: `kube:${ns}/Deployment/bad-workers` }),
    ).toBe(1);
    // The unknown worker count names the annotation that settles it.
    expect((await warning("no-workers", "InvalidConfiguration")).message).toMatch(
      /set pooltuner\.io\/workers .*\(or pooltuner\.io\/workers-env/,
    );
  });

  it("update-mode off: no template change, but status, event and metrics carry the recommendation", async () => {
    const d = await eventually2("status on recommend-only", async () => {
      const x = await getDeployment(c, ns, "recommend-only");
      return statusOf(x) ? x : undefined;
    });
    // The status annotation is metadata: the pod template, and so the pods, stay as they were.
    expect(d.spec?.template).toEqual(initialTemplate);
    expect((await replicaSets(c, ns, "recommend-only")).length).toBe(1);
    const s = statusOf(d) as { mode: string; pending: boolean; recommended: { poolSize: number; maxOverflow: number } };
    expect(s.mode).toBe("off");
    expect(s.pending).toBe(true);
    expect(s.recommended.poolSize + s.recommended.maxOverflow).toBeLessThan(5);
    const e = await eventually2("Recommended event", async () =>
      (await eventsFor(c, ns, "recommend-only")).find((x) => x.reason === "Recommended"),
    );
    expect(e.type).toBe("Normal");
    expect(e.message).toContain(`DB_POOL_SIZE=${s.recommended.poolSize}`);
    const id = `kube:${ns}/Deployment/recommend-only`;
    expect(await metricValue(controller, "pooltuner_workload_pending", { workload: id })).toBe(1);
    expect(await metricValue(controller, "pooltuner_workload_recommended_pool_size", { workload: id })).toBe(
      s.recommended.poolSize,
    );
    expect(await metricValue(controller, "pooltuner_workload_recommended_max_overflow", { workload: id })).toBe(
      s.recommended.maxOverflow,
    );
    // Still untouched a few polls later.
    await sleep(2_000);
    expect((await getDeployment(c, ns, "recommend-only")).spec?.template).toEqual(initialTemplate);
    expect((await replicaSets(c, ns, "recommend-only")).length).toBe(1);
  });

  it("changes nothing while the database does not answer, warns, and recovers by itself", async () => {
    await converged(c, ns, "good");
    const before = await getDeployment(c, ns, "good");
    // The server stops answering (the process is frozen: connections hang until the probe's timeout).
    process.kill(db.db.pid, "SIGSTOP");
    try {
      const w = await warning("good", "DatabaseUnreachable", 30_000);
      // A change that needs a new plan (twice the workers) while the database is known to be down.
      await c.apps.patchNamespacedDeployment(
        { name: "good", namespace: ns, body: { metadata: { annotations: { "pooltuner.io/workers": "8" } } } },
        mergePatch,
      );
      expect(w.message).toContain("database main cannot be probed");
      expect(w.message).not.toContain(db.monitorUrl.split("@")[0]?.split(":")[2] as string);
      expect(await metricValue(controller, "pooltuner_database_reachable", { database: "main" })).toBe(0);
      await sleep(2_000);
      const during = await getDeployment(c, ns, "good");
      expect(during.metadata?.annotations?.["pooltuner.io/workers"]).toBe("8");
      expect(during.spec?.template).toEqual(before.spec?.template);
      expect(during.metadata?.annotations?.["pooltuner.io/status"]).toBe(
        before.metadata?.annotations?.["pooltuner.io/status"],
      );
    } finally {
      process.kill(db.db.pid, "SIGCONT");
    }
    // Recovery: the probe answers again and the pending change is planned and applied.
    await eventually2(
      "database reachable again",
      async () =>
        (await metricValue(controller, "pooltuner_database_reachable", { database: "main" })) === 1 ? true : undefined,
      30_000,
    );
    const after = await eventually2("status reflects 8 workers", async () => {
      const x = await getDeployment(c, ns, "good");
      return (statusOf(x) as { plan?: { workers?: number } })?.plan?.workers === 8 ? x : undefined;
    });
    // (2 replicas + 1 surge) x 8 workers.
    expect((statusOf(after) as { plan: { processes: number } }).plan.processes).toBe(24);
    await converged(c, ns, "good");
  });
});
