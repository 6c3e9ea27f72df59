// The compose daemon against the real Engine and a real MariaDB: plan from labels and env, apply by recreating,
// persist for the next `up`, react to scale-ups and to max_connections changes, do nothing after a restart.
// The containers are light (`sleep`) with the env and labels compose would give the example app; the load test
// runs the real app.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ComposeDaemon } from "../../../src/docker/daemon.js";
import { parseEnvFile } from "../../../src/sources/dotenv.js";
import {
  type CapturedLog,
  captureLogger,
  cleanupRun,
  composeContainer,
  containerEnv,
  daemonOptions,
  eventually,
  newRun,
  projectContainers,
  startTestDatabase,
  type TestDatabase,
  testDocker,
} from "./support.js";

const docker = testDocker();
const run = newRun();
let database: TestDatabase;
let workingDir: string;

const LABELS = {
  "io.pooltuner.enabled": "true",
  "io.pooltuner.database": "lineage",
  "io.pooltuner.pool-size-env": "LINEAGE_DB_POOL_SIZE",
  "io.pooltuner.max-overflow-env": "LINEAGE_DB_MAX_OVERFLOW",
  "io.pooltuner.workers-env": "GUNICORN_WORKERS",
};

beforeAll(async () => {
  database = await startTestDatabase("compose-daemon", 20);
  workingDir = await mkdtemp(join(tmpdir(), "pooltuner-compose-project-"));
});
afterAll(async () => {
  await cleanupRun(docker, run);
  await database?.db.stop();
  await rm(workingDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await database.db.query("SET GLOBAL max_connections = 20");
});

/** The seed's service: `replicas` containers of 4 workers at pool 2 + overflow 3. */
async function seedService(project: string, replicas: number, env: Record<string, string> = {}) {
  for (let i = 1; i <= replicas; i++) await appContainer(project, i, env);
}

function appContainer(project: string, index: number, env: Record<string, string> = {}, labels = LABELS) {
  return composeContainer(docker, {
    run,
    project,
    service: "app",
    index,
    workingDir: join(workingDir, project),
    labels,
    env: {
      GUNICORN_WORKERS: "4",
      LINEAGE_DB_POOL_SIZE: "2",
      LINEAGE_DB_MAX_OVERFLOW: "3",
      DATABASE_URL: database.appUrl,
      ...env,
    },
  });
}

async function poolOf(name: string): Promise<string> {
  const env = await containerEnv(docker, name);
  return `${env.get("LINEAGE_DB_POOL_SIZE")}+${env.get("LINEAGE_DB_MAX_OVERFLOW")}`;
}

function daemon(project: string, log: CapturedLog, over = {}) {
  return new ComposeDaemon(
    daemonOptions(docker, database, log.logger, {
      projects: [project],
      persist: { dir: ".pooltuner", pathMap: [] },
      ...over,
    }),
  );
}

describe("pooltuner compose", () => {
  it("applies a decrease to every container, persists it for compose, and a restart recreates nothing", async () => {
    const project = `dm${run}a`;
    await seedService(project, 2);
    const before = await projectContainers(docker, project);
    const log = captureLogger();

    const [report] = await daemon(project, log).once();
    const plan = report?.plan;
    const db = plan?.databases[0];
    const w = plan?.workloads[0];
    // 2 containers x 4 workers x (2 + 3) = 40 against max_connections 20: the seed's 1040s.
    expect(w?.current.peak).toBe(40);
    expect(db?.limit).toBe(20);
    expect(w?.recommended).toMatchObject({ poolSize: 1, maxOverflow: 1, peak: 16 });
    expect(w?.recommended?.peak ?? 99).toBeLessThanOrEqual(db?.usable ?? 0);
    expect(report?.applied).toEqual([
      { workload: `compose:${project}/app`, change: "decrease", containers: [`${project}-app-1`, `${project}-app-2`] },
    ]);

    const after = await projectContainers(docker, project);
    expect(after.map((c) => c.name)).toEqual(before.map((c) => c.name));
    expect(after.map((c) => c.id)).not.toEqual(expect.arrayContaining(before.map((c) => c.id)));
    expect(await poolOf(`${project}-app-1`)).toBe("1+1");
    expect(await poolOf(`${project}-app-2`)).toBe("1+1");

    // Persisted where the compose file's env_file entry reads it.
    const envFile = await readFile(join(workingDir, project, ".pooltuner", "app.env"), "utf8");
    expect(Object.fromEntries(parseEnvFile(envFile).vars)).toEqual({
      LINEAGE_DB_POOL_SIZE: "1",
      LINEAGE_DB_MAX_OVERFLOW: "1",
    });

    // A new daemon (a restart) reads the applied values from the containers: nothing to do.
    const again = await daemon(project, captureLogger()).once();
    expect(again[0]?.applied).toEqual([]);
    expect(again[0]?.plan?.workloads[0]?.change).toBe("none");
    expect((await projectContainers(docker, project)).map((c) => c.id)).toEqual(after.map((c) => c.id));
    // No secret in the logs: neither the monitoring password nor the app's (it sits in the containers' env).
    expect(log.text()).not.toContain(database.monitorUrl.split(":")[2]?.split("@")[0]);
    expect(log.text()).not.toContain(database.appPassword);
    expect(log.text()).toContain(`applied compose:${project}/app: decrease pool_size+max_overflow 2+3 -> 1+1`);
  });

  it("lowers the values when max_connections drops at runtime, and raises them back only after the cooldown", async () => {
    const project = `dm${run}b`;
    await seedService(project, 2, { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "1" });
    expect((await daemon(project, captureLogger()).once())[0]?.applied).toEqual([]);

    await database.db.query("SET GLOBAL max_connections = 12");
    const [lowered] = await daemon(project, captureLogger()).once();
    expect(lowered?.plan?.databases[0]?.limit).toBe(12);
    expect(lowered?.applied[0]?.change).toBe("decrease");
    expect(await poolOf(`${project}-app-1`)).toBe("1+0");
    expect(await poolOf(`${project}-app-2`)).toBe("1+0");

    await database.db.query("SET GLOBAL max_connections = 20");
    const ids = (await projectContainers(docker, project)).map((c) => c.id);
    const [waiting] = await daemon(project, captureLogger(), {
      damping: { cooldownMs: 3_600_000, minGain: 1 },
    }).once();
    expect(waiting?.applied).toEqual([]);
    expect(waiting?.deferred).toEqual([
      expect.objectContaining({ workload: `compose:${project}/app`, reason: "cooldown" }),
    ]);
    expect((await projectContainers(docker, project)).map((c) => c.id)).toEqual(ids);

    const [raised] = await daemon(project, captureLogger()).once();
    expect(raised?.applied[0]?.change).toBe("increase");
    expect(await poolOf(`${project}-app-1`)).toBe("1+1");
  });

  it("lowers the values when the service scales up", async () => {
    const project = `dm${run}c`;
    await seedService(project, 2, { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "1" });
    // `docker compose up -d --scale app=3` starts a third container with the persisted values.
    await appContainer(project, 3, { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "1" });
    const [report] = await daemon(project, captureLogger()).once();
    expect(report?.plan?.workloads[0]).toMatchObject({ replicas: 3, processes: 12 });
    expect(report?.applied[0]?.change).toBe("decrease");
    for (const i of [1, 2, 3]) expect(await poolOf(`${project}-app-${i}`)).toBe("1+0");
  });

  it("logs a clear line for malformed labels and still tunes the other services", async () => {
    const project = `dm${run}d`;
    await seedService(project, 1);
    await composeContainer(docker, {
      run,
      project,
      service: "worker",
      index: 1,
      labels: { ...LABELS, "io.pooltuner.weight": "heavy" },
      env: {
        GUNICORN_WORKERS: "1",
        LINEAGE_DB_POOL_SIZE: "1",
        LINEAGE_DB_MAX_OVERFLOW: "0",
        DATABASE_URL: database.appUrl,
      },
    });
    const typo = await composeContainer(docker, {
      run,
      project,
      service: "cron",
      index: 1,
      labels: { "io.pooltuner.enabled": "yes" },
      env: { LINEAGE_DB_POOL_SIZE: "5" },
    });
    const worker = (await projectContainers(docker, project)).find((c) => c.name.includes("worker"));
    const log = captureLogger();
    const [report] = await daemon(project, log).once();

    const errors = log
      .lines()
      .filter((l) => l.level >= 50)
      .map((l) => l.msg);
    expect(errors).toContain(
      `service ${project}/worker: io.pooltuner.weight=<a 5-character value, not shown>: must be a number > 0 and <= 1000000, such as 1 or 2.5`,
    );
    expect(errors).toContain(
      `service ${project}/cron: io.pooltuner.enabled="yes": must be "true" or "false" (not managed)`,
    );
    // The app is tuned; the worker is counted (its 1 connection) but never changed; cron is left alone.
    expect(report?.plan?.workloads.map((w) => w.id)).toEqual([`compose:${project}/app`, `compose:${project}/worker`]);
    expect(report?.applied.map((a) => a.workload)).toEqual([`compose:${project}/app`]);
    expect(await poolOf(`${project}-app-1`)).not.toBe("2+3");
    expect((await projectContainers(docker, project)).find((c) => c.name.includes("worker"))?.id).toBe(worker?.id);
    expect((await projectContainers(docker, project)).find((c) => c.name.includes("cron"))?.id).toBe(typo.id);
  });

  it("--dry-run plans and logs but changes nothing", async () => {
    const project = `dm${run}e`;
    await seedService(project, 2);
    const before = await projectContainers(docker, project);
    const log = captureLogger();
    const [report] = await daemon(project, log, { dryRun: true }).once();
    expect(report?.applied).toEqual([
      { workload: `compose:${project}/app`, change: "dry-run decrease", containers: [] },
    ]);
    expect(log.text()).toContain(
      `dry-run: would apply compose:${project}/app: decrease pool_size+max_overflow 2+3 -> 1+1`,
    );
    expect(await projectContainers(docker, project)).toEqual(before);
    expect(await poolOf(`${project}-app-1`)).toBe("2+3");
    await expect(readFile(join(workingDir, project, ".pooltuner", "app.env"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("a failed apply is rolled back, reported, and not retried in a loop", async () => {
    const project = `dm${run}f`;
    await composeContainer(docker, {
      run,
      project,
      service: "app",
      index: 1,
      workingDir: join(workingDir, project),
      labels: LABELS,
      env: {
        GUNICORN_WORKERS: "4",
        LINEAGE_DB_POOL_SIZE: "2",
        LINEAGE_DB_MAX_OVERFLOW: "3",
        DATABASE_URL: database.appUrl,
      },
      // An app that refuses to start with a pool of 1 (say, a startup check).
      cmd: [
        "bash",
        "-c",
        '[ "$LINEAGE_DB_POOL_SIZE" = 1 ] && { echo "pool too small" >&2; exit 4; }; exec sleep infinity',
      ],
    });
    await database.db.query("SET GLOBAL max_connections = 12");
    const before = await projectContainers(docker, project);
    const log = captureLogger();
    const d = daemon(project, log);
    const [first] = await d.once();
    expect(first?.failed).toEqual([
      expect.objectContaining({ workload: `compose:${project}/app`, container: `${project}-app-1`, restored: true }),
    ]);
    expect(log.text()).toContain("exited with code 4");
    expect(log.text()).toContain("the original container was restored");
    expect(await projectContainers(docker, project)).toEqual(before);
    expect(await poolOf(`${project}-app-1`)).toBe("2+3");
    // The env file is back as it was (absent): a later `up` does not bring the failing values.
    await expect(readFile(join(workingDir, project, ".pooltuner", "app.env"), "utf8")).rejects.toThrow(/ENOENT/);
    const [second] = await d.once();
    expect(second?.applied).toEqual([]);
    expect(second?.deferred).toContainEqual(expect.objectContaining({ reason: "failed-recently" }));
  });

  it("as a daemon: reacts to a scale-up event and to max_connections changes; a restarted daemon recreates nothing", async () => {
    const project = `dm${run}g`;
    await seedService(project, 2, { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "1" });
    const stop = new AbortController();
    const log = captureLogger();
    const running = daemon(project, log).run(stop.signal);
    try {
      await new Promise((r) => setTimeout(r, 2_000));
      const settled = await projectContainers(docker, project);
      await appContainer(project, 3, { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "1" });
      // Done when every container has the values and the originals (kept until the last one runs) are gone.
      await eventually("the scale-up to lower the values", 60_000, async () =>
        (await Promise.all([1, 2, 3].map((i) => poolOf(`${project}-app-${i}`)))).every((p) => p === "1+0") &&
        !(await projectContainers(docker, project)).some((c) => c.name.includes("_pooltuner-prev-"))
          ? true
          : undefined,
      );
      expect((await projectContainers(docker, project)).map((c) => c.id)).not.toContain(settled[0]?.id);

      await appContainer(project, 4, { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "0" });
      await database.db.query("SET GLOBAL max_connections = 30");
      // 4 x 4 = 16 processes: 30 - 2 reserve - 1 other = 27 usable fits 16 x 1 but not 16 x 2: nothing to change.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await poolOf(`${project}-app-4`)).toBe("1+0");
      await database.db.query("SET GLOBAL max_connections = 14");
      // 14 - 2 - 1 = 11 < 16: infeasible, nothing may be applied, and it is said loudly.
      await eventually("the infeasible plan to be logged", 10_000, async () =>
        log.text().includes("needs 16 connections at 1 per process, allows 11") ? true : undefined,
      );
      expect(await poolOf(`${project}-app-1`)).toBe("1+0");
    } finally {
      stop.abort();
      await running;
    }

    // Restart: a fresh daemon runs for a while and recreates nothing.
    await database.db.query("SET GLOBAL max_connections = 20");
    const ids = (await projectContainers(docker, project)).map((c) => c.id);
    const stop2 = new AbortController();
    const d2 = daemon(project, captureLogger());
    const running2 = d2.run(stop2.signal);
    await new Promise((r) => setTimeout(r, 4_000));
    stop2.abort();
    await running2;
    expect(d2.reports.length).toBeGreaterThan(0);
    expect(d2.reports.flatMap((r) => r.applied)).toEqual([]);
    expect((await projectContainers(docker, project)).map((c) => c.id)).toEqual(ids);
  });
});
