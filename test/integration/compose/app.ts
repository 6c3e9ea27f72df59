// The example app (examples/lineage: Flask + SQLAlchemy + PyMySQL under Gunicorn) as real containers on the
// test bed: an image built from the local base (no registry), replicas on host networking (MariaDB listens on
// loopback), each replica on its own loopback port, with the labels and env docker compose would give them.
// No vitest imports here: bench/compose-load.ts uses it too.
import { createHash } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";

const APP_DIR = new URL("../../../examples/lineage/", import.meta.url).pathname;
const APP_FILES = ["app.py", "gunicorn.conf.py"];
export const APP_BASE = "pooltuner/base-python:bookworm";

/** Builds (once per content) `pooltuner-test/lineage:<hash>` from the local base image and the example's code. */
export function buildAppImage(docker: Docker): Promise<string> {
  return buildExampleImage(docker, {
    dir: APP_DIR,
    files: APP_FILES,
    base: APP_BASE,
    repository: "pooltuner-test/lineage",
    cmd: ["gunicorn", "-c", "gunicorn.conf.py", "app:app"],
  });
}

export interface ExampleImage {
  /** The example's directory (ends in `/`). */
  readonly dir: string;
  readonly files: readonly string[];
  /** A test-bed base image (scripts/testbed/docker.sh) with the example's packages. */
  readonly base: string;
  readonly repository: string;
  readonly cmd: readonly string[];
}

/** Builds (once per content) `<repository>:<hash>` from a local base image and an example's code: no registry. */
export async function buildExampleImage(docker: Docker, e: ExampleImage): Promise<string> {
  const hash = createHash("sha256");
  for (const f of e.files) hash.update(await readFile(join(e.dir, f)));
  hash.update(((await docker.getImage(e.base).inspect()) as { Id: string }).Id);
  const tag = `${e.repository}:${hash.digest("hex").slice(0, 12)}`;
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch {
    // not built yet
  }
  const ctx = await mkdtemp(join(tmpdir(), "pooltuner-app-image-"));
  try {
    for (const f of e.files) await copyFile(join(e.dir, f), join(ctx, f));
    await writeFile(
      join(ctx, "Dockerfile"),
      [`FROM ${e.base}`, "WORKDIR /app", `COPY ${e.files.join(" ")} ./`, `CMD ${JSON.stringify(e.cmd)}`, ""].join("\n"),
    );
    const stream = await docker.buildImage({ context: ctx, src: ["Dockerfile", ...e.files] }, { t: tag, rm: true });
    await followBuild(docker, stream, tag);
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
  return tag;
}

/** Waits for a build stream; throws with the builder's own message when a step failed. */
export async function followBuild(docker: Docker, stream: NodeJS.ReadableStream, what: string): Promise<string[]> {
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, res: { error?: string; stream?: string }[]) => {
        const failed = err?.message ?? res.find((r) => r.error)?.error;
        if (failed) reject(new Error(`building ${what} failed: ${failed}\n${output.slice(-30).join("")}`));
        else resolve();
      },
      (e: { stream?: string }) => {
        if (e.stream) output.push(e.stream);
      },
    );
  });
  return output;
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface AppReplicaSpec {
  readonly image: string;
  readonly project: string;
  readonly index: number;
  readonly port: number;
  /** The app's database URL; omitted, the app builds it from `LINEAGE_DB_*` parts given in `env`. */
  readonly databaseUrl?: string;
  /** The env var holding `databaseUrl`: DATABASE_URL by default; the seed's app read LINEAGE_DB_URL. */
  readonly urlEnv?: string;
  /** More env for the app (e.g. the URL's parts). */
  readonly env?: Readonly<Record<string, string>>;
  readonly poolSize: number;
  readonly maxOverflow: number;
  readonly workers: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly workingDir?: string;
}

/** One replica of the app service, as compose names and labels it; healthy when /healthz answers. */
export async function startAppReplica(docker: Docker, spec: AppReplicaSpec): Promise<Docker.Container> {
  const c = await docker.createContainer({
    name: `${spec.project}-app-${spec.index}`,
    Image: spec.image,
    Env: [
      `GUNICORN_BIND=127.0.0.1:${spec.port}`,
      `GUNICORN_WORKERS=${spec.workers}`,
      "GUNICORN_THREADS=8",
      `LINEAGE_DB_POOL_SIZE=${spec.poolSize}`,
      `LINEAGE_DB_MAX_OVERFLOW=${spec.maxOverflow}`,
      ...(spec.databaseUrl !== undefined ? [`${spec.urlEnv ?? "DATABASE_URL"}=${spec.databaseUrl}`] : []),
      ...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ],
    Labels: {
      "com.docker.compose.project": spec.project,
      "com.docker.compose.service": "app",
      "com.docker.compose.container-number": String(spec.index),
      "com.docker.compose.oneoff": "False",
      ...(spec.workingDir ? { "com.docker.compose.project.working_dir": spec.workingDir } : {}),
      ...spec.labels,
    },
    Healthcheck: {
      Test: ["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${spec.port}/healthz`],
      Interval: 1e9,
      Timeout: 2e9,
      Retries: 30,
    },
    StopTimeout: 10,
    HostConfig: { NetworkMode: "host", RestartPolicy: { Name: "unless-stopped", MaximumRetryCount: 0 } },
  });
  await c.start();
  return c;
}

/** Until every container is healthy (or fails with the last state seen). */
export async function waitHealthy(docker: Docker, ids: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const id of ids) {
    for (;;) {
      const s = (await docker.getContainer(id).inspect()).State;
      if (s.Health?.Status === "healthy") break;
      if (!s.Running || Date.now() > deadline)
        throw new Error(`container ${id.slice(0, 12)} is not healthy: ${s.Status} ${s.Health?.Status ?? ""}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
