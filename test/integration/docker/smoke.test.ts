// Smoke suite of the Docker test bed (issue 3): the private dockerd answers, the registry-free base images run the
// example app's stack (Flask, SQLAlchemy, PyMySQL, Gunicorn), containers can be inspected, stopped and removed,
// user-defined bridge networks attach containers and resolve their names, Node 24 runs on the slim base, and
// `docker build` works FROM a base image without a registry. Everything runs on the real Engine.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  BASE_PYTHON_IMAGE,
  BASE_SLIM_IMAGE,
  dockerClient,
  ROOTFS_LABEL,
  testbedCacheDir,
} from "../../support/docker.js";

const RUN_LABEL = "io.pooltuner.test.run";
const run = randomBytes(4).toString("hex");
const labels = { [RUN_LABEL]: run, "io.pooltuner.test.suite": "docker-smoke" };
const socketPath = inject("dockerSocket");
const docker = dockerClient(socketPath);

/** Splits a non-TTY log buffer (8-byte frame headers: stream, 0, 0, 0, big-endian length) into its two streams. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const size = buf.readUInt32BE(at + 4);
    const frame = buf.subarray(at + 8, at + 8 + size);
    (buf[at] === 2 ? err : out).push(frame);
    at += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

interface Finished {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly inspect: Docker.ContainerInspectInfo;
}

/** Creates and starts a container, waits for it to exit, and returns its output; the container is kept. */
async function runToExit(options: Docker.ContainerCreateOptions): Promise<Finished> {
  const container = await docker.createContainer({ ...options, Labels: { ...labels, ...options.Labels } });
  await container.start();
  const { StatusCode } = (await container.wait()) as { StatusCode: number };
  const logs = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  return { exitCode: StatusCode, ...demux(logs), inspect: await container.inspect() };
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

afterAll(async () => {
  const filters = { label: [`${RUN_LABEL}=${run}`] };
  for (const c of await docker.listContainers({ all: true, filters })) {
    await docker.getContainer(c.Id).remove({ force: true, v: true });
  }
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
  // Top-level images only: the built one and its labelled build stage (left untagged); removing each also
  // removes its untagged intermediate layers.
  for (const i of await docker.listImages({ filters })) {
    await docker
      .getImage(i.Id)
      .remove({ force: true })
      .catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
      });
  }
});

