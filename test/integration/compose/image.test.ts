// The operator image: built from the project's Dockerfile with local bases (no registry), runs `--version` as a
// non-root user, and runs `pooltuner compose` as a sidecar against the host's Docker (socket mounted) until it
// has tuned a service; SIGTERM stops it cleanly.
import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { parseEnvFile } from "../../../src/sources/dotenv.js";
import { freePort } from "./app.js";
import { buildOperatorImage, docker as dockerCli, REPO } from "./image.js";
import {
  cleanupRun,
  composeContainer,
  containerEnv,
  eventually,
  newRun,
  RUN_LABEL,
  startTestDatabase,
  type TestDatabase,
  testDocker,
} from "./support.js";

const docker = testDocker();
const socket = inject("dockerSocket");
const run = newRun();
const tag = `pooltuner-test/operator:${run}`;
const project = `im${run}`;
let database: TestDatabase;
let dir: string;

beforeAll(async () => {
  const built = await buildOperatorImage(socket, tag);
  const size = Number((await dockerCli(socket, ["image", "inspect", "-f", "{{.Size}}", tag])).trim());
  console.log(`[operator-image] built in ${built.seconds} s, size ${(size / 1e6).toFixed(1)} MB`);
  database = await startTestDatabase("compose-image", 20);
  dir = await mkdtemp(join(tmpdir(), "pooltuner-image-"));
});

afterAll(async () => {
  await cleanupRun(docker, run);
  await docker
    .getImage(tag)
    .remove({ force: true })
    .catch(() => {});
  // Build stages of earlier builds; the newest stays as the layer cache (npm ci) of the next build.
  const stages = await docker.listImages({ filters: { dangling: ["true"], label: ["org.pooltuner.stage=build"] } });
  for (const old of stages.sort((a, b) => b.Created - a.Created).slice(1)) {
    await docker
      .getImage(old.Id)
      .remove()
      .catch(() => {});
  }
  await database?.db.stop();
  await rm(dir, { recursive: true, force: true });
});

it("runs `pooltuner --version` as a non-root user", async () => {
  const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };
  expect((await dockerCli(socket, ["run", "--rm", tag, "--version"])).trim()).toBe(pkg.version);
  const config = (await docker.getImage(tag).inspect()).Config;
  expect(config.User).toBe("65532:65532");
  expect(config.Entrypoint).toEqual(["/usr/local/bin/node", "/app/dist/cli/main.js"]);
  expect(
    (await dockerCli(socket, ["run", "--rm", "--entrypoint", "/usr/local/bin/node", tag, "--version"])).trim(),
  ).toMatch(/^v24\./);
});

it("runs the compose daemon as a sidecar against the host's Docker and tunes a service", async () => {
  const projectDir = join(dir, project);
  // The user's project directory; the sidecar (root, like any holder of the Docker socket) writes its env file
  // there with this owner (docs/compose.md).
  await mkdir(projectDir, { recursive: true });
  await chown(projectDir, 1000, 1000);
  await writeFile(
    join(dir, "pooltuner.yaml"),
    "databases:\n  - name: lineage\n    urlEnv: LINEAGE_MONITOR_URL\n    reserve: { absolute: 2, percent: 5 }\n",
  );
  for (const i of [1, 2]) {
    await composeContainer(docker, {
      run,
      project,
      service: "app",
      index: i,
      workingDir: projectDir,
      labels: {
        "io.pooltuner.enabled": "true",
        "io.pooltuner.database": "lineage",
        "io.pooltuner.pool-size-env": "LINEAGE_DB_POOL_SIZE",
        "io.pooltuner.max-overflow-env": "LINEAGE_DB_MAX_OVERFLOW",
      },
      env: {
        GUNICORN_WORKERS: "4",
        LINEAGE_DB_POOL_SIZE: "2",
        LINEAGE_DB_MAX_OVERFLOW: "3",
        DATABASE_URL: database.appUrl,
      },
    });
  }
  const port = await freePort();
  const sidecar = await docker.createContainer({
    name: `${project}-pooltuner-1`,
    Image: tag,
    User: "0:0",
    Cmd: [
      ...["compose", "--config", "/etc/pooltuner/pooltuner.yaml", "--project", project, "--project-dir", "/project"],
      ...["--poll-interval", "1s", "--settle", "1s", "--http-port", String(port)],
    ],
    Env: [`LINEAGE_MONITOR_URL=${database.monitorUrl}`],
    Labels: {
      [RUN_LABEL]: run,
      "com.docker.compose.project": project,
      "com.docker.compose.service": "pooltuner",
      "com.docker.compose.oneoff": "False",
    },
    StopTimeout: 30,
    HostConfig: {
      // Host networking: MariaDB listens on loopback here, and /metrics is reachable from the test.
      NetworkMode: "host",
      Binds: [
        `${socket}:/var/run/docker.sock`,
        `${dir}/pooltuner.yaml:/etc/pooltuner/pooltuner.yaml:ro`,
        `${projectDir}:/project`,
      ],
    },
  });
  await sidecar.start();
  try {
    await eventually("the sidecar to lower the app's pools", 60_000, async () => {
      const pools = await Promise.all(
        [1, 2].map(async (i) => {
          const env = await containerEnv(docker, `${project}-app-${i}`);
          return `${env.get("LINEAGE_DB_POOL_SIZE")}+${env.get("LINEAGE_DB_MAX_OVERFLOW")}`;
        }),
      );
      return pools.every((p) => p === "1+1") ? true : undefined;
    });
    const persisted = await readFile(join(projectDir, ".pooltuner", "app.env"), "utf8");
    const owner = await stat(join(projectDir, ".pooltuner", "app.env"));
    expect([owner.uid, owner.gid]).toEqual([1000, 1000]);
    expect(Object.fromEntries(parseEnvFile(persisted).vars)).toEqual({
      LINEAGE_DB_POOL_SIZE: "1",
      LINEAGE_DB_MAX_OVERFLOW: "1",
    });
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).toBe("ok\n");
    await eventually("/readyz", 10_000, async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined,
    );
    // The counter moves when the apply has finished (the last container healthy), a little after its env changed.
    const metrics = await eventually("the apply to be counted", 30_000, async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // One counted apply, whatever the order of its labels (namespace, kind and name came with issue 12).
      const want = [
        `workload="compose:${project}/app"`,
        `namespace="${project}"`,
        'kind="ComposeService"',
        'name="app"',
      ];
      const counted = text
        .split("\n")
        .filter((l) => l.startsWith("pooltuner_patches_total{") && l.endsWith("} 1"))
        .some((l) => [...want, 'database="lineage"', 'change="decrease"', 'result="ok"'].every((x) => l.includes(x)));
      return counted ? text : undefined;
    });
    expect(metrics).toContain('pooltuner_database_max_connections{database="lineage"} 20');
  } finally {
    await sidecar.stop({ t: 30 });
  }
  const state = (await sidecar.inspect()).State;
  const logs = (await sidecar.logs({ stdout: true, stderr: true })).toString("utf8");
  expect(state.ExitCode).toBe(0);
  expect(logs).toContain("SIGTERM: stopping");
  expect(logs).not.toContain(database.monitorUrl.split("@")[0]?.split(":")[2] as string);
});
