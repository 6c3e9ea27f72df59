// The whole loop with the real Docker Compose CLI (v5, built from the Go module proxy: kube.sh build-compose) against
// the test bed's dockerd and a private MariaDB: `docker compose up -d` -> the compose daemon recreates with safe
// values and persists them in .pooltuner/app.env (the env_file entry with `required: false`) -> the next `up -d`
// keeps them and recreates each container at most once, the one after it nothing; `--scale`; `down`/`up`. And
// `plan --compose-cli` reads the same project through `docker compose config`.
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DEFAULT_DAMPING } from "../../../src/core/index.js";
import { ComposeDaemon } from "../../../src/docker/daemon.js";
import { parseEnvFile } from "../../../src/sources/dotenv.js";
import { runCli } from "../cli/run-cli.js";
import {
  captureLogger,
  cleanupRun,
  containerEnv,
  daemonOptions,
  newRun,
  projectContainers,
  RUN_LABEL,
  SLIM,
  startTestDatabase,
  type TestDatabase,
  testDocker,
} from "./support.js";

const REPO = new URL("../../../", import.meta.url).pathname;
const docker = testDocker();
const run = newRun();
const project = `cp${run}`;
let database: TestDatabase;
let dir: string;
let composeBin: string;
let dockerHost: string;

beforeAll(async () => {
  composeBin = execFileSync("bash", [join(REPO, "scripts/testbed/kube.sh"), "bin", "compose"], {
    encoding: "utf8",
  }).trim();
  if (!existsSync(composeBin)) {
    throw new Error(
      `no Docker Compose binary at ${composeBin}: build it with bash scripts/testbed/kube.sh build-compose`,
    );
  }
  dockerHost = `unix://${(docker.modem as unknown as { socketPath: string }).socketPath}`;
  database = await startTestDatabase("compose-project", 20);
  dir = await mkdtemp(join(tmpdir(), "pooltuner-compose-cli-"));
  await writeFile(
    join(dir, "compose.yaml"),
    `name: ${project}
services:
  app:
    image: ${SLIM}
    pull_policy: never
    command: ["sleep", "infinity"]
    init: true
    stop_grace_period: 2s
    network_mode: none
    deploy:
      replicas: 2
    environment:
      DATABASE_URL: \${DATABASE_URL}
    env_file:
      - app.env
      - path: .pooltuner/app.env
        required: false
    labels:
      ${RUN_LABEL}: "${run}"
      io.pooltuner.enabled: "true"
      io.pooltuner.database: lineage
      io.pooltuner.pool-size-env: LINEAGE_DB_POOL_SIZE
      io.pooltuner.max-overflow-env: LINEAGE_DB_MAX_OVERFLOW
      io.pooltuner.workers-env: GUNICORN_WORKERS
`,
  );
  await writeFile(join(dir, "app.env"), "GUNICORN_WORKERS=4\nLINEAGE_DB_POOL_SIZE=2\nLINEAGE_DB_MAX_OVERFLOW=3\n");
}, 600_000);

