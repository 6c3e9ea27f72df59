// Helpers of the compose suite: containers that look exactly like docker compose's (same labels), created with
// dockerode on the test bed's real Engine; a MariaDB with the app and monitoring accounts; an in-memory logger.
// Every object a test creates carries RUN_LABEL, so cleanup removes only this run's containers, networks, volumes.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import Docker from "dockerode";
import { pino } from "pino";
import { inject } from "vitest";
import { DEFAULT_DAMPING, DEFAULT_POLICY } from "../../../src/core/index.js";
import type { ComposeDaemonOptions } from "../../../src/docker/daemon.js";
import { envMap } from "../../../src/docker/labels.js";
import type { Logger } from "../../../src/runtime/logger.js";
import { Metrics } from "../../../src/runtime/metrics.js";
import { type MariaDb, startMariaDb } from "../../support/mariadb.js";

export const RUN_LABEL = "pooltuner-test.run";
export const SLIM = "pooltuner/base-slim:bookworm";
export const PYTHON = "pooltuner/base-python:bookworm";

export function testDocker(): Docker {
  return new Docker({ socketPath: inject("dockerSocket") });
}

export const newRun = (): string => randomBytes(4).toString("hex");

/** Removes every container, network and volume labelled with this run. */
export async function cleanupRun(docker: Docker, run: string): Promise<void> {
  const filters = { label: [`${RUN_LABEL}=${run}`] };
  for (const c of await docker.listContainers({ all: true, filters })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => {});
  }
  for (const n of await docker.listNetworks({ filters })) {
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => {});
  }
  const vols = await docker.listVolumes({ filters });
  for (const v of vols.Volumes ?? []) {
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => {});
  }
}

export interface ComposeContainerSpec {
  readonly run: string;
  readonly project: string;
  readonly service: string;
  readonly index: number;
  readonly image?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cmd?: string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly workingDir?: string;
  /** Extra create options (HostConfig is merged over the defaults). */
  readonly extra?: Partial<Docker.ContainerCreateOptions>;
  readonly start?: boolean;
}

/**
 * The project directory `docker compose up` would have run in: it exists and its compose.yaml defines the service
 * (the daemon writes env files only there). Returns the labels compose puts on the containers.
 */
export async function composeProjectDir(dir: string, service: string): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, "compose.yaml");
  const text = await readFile(file, "utf8").catch(() => "services:\n");
  if (!text.includes(`\n  ${service}:\n`)) await writeFile(file, `${text}  ${service}:\n    image: ${SLIM}\n`);
  return {
    "com.docker.compose.project.working_dir": dir,
    "com.docker.compose.project.config_files": file,
  };
}

/** A container with the labels `docker compose up` puts on `<project>-<service>-<index>`. */
export async function composeContainer(docker: Docker, spec: ComposeContainerSpec): Promise<Docker.Container> {
  const name = `${spec.project}-${spec.service}-${spec.index}`;
  const { HostConfig: extraHost, ...extra } = spec.extra ?? {};
  const c = await docker.createContainer({
    name,
    Image: spec.image ?? SLIM,
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Cmd: spec.cmd ?? ["sleep", "infinity"],
    Labels: {
      [RUN_LABEL]: spec.run,
      "com.docker.compose.project": spec.project,
      "com.docker.compose.service": spec.service,
      "com.docker.compose.container-number": String(spec.index),
      "com.docker.compose.oneoff": "False",
      ...(spec.workingDir ? await composeProjectDir(spec.workingDir, spec.service) : {}),
      ...spec.labels,
    },
    StopTimeout: 2,
    ...extra,
    // tini forwards SIGTERM, so `sleep` stops at once instead of after the stop timeout.
    HostConfig: { Init: true, NetworkMode: "none", ...extraHost },
  });
  if (spec.start !== false) await c.start();
  return c;
}

export async function containerEnv(docker: Docker, nameOrId: string): Promise<Map<string, string>> {
  return envMap((await docker.getContainer(nameOrId).inspect()).Config.Env);
}

/** Names and ids of a project's containers (backups included, so a leftover shows up). */
export async function projectContainers(docker: Docker, project: string): Promise<{ name: string; id: string }[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project}`] },
  });
  return list
    .map((c) => ({ name: (c.Names[0] ?? "").replace(/^\//, ""), id: c.Id }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

export interface CapturedLog {
  readonly logger: Logger;
  readonly lines: () => { level: number; msg: string; [k: string]: unknown }[];
  readonly text: () => string;
}

/** A pino logger writing JSON lines into memory, with the production redaction paths. */
export function captureLogger(): CapturedLog {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      cb();
    },
  });
  const logger = pino(
    { level: "debug", base: undefined, redact: { paths: ["url", "*.url", "password"], censor: "[redacted]" } },
    stream,
  );
  return {
    logger,
    lines: () => lines.map((l) => JSON.parse(l)),
    text: () => lines.join("\n"),
  };
}

export interface TestDatabase {
  readonly db: MariaDb;
  /** The app's account; its connections are what the plan manages. */
  readonly appUrl: string;
  /** Monitoring account with PROCESS only. */
  readonly monitorUrl: string;
  readonly appPassword: string;
}

/** A private MariaDB with `lineage` (the app) and `monitor` (PROCESS) accounts; `extraArgs` go to mariadbd. */
export async function startTestDatabase(
  label: string,
  maxConnections: number,
  extraArgs: string[] = [],
): Promise<TestDatabase> {
  const db = await startMariaDb({ label, maxConnections, extraArgs });
  const appPassword = randomBytes(8).toString("hex");
  const monitorPassword = randomBytes(8).toString("hex");
  await db.query("CREATE DATABASE lineage");
  await db.query(`CREATE USER 'lineage'@'%' IDENTIFIED BY '${appPassword}'`);
  await db.query("GRANT ALL ON lineage.* TO 'lineage'@'%'");
  await db.query(`CREATE USER 'monitor'@'%' IDENTIFIED BY '${monitorPassword}'`);
  await db.query("GRANT PROCESS ON *.* TO 'monitor'@'%'");
  return {
    db,
    appPassword,
    appUrl: `mysql+pymysql://lineage:${appPassword}@127.0.0.1:${db.port}/lineage`,
    monitorUrl: `mysql://monitor:${monitorPassword}@127.0.0.1:${db.port}/`,
  };
}

/** Daemon options for tests: short timers, no cooldown unless a test sets one. */
export function daemonOptions(
  docker: Docker,
  database: TestDatabase,
  logger: Logger,
  over: Partial<ComposeDaemonOptions> = {},
): ComposeDaemonOptions {
  return {
    docker,
    databases: [{ name: "lineage", url: database.monitorUrl }],
    policy: DEFAULT_POLICY,
    damping: { ...DEFAULT_DAMPING, cooldownMs: 0 },
    dryRun: false,
    pollIntervalMs: 500,
    resyncIntervalMs: 60_000,
    unmanagedWindowMs: 0,
    recreate: { settleMs: 1_000, startTimeoutMs: 30_000 },
    failureBackoffMs: 60_000,
    logger,
    metrics: new Metrics(),
    ...over,
  };
}

/** Polls `check` until it returns a value other than undefined, or fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
