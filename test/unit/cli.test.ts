// The real CLI, spawned as a process: output and exit codes 0 / 1 / 2 / 3 (no database needed; port 1 is closed).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../integration/cli/run-cli.js";

const COMPOSE = "examples/lineage/docker-compose.yml";
/** Rows of a printed table, cells split on runs of 2+ spaces. */
const rows = (text: string) => text.split("\n").map((l) => l.trim().split(/\s{2,}/));
const row = (text: string, first: string) => rows(text).find((r) => r[0] === first);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pooltuner-cli-"));
  await writeFile(
    join(dir, "two-dbs.yml"),
    `services:
  a:
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.database: orders, io.pooltuner.workers: "2" }
  b:
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.database: users, io.pooltuner.workers: "2" }
`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("pooltuner plan / check on examples/lineage", { timeout: 120_000 }, () => {
  it("plan shows the seed's 4 x (2+3) as unsafe and recommends 1+1 (peak 16 of 18): exit 0", async () => {
    const r = await runCli(["plan", COMPOSE, "--max-connections", "20", "--unmanaged", "0"]);
    expect(r.code).toBe(0);
    expect(row(r.stdout, "lineage")).toEqual(["lineage", "--max-connections", "20", "2", "0", "18", "16", "2"]);
    expect(row(r.stdout, "compose:lineage/app")).toEqual([
      "compose:lineage/app",
      "2→2",
      "4",
      "8",
      "2+3",
      "40",
      "1+1",
      "16",
      "decrease",
    ]);
    expect(r.stdout).toContain("LINEAGE_DB_POOL_SIZE=1 LINEAGE_DB_MAX_OVERFLOW=1");
    expect(r.stdout).toContain("database lineage: current settings can open 40 connections at peak, 18 available");
    expect(r.stdout).toMatch(/CAN EXCEED/);
  });

  it("check fails with exit 1 on the same input", async () => {
    const r = await runCli(["check", COMPOSE, "--max-connections", "20", "--unmanaged", "0"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("check: FAILED (exit 1)");
  });

  it("check passes (exit 0) when the server is large enough; unset --unmanaged is assumed with a warning", async () => {
    const r = await runCli(["check", COMPOSE, "--max-connections", "100"]);
    expect(r.code).toBe(0);
    // reserve max(2, 5) = 5, assumed unmanaged max(2, 10) = 10 -> usable 85 >= 40
    expect(row(r.stdout, "lineage")?.slice(2, 6)).toEqual(["100", "5", "10 (assumed)", "85"]);
    expect(r.stdout).toMatch(/other clients' connections are not known offline; assuming 10 \(give --unmanaged N\)/);
    expect(r.stdout).toContain("check: OK");
  });

  it("infeasible: exit 1 for plan too, with the missing count", async () => {
    const r = await runCli(["plan", COMPOSE, "--max-connections", "5", "--unmanaged", "0"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/database lineage: needs 8 connections at 1 per process, allows 3: 5 missing/);
    expect(r.stdout).toMatch(/NO SAFE PLAN for lineage/);
    expect(row(r.stdout, "compose:lineage/app")?.slice(-3)).toEqual(["-", "-", "no plan"]);
  });

  it("-o json: the Plan plus the inputs", async () => {
    const r = await runCli(["check", COMPOSE, "--max-connections", "20", "--reserve", "10%", "-o", "json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.command).toBe("check");
    expect(out.exitCode).toBe(1);
    expect(out.plan.currentSafe).toBe(false);
    expect(out.plan.databases[0]).toMatchObject({ name: "lineage", limit: 20, reserve: 2, unmanaged: 2, usable: 16 });
    expect(out.plan.workloads[0]).toMatchObject({
      id: "compose:lineage/app",
      processes: 8,
      current: { settings: { poolSize: 2, maxOverflow: 3 }, peak: 40 },
      recommended: { poolSize: 1, maxOverflow: 1, cap: 2, peak: 16 },
    });
    expect(out.inputs.workloads[0]).toMatchObject({
      file: COMPOSE,
      object: "service app",
      database: "lineage",
      account: "lineage",
      workersFrom: "env GUNICORN_WORKERS",
      poolSizeEnv: "LINEAGE_DB_POOL_SIZE",
      maxOverflowEnv: "LINEAGE_DB_MAX_OVERFLOW",
    });
    expect(out.inputs.databases[0]).toMatchObject({ name: "lineage", maxConnections: 20, reserve: { percent: 10 } });
  });

  it("Kubernetes manifests: HPA max + surge are planned for", async () => {
    const r = await runCli(["plan", "examples/lineage/kubernetes", "--max-connections", "20", "--unmanaged", "0"]);
    expect(r.code).toBe(0);
    expect(row(r.stdout, "kube:lineage/Deployment/lineage-app")).toEqual([
      "kube:lineage/Deployment/lineage-app",
      "2 (HPA max 3)→4",
      "4",
      "16",
      "2+3",
      "80",
      "1+0",
      "16",
      "decrease",
    ]);
  });

  it("max-replicas and a workload scaled to zero are planned for, and the table says why", async () => {
    const file = join(dir, "scaled.yml");
    await writeFile(
      file,
      `name: scaled
services:
  by-hand:
    image: x
    command: gunicorn --workers 2 app:app
    labels: { io.pooltuner.enabled: "true", io.pooltuner.max-replicas: "3" }
  stopped:
    image: x
    command: gunicorn --workers 2 app:app
    deploy: { replicas: 0 }
    labels: { io.pooltuner.enabled: "true" }
`,
    );
    const r = await runCli(["plan", file, "--max-connections", "100", "--unmanaged", "0"]);
    expect(r.code).toBe(0);
    // compose recreates stop-first: no surge, so the peak is the planned replicas; 2 workers each
    expect(row(r.stdout, "compose:scaled/by-hand")?.slice(1, 4)).toEqual(["1 (max-replicas 3)→3", "2", "6"]);
    expect(row(r.stdout, "compose:scaled/stopped")?.slice(1, 4)).toEqual(["0 (planned 1)→1", "2", "2"]);
  });

  it("--sizing-table replaces the seed's table", async () => {
    const table = join(dir, "table.yaml");
    await writeFile(table, "- { name: tiny, cpu: 8, memory: 16Gi, workers: 4, pool_size: 1, max_overflow: 0 }\n");
    const r = await runCli(["plan", COMPOSE, "--max-connections", "100", "--sizing-table", table, "-o", "json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).plan.workloads[0]).toMatchObject({
      row: "tiny",
      recommended: { poolSize: 1, maxOverflow: 0 },
    });
  });

  it("--version prints the package version", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("bad input: exit 2, one line per problem", { timeout: 120_000 }, () => {
  it("a bad label names the file, the service and the field", async () => {
    const file = join(dir, "bad-label.yml");
    await writeFile(
      file,
      `services:
  app:
    image: x
    environment: { GUNICORN_WORKERS: "4" }
    labels: { io.pooltuner.enabled: "true", io.pooltuner.weight: "heavy" }
`,
    );
    const r = await runCli(["check", file, "--max-connections", "20"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toEqual([
      `error: ${file}: service app: io.pooltuner.weight=<a 5-character value, not shown>: must be a number > 0 and <= 1000000, such as 1 or 2.5`,
    ]);
  });

  it("a worker count that cannot be known, and maxSurge 0 with maxUnavailable 0: one line each naming what to set", async () => {
    const compose = join(dir, "no-workers.yml");
    await writeFile(
      compose,
      `services:
  app:
    image: x
    command: gunicorn -c gunicorn.conf.py app:app
    labels: { io.pooltuner.enabled: "true" }
`,
    );
    const manifest = join(dir, "no-surge.yaml");
    await writeFile(
      manifest,
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop, annotations: { pooltuner.io/enabled: "true", pooltuner.io/workers: "2" } }
spec:
  replicas: 2
  strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: "0%" } }
  template: { spec: { containers: [{ name: web, image: web }] } }
`,
    );
    for (const command of ["check", "plan"]) {
      const r = await runCli([command, compose, manifest, "--max-connections", "100"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toEqual([
        `error: ${compose}: service app: io.pooltuner.workers: worker processes per container unknown: no --workers/-w in the command or GUNICORN_CMD_ARGS, no GUNICORN_WORKERS or WEB_CONCURRENCY (Gunicorn may also read them from -c FILE, --config or ./gunicorn.conf.py, which cannot be seen from here); the workload is not planned and not changed until you set io.pooltuner.workers to the worker processes per container (or io.pooltuner.workers-env to the variable that holds them)`,
        `error: ${manifest}: Deployment shop/web: spec.strategy.rollingUpdate: maxSurge (0) and maxUnavailable ("0%") cannot both be 0: Kubernetes rejects it, as no pod could be replaced; set one of them above 0`,
      ]);
    }
  });

  it("a workload's database that is not given", async () => {
    const r = await runCli(["check", join(dir, "two-dbs.yml"), "--max-connections", "orders=20"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/uses database "users", which is not given: add --max-connections users=N/);
  });

  it("a plain --max-connections with several databases", async () => {
    const r = await runCli(["check", join(dir, "two-dbs.yml"), "--max-connections", "20"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/several databases \(orders, users\)/);
  });

  it("a bad flag value, an unknown flag, no database at all", async () => {
    const [badValue, unknownOption, noDb] = await Promise.all([
      runCli(["check", COMPOSE, "--max-connections", "twenty"]),
      runCli(["check", COMPOSE, "--max-conections", "20"]),
      runCli(["check", COMPOSE]),
    ]);
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toMatch(/--max-connections twenty: max_connections must be a whole number/);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toMatch(/unknown option '--max-conections'/);
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toMatch(/no database given/);
  });

  it("files without managed workloads", async () => {
    const r = await runCli(["check", "examples/lineage/kubernetes/namespace.yaml", "--max-connections", "20"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no managed workloads/);
  });

  it("several databases with name=value plan each one", async () => {
    const file = join(dir, "two-dbs.yml");
    const r = await runCli([
      "plan",
      file,
      "--max-connections",
      "orders=20",
      "--max-connections",
      "users=10",
      "--unmanaged",
      "0",
    ]);
    expect(r.code).toBe(0);
    // pool env vars unset: SQLAlchemy's 5+10 is assumed, with a warning
    expect(r.stdout).toMatch(/pool settings not set; assuming SQLAlchemy's defaults 5\+10/);
    expect(row(r.stdout, "orders")?.slice(0, 6)).toEqual(["orders", "--max-connections", "20", "2", "0", "18"]);
    expect(row(r.stdout, "users")?.slice(0, 6)).toEqual(["users", "--max-connections", "10", "2", "0", "8"]);
    expect(row(r.stdout, `compose:${dir.split("/").pop()?.toLowerCase()}/a`)?.[1]).toBe("orders");
  });

  it("a malformed URL is bad input and its password is never printed", async () => {
    const r = await runCli(["plan", COMPOSE, "--mysql-url", "mysql://u:hunter22@/x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/database lineage: not a valid MySQL URL: mysql:\/\/\*\*\* \(expected/);
    expect(`${r.stdout}${r.stderr}`).not.toContain("hunter22");
  });
});

describe("cannot reach the database: exit 3, no password in the output", { timeout: 120_000 }, () => {
  it("--mysql-url to a closed port", async () => {
    const r = await runCli(["check", COMPOSE, "--mysql-url", "mysql://u:secret@127.0.0.1:1/x"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/database lineage: cannot reach MySQL at u@127\.0\.0\.1:1/);
    expect(`${r.stdout}${r.stderr}`).not.toContain("secret");
  });

  it("POOLTUNER_MYSQL_URL from the environment, with -o json", async () => {
    const r = await runCli(["plan", COMPOSE, "-o", "json"], {
      POOLTUNER_MYSQL_URL: "mysql://u:s%40cret-pw@127.0.0.1:1/",
    });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ exitCode: 3, errors: [expect.stringMatching(/cannot reach MySQL/)] });
    for (const secret of ["s%40cret-pw", "s@cret-pw"]) expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
  });

  it("--max-connections wins over POOLTUNER_MYSQL_URL (offline run, no probe)", async () => {
    const r = await runCli(["plan", COMPOSE, "--max-connections", "20"], {
      POOLTUNER_MYSQL_URL: "mysql://u:pw@127.0.0.1:1/",
    });
    expect(r.code).toBe(0);
  });
});

describe("pooltuner plan with application profiles", { timeout: 120_000 }, () => {
  // Compose replaces stop-first: no surge. No limits: the seed's small row (2 workers, 1+2).
  const MIXED = `name: mixed
services:
  api:
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.database: main, io.pooltuner.profile: hikari }
    environment: { SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: "10" }
    deploy: { replicas: 2 }
  web:
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.database: main, io.pooltuner.profile: rails }
    environment: { WEB_CONCURRENCY: "2", RAILS_MAX_THREADS: "5" }
  py:
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.database: main }
    environment: { GUNICORN_WORKERS: "2", DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "3" }
`;

  it("shows each profile's numbers and the env values it would write", async () => {
    await writeFile(join(dir, "mixed.yml"), MIXED);
    // usable 100 - 5 - 0 = 95; at the table's caps: api 2 JVMs x 6 (2 workers x 3) = 12, web 2 x 3 = 6, py 2 x 3 = 6.
    const r = await runCli(["plan", join(dir, "mixed.yml"), "--max-connections", "100", "--unmanaged", "0"]);
    expect(r.code).toBe(0);
    expect(row(r.stdout, "compose:mixed/api")).toEqual([
      "compose:mixed/api",
      "hikari",
      "2→2",
      "1",
      "2",
      "10",
      "20",
      "6",
      "12",
      "decrease",
    ]);
    expect(row(r.stdout, "compose:mixed/web")?.slice(1, 9)).toEqual(["rails", "1→1", "2", "2", "5", "10", "3", "6"]);
    expect(row(r.stdout, "compose:mixed/py")?.slice(1, 9)).toEqual([
      "sqlalchemy",
      "1→1",
      "2",
      "2",
      "2+3",
      "10",
      "1+2",
      "6",
    ]);
    expect(r.stdout).toContain("compose:mixed/api: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=6  in");
    expect(r.stdout).toContain("compose:mixed/web: RAILS_MAX_THREADS=3  in");
    expect(r.stdout).toContain("compose:mixed/py: DB_POOL_SIZE=1 DB_MAX_OVERFLOW=2  in");
  });

  it("shrinks every profile's cap to fit a small server; check gates on the current numbers", async () => {
    await writeFile(join(dir, "mixed.yml"), MIXED);
    // usable 20 - 2 = 18 for 6 processes: 3 each fills it exactly (api 2 x 3 + web 2 x 3 + py 2 x 3 = 18), so
    // Hikari gets 3, not its 6; now 20 + 10 + 10 = 40 can exceed 18.
    const r = await runCli([
      "check",
      join(dir, "mixed.yml"),
      "--max-connections",
      "20",
      "--unmanaged",
      "0",
      "-o",
      "json",
    ]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as {
      plan: { workloads: { id: string; recommended: { env: unknown } }[] };
      inputs: { workloads: { id: string; profile: string }[] };
    };
    const env = Object.fromEntries(out.plan.workloads.map((w) => [w.id, w.recommended.env]));
    expect(env).toEqual({
      "compose:mixed/api": [{ name: "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE", value: "3" }],
      "compose:mixed/py": [
        { name: "DB_POOL_SIZE", value: "1" },
        { name: "DB_MAX_OVERFLOW", value: "2" },
      ],
      "compose:mixed/web": [{ name: "RAILS_MAX_THREADS", value: "3" }],
    });
    expect(out.inputs.workloads.map((w) => w.profile).sort()).toEqual(["hikari", "rails", "sqlalchemy"]);
  });
});

describe("pooltuner plan --profiles", { timeout: 120_000 }, () => {
  it("plans a workload of a custom profile from the file, and refuses a bad file with exit 2", async () => {
    await writeFile(
      join(dir, "go.yml"),
      `name: go
services:
  svc:
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.database: main, io.pooltuner.profile: go-sql }
    environment: { DB_MAX_OPEN_CONNS: "40" }
`,
    );
    await writeFile(
      join(dir, "profiles.yml"),
      "profiles:\n  - { name: go-sql, processes: one, capEnv: DB_MAX_OPEN_CONNS, default: 50 }\n",
    );
    // 1 container x 1 process; the small row's per-process cap 3.
    const r = await runCli([
      "plan",
      join(dir, "go.yml"),
      "--profiles",
      join(dir, "profiles.yml"),
      "--max-connections",
      "100",
      "--unmanaged",
      "0",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("compose:go/svc: DB_MAX_OPEN_CONNS=3  in");
    const without = await runCli(["plan", join(dir, "go.yml"), "--max-connections", "100"]);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/io\.pooltuner\.profile=.*: unknown profile; known: sqlalchemy, django/);
    expect(without.stderr).not.toMatch(/workers/);
    await writeFile(join(dir, "bad-profiles.yml"), "- { name: sqlalchemy, processes: one, pair: true }\n");
    const bad = await runCli(["plan", join(dir, "go.yml"), "--profiles", join(dir, "bad-profiles.yml")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("sqlalchemy is defined twice (or is a built-in profile)");
  });
});