afterAll(async () => {
  if (dir && composeBin) await compose(["down", "--timeout", "2"]).catch(() => undefined);
  await cleanupRun(docker, run);
  await database?.db.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function compose(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await promisify(execFile)(composeBin, ["--project-directory", dir, ...args], {
      cwd: dir,
      env: { ...process.env, DOCKER_HOST: dockerHost, DATABASE_URL: database.appUrl },
      timeout: 120_000,
    });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker compose ${args.join(" ")} failed: ${e.message.split("\n")[0]}\n${e.stderr ?? ""}`);
  }
}

/** The daemon as `pooltuner compose --project P` runs it; increases wait an hour, decreases never wait. */
function daemon() {
  return new ComposeDaemon(
    daemonOptions(docker, database, captureLogger().logger, {
      projects: [project],
      persist: { dir: ".pooltuner", pathMap: [] },
      damping: { ...DEFAULT_DAMPING, cooldownMs: 3_600_000 },
    }),
  );
}

async function persisted(): Promise<string> {
  const vars = parseEnvFile(await readFile(join(dir, ".pooltuner", "app.env"), "utf8")).vars;
  return `${vars.get("LINEAGE_DB_POOL_SIZE")}+${vars.get("LINEAGE_DB_MAX_OVERFLOW")}`;
}

/** Each app container's name -> its pool settings, as the Engine reports its env. */
async function pools(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const c of await projectContainers(docker, project)) {
    const env = await containerEnv(docker, c.id);
    out[c.name] = `${env.get("LINEAGE_DB_POOL_SIZE")}+${env.get("LINEAGE_DB_MAX_OVERFLOW")}`;
  }
  return out;
}

// Bounds generous enough for a loaded 2-core machine (2-3x the usual), so only a hang fails on time: a CLI process
// (tsx) takes seconds alone and 20 s and more under load; a test of several `compose up` and daemon passes minutes.
const CLI_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 600_000;

const ids = async () => Object.fromEntries((await projectContainers(docker, project)).map((c) => [c.name, c.id]));
const names = (n: number) => Array.from({ length: n }, (_, i) => `${project}-app-${i + 1}`);

it("plan --compose-cli reads the project through the real `docker compose config`, like the built-in reader", {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  await mkdir(join(dir, "plan"), { recursive: true });
  await writeFile(
    join(dir, "plan", "docker-compose.yml"),
    `name: planned
services:
  web:
    image: app
    command: gunicorn -w 4 app:app
    environment: {DB_POOL_SIZE: "\${POOL:-2}", DB_MAX_OVERFLOW: "1"}
    labels: {io.pooltuner.enabled: "true"}
  ops:
    extends: web
    profiles: [ops]
    command: gunicorn -w 2 app:app
`,
  );
  await writeFile(join(dir, "plan", "docker-compose.override.yml"), "services:\n  web:\n    deploy: {replicas: 3}\n");
  const args = ["plan", join(dir, "plan"), "--max-connections", "100", "--unmanaged", "0", "-o", "json"];
  const workloads = async (extra: string[]) => {
    const r = await runCli([...args, ...extra], { POOL: "5" }, CLI_TIMEOUT_MS);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { plan: { workloads: { id: string; replicas?: number; current: unknown }[] } };
    return doc.plan.workloads.map((w) => ({ id: w.id, current: w.current }));
  };
  const viaCli = await workloads(["--compose-cli", composeBin, "--compose-profile", "ops"]);
  const builtIn = await workloads(["--compose-cli", "off", "--compose-profile", "ops"]);
  expect(viaCli.map((w) => w.id)).toEqual(["compose:planned/ops", "compose:planned/web"]);
  expect(viaCli).toEqual(builtIn);
  // 3 replicas (the override) x 4 workers x (5 + 1): both readers saw the override and the shell's POOL.
  expect(viaCli.find((w) => w.id === "compose:planned/web")?.current).toMatchObject({
    settings: { poolSize: 5, maxOverflow: 1 },
    peak: 72,
  });
});

it("up -> the daemon recreates -> up keeps the values, recreating at most once, then nothing; --scale; down/up", {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  await database.db.query("SET GLOBAL max_connections = 20");
  await compose(["up", "-d"]);
  expect(await pools()).toEqual({ [names(2)[0] as string]: "2+3", [names(2)[1] as string]: "2+3" });

  // 2 containers x 4 workers x (2 + 3) = 40 against max_connections 20: the daemon decreases and persists.
  const [first] = await daemon().once();
  expect(first?.applied.map((a) => a.change)).toEqual(["decrease"]);
  const applied = await persisted();
  expect(applied).not.toBe("2+3");
  expect(Object.values(await pools())).toEqual([applied, applied]);

  // compose sees the env_file changed (its config hash): it may recreate each container once, with the same values.
  await compose(["up", "-d"]);
  expect(Object.values(await pools())).toEqual([applied, applied]);
  const afterUp = await ids();
  expect(Object.keys(afterUp)).toEqual(names(2));
  // ... and the next `up` recreates nothing.
  await compose(["up", "-d"]);
  expect(await ids()).toEqual(afterUp);
  // The daemon finds its values in place: nothing to do.
  expect((await daemon().once())[0]?.applied).toEqual([]);
  expect(await ids()).toEqual(afterUp);

  // --scale: the new container starts with the persisted values; the others are left alone.
  await compose(["up", "-d", "--scale", "app=3"]);
  const scaled = await ids();
  expect(Object.keys(scaled)).toEqual(names(3));
  for (const n of names(2)) expect(scaled[n]).toBe(afterUp[n]);
  expect(Object.values(await pools())).toEqual([applied, applied, applied]);
  // Three containers may need less: whatever the daemon does, compose then keeps it, again at most one recreate.
  await daemon().once();
  const scaledValues = await persisted();
  expect(Object.values(await pools())).toEqual([scaledValues, scaledValues, scaledValues]);
  await compose(["up", "-d", "--scale", "app=3"]);
  expect(Object.values(await pools())).toEqual([scaledValues, scaledValues, scaledValues]);
  const settled = await ids();
  await compose(["up", "-d", "--scale", "app=3"]);
  expect(await ids()).toEqual(settled);

  // down/up: fresh containers, created by compose alone, carry the persisted values.
  await compose(["down", "--timeout", "2"]);
  expect(await projectContainers(docker, project)).toEqual([]);
  await compose(["up", "-d"]);
  expect(Object.keys(await ids())).toEqual(names(2));
  expect(Object.values(await pools())).toEqual([scaledValues, scaledValues]);
  // Fewer containers could take more, but increases wait for the cooldown: the daemon recreates nothing.
  const fresh = await ids();
  expect((await daemon().once())[0]?.applied).toEqual([]);
  expect(await ids()).toEqual(fresh);
});

const COMPOSE_1 = "/usr/bin/docker-compose"; // Debian's Compose 1.29 (scripts/testbed/docker.sh ensure installs it)

it("Debian's docker-compose 1.29: refuses the long env_file form; the short form over an empty file keeps the values", {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const version = execFileSync(COMPOSE_1, ["version", "--short"], { encoding: "utf8" }).trim();
  expect(version).toMatch(/^1\.29\./);
  const old = `co${run}`;
  const oldDir = join(dir, "old");
  await mkdir(join(oldDir, ".pooltuner"), { recursive: true });
  const service = (envFile: string) => `services:
  app:
    image: ${SLIM}
    command: ["sleep", "infinity"]
    init: true
    stop_grace_period: 2s
    network_mode: none
    scale: 2
    env_file:
      - app.env
${envFile}
    labels:
      ${RUN_LABEL}: "${run}"
      io.pooltuner.enabled: "true"
      io.pooltuner.database: lineage
      io.pooltuner.pool-size-env: LINEAGE_DB_POOL_SIZE
      io.pooltuner.max-overflow-env: LINEAGE_DB_MAX_OVERFLOW
      io.pooltuner.workers-env: GUNICORN_WORKERS
`;
  await writeFile(join(oldDir, "app.env"), "GUNICORN_WORKERS=4\nLINEAGE_DB_POOL_SIZE=2\nLINEAGE_DB_MAX_OVERFLOW=3\n");
  const compose1 = async (args: string[]) => {
    const { stdout, stderr } = await promisify(execFile)(COMPOSE_1, ["-p", old, ...args], {
      cwd: oldDir,
      env: { ...process.env, DOCKER_HOST: dockerHost },
      timeout: 120_000,
    });
    return `${stdout}${stderr}`;
  };
  // The long form is Compose 2.24+: 1.29 refuses the file.
  await writeFile(
    join(oldDir, "docker-compose.yml"),
    service("      - path: .pooltuner/app.env\n        required: false"),
  );
  await expect(compose1(["config"])).rejects.toThrow(/env_file contains .*which is an invalid type/);
  // The documented workaround: the short form, and the file created empty once.
  await writeFile(join(oldDir, "docker-compose.yml"), service("      - .pooltuner/app.env"));
  await writeFile(join(oldDir, ".pooltuner", "app.env"), "");
  await database.db.query("SET GLOBAL max_connections = 20");
  try {
    await compose1(["up", "-d"]);
    const oldPools = async () => {
      const out: string[] = [];
      for (const c of await projectContainers(docker, old)) {
        const env = await containerEnv(docker, c.id);
        out.push(`${env.get("LINEAGE_DB_POOL_SIZE")}+${env.get("LINEAGE_DB_MAX_OVERFLOW")}`);
      }
      return out;
    };
    expect(await oldPools()).toEqual(["2+3", "2+3"]);
    const log = captureLogger();
    const d = new ComposeDaemon(
      daemonOptions(docker, database, log.logger, {
        projects: [old],
        persist: { dir: ".pooltuner", pathMap: [] },
        damping: { ...DEFAULT_DAMPING, cooldownMs: 3_600_000 },
      }),
    );
    expect((await d.once())[0]?.applied.map((a) => a.change)).toEqual(["decrease"]);
    // A decrease is applied even when it cannot be persisted ("cannot write ...", logged): the values must be in the
    // file. 1.29 labels config_files relative to where it ran ("docker-compose.yml"), not as an absolute path.
    expect(log.lines().filter((l) => /persist|cannot write/.test(l.msg))).toEqual([]);
    const vars = parseEnvFile(await readFile(join(oldDir, ".pooltuner", "app.env"), "utf8")).vars;
    const applied = `${vars.get("LINEAGE_DB_POOL_SIZE")}+${vars.get("LINEAGE_DB_MAX_OVERFLOW")}`;
    expect(applied).not.toBe("undefined+undefined");
    expect(await oldPools()).toEqual([applied, applied]);
    await compose1(["up", "-d"]);
    expect(await oldPools()).toEqual([applied, applied]);
    const settled = (await projectContainers(docker, old)).map((c) => c.id);
    await compose1(["up", "-d"]);
    expect((await projectContainers(docker, old)).map((c) => c.id)).toEqual(settled);
  } finally {
    await compose1(["down", "--timeout", "2"]).catch(() => undefined);
  }
});

/**
 * A socket proxy that lets through only the Engine API calls docs/compose.md lists for pooltuner compose (what
 * Tecnativa's docker-socket-proxy grants with CONTAINERS, EVENTS, IMAGES, NETWORKS, POST), and records the rest.
 */
const ALLOWED: readonly [string, RegExp][] = [
  ["GET", /^\/_ping$/],
  ["GET", /^\/events$/],
  ["GET", /^\/containers\/json$/],
  ["GET", /^\/containers\/[^/]+\/json$/],
  ["POST", /^\/containers\/[^/]+\/(rename|stop|start)$/],
  ["POST", /^\/containers\/create$/],
  ["DELETE", /^\/containers\/[^/]+$/],
  ["POST", /^\/networks\/[^/]+\/connect$/],
  ["GET", /^\/images\/.+\/json$/],
];

async function allowlistProxy(target: string, socket: string) {
  const denied: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0]?.replace(/^\/v1\.\d+/, "") ?? "";
    if (!ALLOWED.some(([m, re]) => m === req.method && re.test(path))) {
      denied.push(`${req.method} ${path}`);
      res.writeHead(403).end("denied by the test's socket proxy");
      return;
    }
    const upstream = request({ socketPath: target, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((done) => server.listen(socket, done));
  return { denied, close: () => new Promise<void>((done) => server.close(() => done())) };
}

it("behind a socket proxy granting only the documented API paths, the daemon applies a change", {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const proxied = `cx${run}`;
  const pdir = join(dir, "proxied");
  await mkdir(pdir, { recursive: true });
  await writeFile(
    join(pdir, "compose.yaml"),
    (await readFile(join(dir, "compose.yaml"), "utf8")).replace(`name: ${project}`, `name: ${proxied}`),
  );
  await writeFile(join(pdir, "app.env"), "GUNICORN_WORKERS=4\nLINEAGE_DB_POOL_SIZE=2\nLINEAGE_DB_MAX_OVERFLOW=3\n");
  const up = () =>
    promisify(execFile)(composeBin, ["--project-directory", pdir, "up", "-d"], {
      cwd: pdir,
      env: { ...process.env, DOCKER_HOST: dockerHost, DATABASE_URL: database.appUrl },
      timeout: 120_000,
    });
  await database.db.query("SET GLOBAL max_connections = 20");
  await up();
  const proxy = await allowlistProxy(dockerHost.slice("unix://".length), join(pdir, "proxy.sock"));
  try {
    const viaProxy = new Docker({ socketPath: join(pdir, "proxy.sock") });
    await viaProxy.ping();
    const d = new ComposeDaemon(
      daemonOptions(viaProxy, database, captureLogger().logger, {
        projects: [proxied],
        persist: { dir: ".pooltuner", pathMap: [] },
      }),
    );
    const [report] = await d.once();
    expect(report?.applied.map((a) => a.change)).toEqual(["decrease"]);
    expect(proxy.denied).toEqual([]);
    const envs = await Promise.all((await projectContainers(docker, proxied)).map((c) => containerEnv(docker, c.id)));
    expect(envs.map((e) => e.get("LINEAGE_DB_POOL_SIZE"))).not.toContain("2");
  } finally {
    await proxy.close();
    await promisify(execFile)(composeBin, ["--project-directory", pdir, "down", "--timeout", "2"], {
      cwd: pdir,
      env: { ...process.env, DOCKER_HOST: dockerHost, DATABASE_URL: database.appUrl },
    }).catch(() => undefined);
  }
});
