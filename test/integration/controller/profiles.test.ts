// Application profiles through the real controller: on one MariaDB, a Spring Boot (hikari) and a Rails workload get
// their own env values written and rolled out, the seed's SQLAlchemy app beside them gets exactly what it always got,
// and a Django app whose threads are fixed in its command is counted but never written (recommend only).
//
// Worked out by hand: max_connections 200, reserve max(2, 5 % = 10) = 10, a few other clients (the test's own
// connection): usable about 188. Containers of 2 CPU / 2 GiB pick the seed's small row (2 workers, 1+2).
//   seed app    2 replicas + 1 surge = 3 pods x 4 workers x (1+2)                = 36
//   hikari      3 pods x 1 JVM x (the row per container: 2 workers x 3 = 6)        = 18
//   rails       3 pods x 2 Puma workers (WEB_CONCURRENCY) x 3 (RAILS_MAX_THREADS)  = 18
//   django      3 pods x 2 workers x 3 threads (the row; it keeps its fixed 4)     = 18
// 90 fits: everyone gets the table's cap, and each profile writes it its own way.
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
  rolledOut,
  runController,
  runningPods,
  seedApp,
  statusOf,
  templateEnv,
} from "./harness.js";

let c: Cluster;
let db: Database;
let ns: string;
let controller: RunningController;

const HIKARI_MAX = "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE";
const HIKARI_IDLE = "SPRING_DATASOURCE_HIKARI_MINIMUMIDLE";
const surge = { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
const base = (profile: string) => ({
  "pooltuner.io/enabled": "true",
  "pooltuner.io/database": "main",
  "pooltuner.io/account": "app",
  "pooltuner.io/profile": profile,
});

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-profiles", 200);
  ns = await createNamespace(c, "profiles");
  await createApp(c, seedApp("seed", ns, "main"));
  await createApp(c, {
    name: "spring",
    namespace: ns,
    replicas: 2,
    annotations: base("hikari"),
    env: [
      { name: HIKARI_MAX, value: "20" },
      { name: HIKARI_IDLE, value: "20" },
    ],
    strategy: surge,
    limits: { cpu: "2", memory: "2Gi" },
  });
  await createApp(c, {
    name: "rails",
    namespace: ns,
    replicas: 2,
    annotations: base("rails"),
    env: [
      { name: "WEB_CONCURRENCY", value: "2" },
      { name: "RAILS_MAX_THREADS", value: "5" },
    ],
    strategy: surge,
    limits: { cpu: "2", memory: "2Gi" },
  });
  await createApp(c, {
    name: "django",
    namespace: ns,
    replicas: 2,
    annotations: base("django"),
    env: [{ name: "GUNICORN_CMD_ARGS", value: "--workers 2 --threads 4" }],
    strategy: surge,
    limits: { cpu: "2", memory: "2Gi" },
  });
  controller = await runController(c, { databases: [{ name: "main", url: db.monitorUrl }], namespaces: [ns] });
});

afterAll(async () => {
  await controller?.stop();
  await db?.db.stop();
});

describe("application profiles in the controller", () => {
  it("writes Hikari's maximumPoolSize (minimumIdle lowered with it) and rolls the JVMs", async () => {
    const d = await eventually2(
      "spring patched",
      async () => {
        const x = await getDeployment(c, ns, "spring");
        return templateEnv(x)[HIKARI_MAX] === "6" ? x : undefined;
      },
      120_000,
    );
    expect(templateEnv(d)).toEqual({ [HIKARI_MAX]: "6", [HIKARI_IDLE]: "6" });
    await rolledOut(c, ns, "spring", 120_000);
    const pods = await eventually2("spring's pods all run the new values", async () => {
      const ps = await runningPods(c, ns, "spring");
      const env = ps.map((p) => Object.fromEntries((p.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value])));
      return ps.length === 2 && env.every((e) => e[HIKARI_MAX] === "6" && e[HIKARI_IDLE] === "6") ? ps : undefined;
    });
    expect(pods).toHaveLength(2);
    const events = await eventsFor(c, ns, "spring");
    expect(events.map((e) => e.message).join("\n")).toContain(`${HIKARI_MAX} 20→6`);
    // What it ran with before, as the controller remembers it on the workload: 20 in one number.
    expect((statusOf(await getDeployment(c, ns, "spring")) as { applied?: { from: unknown } }).applied?.from).toEqual({
      poolSize: 20,
      maxOverflow: 0,
    });
  });

  it("writes Rails' RAILS_MAX_THREADS for 2 Puma workers per pod", async () => {
    const d = await eventually2(
      "rails patched",
      async () => {
        const x = await getDeployment(c, ns, "rails");
        return templateEnv(x).RAILS_MAX_THREADS === "3" ? x : undefined;
      },
      120_000,
    );
    expect(templateEnv(d)).toEqual({ WEB_CONCURRENCY: "2", RAILS_MAX_THREADS: "3" });
    await rolledOut(c, ns, "rails", 120_000);
  });

  it("gives the seed's SQLAlchemy app beside them exactly what it always got: 1+2", async () => {
    const d = await converged(c, ns, "seed", 120_000);
    expect(templateEnv(d)).toEqual({ GUNICORN_WORKERS: "4", DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "2" });
  });

  it("never writes a Django app whose threads are fixed in GUNICORN_CMD_ARGS, and says why", async () => {
    const events = await eventually2(
      "django's refusal event",
      async () => {
        const es = await eventsFor(c, ns, "django");
        return es.some((e) => e.type === "Warning" && e.message?.includes("not pooltuner's to set")) ? es : undefined;
      },
      120_000,
    );
    expect(events.length).toBeGreaterThan(0);
    // The others were written (above); this one's template is untouched: still generation 1, the env as created.
    const d = await getDeployment(c, ns, "django");
    expect(d.metadata?.generation).toBe(1);
    expect(templateEnv(d)).toEqual({ GUNICORN_CMD_ARGS: "--workers 2 --threads 4" });
  });
});