describe("the test bed's Docker Engine", () => {
  it("is the private dockerd on its own data root, reachable through DOCKER_HOST as well", async () => {
    const info = (await docker.info()) as { DockerRootDir: string; Driver: string };
    expect(info.DockerRootDir).toBe(join(testbedCacheDir(), "docker"));
    expect(info.Driver).toBe("overlay2");
    expect(process.env.DOCKER_HOST).toBe(`unix://${socketPath}`);
    // No options: docker-modem reads DOCKER_HOST, as `pooltuner compose` will.
    const fromEnv = (await new Docker().version()) as { ApiVersion: string; Version: string };
    expect(fromEnv.Version).toBe(((await docker.version()) as { Version: string }).Version);
    expect(Number(fromEnv.ApiVersion)).toBeGreaterThanOrEqual(1.41);
  });

  it("has both base images, imported from the cached rootfs tarballs with their env and command", async () => {
    const python = await docker.getImage(BASE_PYTHON_IMAGE).inspect();
    const slim = await docker.getImage(BASE_SLIM_IMAGE).inspect();
    for (const [image, slug] of [
      [python, "base-python"],
      [slim, "base-slim"],
    ] as const) {
      const tarball = image.Config.Labels?.[ROOTFS_LABEL] ?? "";
      expect(tarball).toMatch(new RegExp(`^${slug}-bookworm-[0-9a-f]{16}\\.tar$`));
      expect(existsSync(join(testbedCacheDir(), "images", tarball))).toBe(true);
      expect(image.Config.Env).toContain("LANG=C.UTF-8");
      expect(image.Os).toBe("linux");
    }
    expect(python.Config.Env).toContain("PYTHONUNBUFFERED=1");
    expect(python.Config.Cmd).toEqual(["python3"]);
    expect(slim.Config.Cmd).toEqual(["bash"]);
    expect(slim.Size).toBeLessThan(python.Size);
  });

  it("runs Flask, SQLAlchemy, PyMySQL and Gunicorn from the python image with the env it was given", async () => {
    const script = [
      "import json, os, sys",
      "from importlib.metadata import version",
      "import flask, sqlalchemy, pymysql, gunicorn",
      "print(json.dumps({'python': sys.version.split()[0], 'flask': version('flask'),",
      " 'sqlalchemy': sqlalchemy.__version__, 'pymysql': version('pymysql'),",
      " 'smoke': os.environ.get('POOLTUNER_SMOKE')}))",
    ].join("\n");
    const done = await runToExit({
      name: `pt-smoke-versions-${run}`,
      Image: BASE_PYTHON_IMAGE,
      Cmd: ["sh", "-c", 'python3 -c "$0" && gunicorn --version', script],
      Env: ["POOLTUNER_SMOKE=hello", "LINEAGE_DB_POOL_SIZE=1"],
    });
    expect(done.stderr).toBe("");
    expect(done.exitCode).toBe(0);
    const [json, gunicorn] = done.stdout.trim().split("\n");
    const versions = JSON.parse(json ?? "{}") as Record<string, string>;
    expect(versions.python).toMatch(/^3\.11\./);
    expect(versions.flask).toMatch(/^2\./);
    expect(versions.sqlalchemy).toMatch(/^1\.4\./);
    expect(versions.pymysql).toMatch(/^1\./);
    expect(versions.smoke).toBe("hello");
    expect(gunicorn).toMatch(/^gunicorn \(version 20\.\d+\.\d+\)$/);
    // The container's env is the image's env plus what it was created with.
    expect(done.inspect.Config.Env).toEqual(
      expect.arrayContaining(["POOLTUNER_SMOKE=hello", "LINEAGE_DB_POOL_SIZE=1", "LANG=C.UTF-8"]),
    );
    expect(done.inspect.State.Status).toBe("exited");
  });

  it("serves a Gunicorn app on a user-defined bridge network by name, then stops and removes it", async () => {
    const netName = `pt-smoke-net-${run}`;
    const network = await docker.createNetwork({
      Name: netName,
      Driver: "bridge",
      CheckDuplicate: true,
      Labels: labels,
    });
    const app = [
      "import os",
      "from flask import Flask",
      "app = Flask(__name__)",
      "@app.get('/')",
      "def hello():",
      "    return f\"pool={os.environ['LINEAGE_DB_POOL_SIZE']} pid={os.getpid()}\"",
    ].join("\n");
    const web = await docker.createContainer({
      name: `pt-smoke-web-${run}`,
      Image: BASE_PYTHON_IMAGE,
      Cmd: [
        "sh",
        "-c",
        'printf "%s\\n" "$0" > /tmp/app.py && exec gunicorn --chdir /tmp -w 2 -b 0.0.0.0:8000 app:app',
        app,
      ],
      Env: ["LINEAGE_DB_POOL_SIZE=1"],
      Labels: labels,
      HostConfig: { NetworkMode: netName },
      NetworkingConfig: { EndpointsConfig: { [netName]: { Aliases: ["web"] } } },
    });
    await web.start();
    const running = await web.inspect();
    expect(running.State.Running).toBe(true);
    expect(running.NetworkSettings.Networks[netName]?.IPAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // A second container created on the default bridge and connected to the network afterwards.
    const client = await docker.createContainer({
      name: `pt-smoke-client-${run}`,
      Image: BASE_PYTHON_IMAGE,
      Cmd: [
        "sh",
        "-c",
        "for i in $(seq 100); do curl -fsS http://web:8000/ && exit 0; sleep 0.1; done; echo unreachable >&2; exit 1",
      ],
      Labels: labels,
    });
    await network.connect({ Container: client.id });
    const members = (await network.inspect()) as { Containers?: Record<string, unknown> };
    expect(Object.keys(members.Containers ?? {})).toEqual(expect.arrayContaining([web.id]));
    await client.start();
    const { StatusCode } = (await client.wait()) as { StatusCode: number };
    const { stdout, stderr } = demux(
      (await client.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer,
    );
    expect(stderr).toBe("");
    expect(StatusCode).toBe(0);
    expect(stdout).toMatch(/^pool=1 pid=\d+$/);
    const clientNets = (await client.inspect()).NetworkSettings.Networks;
    expect(Object.keys(clientNets)).toEqual(expect.arrayContaining(["bridge", netName]));

    // Gunicorn exits cleanly on SIGTERM, well within the stop timeout.
    await web.stop({ t: 10 });
    const stopped = await web.inspect();
    expect(stopped.State.Running).toBe(false);
    expect(stopped.State.ExitCode).toBe(0);
    await web.remove();
    await expect(web.inspect().catch(statusOf)).resolves.toBe(404);
    await client.remove();
    await network.remove();
    await expect(network.inspect().catch(statusOf)).resolves.toBe(404);
  });

  it("runs the project's Node 24 binary on the slim image, which has no python", async () => {
    const done = await runToExit({
      name: `pt-smoke-node-${run}`,
      Image: BASE_SLIM_IMAGE,
      Cmd: [
        "sh",
        "-c",
        "! command -v python3 >/dev/null && exec node -e \"console.log(process.version + ' ' + require('node:fs').existsSync('/etc/ssl/certs/ca-certificates.crt'))\"",
      ],
      HostConfig: { Binds: [`${process.execPath}:/usr/local/bin/node:ro`] },
    });
    expect(done.stderr).toBe("");
    expect(done.exitCode).toBe(0);
    expect(process.version).toMatch(/^v24\./);
    expect(done.stdout.trim()).toBe(`${process.version} true`);
  });

  it("builds an image FROM a base image without any registry", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pt-docker-build-"));
    const tag = `pooltuner/smoke-build:${run}`;
    try {
      await writeFile(
        join(dir, "Dockerfile"),
        `FROM ${BASE_SLIM_IMAGE} AS build\nLABEL ${RUN_LABEL}=${run}\nRUN echo built-in-stage-1 > /artifact\n` +
          `FROM ${BASE_SLIM_IMAGE}\nCOPY --from=build /artifact /artifact\nUSER 65532:65532\nCMD ["cat", "/artifact"]\n`,
      );
      const stream = await docker.buildImage({ context: dir, src: ["Dockerfile"] }, { t: tag, labels, pull: false });
      const progress = await new Promise<Array<{ error?: string }>>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) =>
          err ? reject(err) : resolve(out),
        ),
      );
      expect(progress.filter((p) => p.error)).toEqual([]);
      const done = await runToExit({ name: `pt-smoke-built-${run}`, Image: tag });
      expect(done.exitCode).toBe(0);
      expect(done.stdout).toBe("built-in-stage-1\n");
      expect(done.inspect.Config.User).toBe("65532:65532");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
