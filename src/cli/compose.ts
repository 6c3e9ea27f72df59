// `pooltuner compose`: the daemon beside docker-compose (src/docker/daemon.ts). This file only reads flags and
// the environment (once, here), builds the parts and runs them until SIGTERM/SIGINT; `--once` runs one pass
// and exits with the CLI's usual codes.

import { join } from "node:path";
import type { Command } from "commander";
import { DEFAULT_DAMPING } from "../core/index.js";
import { describeDockerHost, dockerClient } from "../docker/client.js";
import { ComposeDaemon } from "../docker/daemon.js";
import { createLogger, type LogFormat } from "../runtime/logger.js";
import { Metrics } from "../runtime/metrics.js";
import {
  count,
  daemonConfig,
  duration,
  LOG_FORMAT_OPTION,
  MAX_CONCURRENT_RESTARTS_OPTION,
  MAX_MIN_GAIN,
  MAX_RESTARTS_PER_HOUR_OPTION,
  port,
  restartLimits,
} from "./daemon-options.js";
import { CliError, exitCodeFor } from "./exit.js";
import { listen } from "./http-port.js";
import { version } from "./version.js";

interface ComposeFlags {
  config?: string;
  mysqlUrl: string[];
  postgresUrl: string[];
  dockerHost?: string;
  project: string[];
  dryRun: boolean;
  once: boolean;
  pollInterval: string;
  resyncInterval: string;
  cooldown: string;
  minGain: string;
  settle: string;
  startTimeout: string;
  failureBackoff: string;
  unmanagedWindow: string;
  envDir: string;
  persist: boolean;
  pathMap: string[];
  projectDir?: string;
  httpPort: string;
  logLevel: string;
  logFormat: LogFormat;
  maxConcurrentRestarts?: string;
  maxRestartsPerHour?: string;
}

/** Beside the env files: the limits a restarted daemon plans decreases from when it cannot get in. */
const LAST_KNOWN_FILE = "last-limits.json";

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Adds `compose` to the program; `setCode` receives the exit code when the command ends. */
export function registerComposeCommand(program: Command, setCode: (code: number) => void): void {
  program
    .command("compose")
    .description(
      "run beside docker-compose: watch containers labelled io.pooltuner.enabled=true and the database, " +
        "and recreate services with safe pool settings",
    )
    .option(
      "--config <file>",
      "daemon configuration: databases (url/urlFile/urlEnv), reserve, sizingTable (env POOLTUNER_CONFIG)",
    )
    .option(
      "--mysql-url <[name=]url>",
      "a database without a config file: mysql://monitor:password@host:port/ (repeat with name=; env POOLTUNER_MYSQL_URL; default name: default)",
      collect,
      [],
    )
    .option(
      "--postgres-url <[name=]url>",
      "a database without a config file: postgres://monitor:password@host:port/postgres (repeat with name=; env POOLTUNER_POSTGRES_URL; default name: default)",
      collect,
      [],
    )
    .option(
      "--docker-host <url>",
      "Docker Engine: unix:///path or tcp://host:port (env DOCKER_HOST; default unix:///var/run/docker.sock)",
    )
    .option("--project <name>", "only this compose project (repeat for several)", collect, [])
    .option("--dry-run", "plan and log what would change; recreate nothing, write nothing", false)
    .option(
      "--once",
      "one pass: reconcile every database once and exit (0 ok, 1 an apply failed or no plan fits, 3 a database cannot be probed)",
      false,
    )
    .option("--poll-interval <duration>", "probe the databases this often", "15s")
    .option("--resync-interval <duration>", "re-read all containers this often even without events", "5m")
    .option("--cooldown <duration>", "an increase waits this long after the service last changed", "10m")
    .option("--min-gain <n>", "an increase must raise pool_size+max_overflow by at least this", "1")
    .option("--settle <duration>", "a recreated container without a healthcheck must keep running this long", "5s")
    .option("--start-timeout <duration>", "a recreated container must run (and be healthy) within this", "2m")
    .option("--failure-backoff <duration>", "after a failed apply, wait this long before trying the same change", "15m")
    .option("--unmanaged-window <duration>", "other clients' connections count at their highest over this window", "5m")
    .option("--env-dir <dir>", "persist applied values in <project dir>/<dir>/<service>.env", ".pooltuner")
    .option("--no-persist", "do not write env files (a later `docker compose up -d` restores the compose values)")
    .option(
      "--path-map <host=local>",
      "the project directory host path -> the path this process sees it at (when it runs in a container)",
      collect,
      [],
    )
    .option(
      "--project-dir <dir>",
      "a sidecar managing one --project: its compose project directory is mounted here (env files go under it)",
    )
    .option("--http-port <port>", "serve /healthz, /readyz and /metrics on this port (0: off)", "9090")
    .option("--log-level <level>", "pino level: debug, info, warn, error", "info")
    .addOption(LOG_FORMAT_OPTION())
    .addOption(MAX_CONCURRENT_RESTARTS_OPTION())
    .addOption(MAX_RESTARTS_PER_HOUR_OPTION())
    .exitOverride()
    .action(async (flags: ComposeFlags) => {
      setCode(await runCompose(flags));
    });
}

async function runCompose(flags: ComposeFlags): Promise<number> {
  const env = process.env;
  if (flags.projectDir && flags.project.length !== 1)
    throw new CliError("bad-input", ["--project-dir needs exactly one --project (the project mounted there)"]);
  const config = await daemonConfig(flags, env);
  // Every flag is read before anything starts: a bad value is bad input, not a half-started daemon.
  const timing = {
    cooldownMs: duration(flags.cooldown, "--cooldown"),
    minGain: count(flags.minGain, "--min-gain", MAX_MIN_GAIN),
    pollIntervalMs: duration(flags.pollInterval, "--poll-interval"),
    resyncIntervalMs: duration(flags.resyncInterval, "--resync-interval"),
    unmanagedWindowMs: duration(flags.unmanagedWindow, "--unmanaged-window"),
    settleMs: duration(flags.settle, "--settle"),
    startTimeoutMs: duration(flags.startTimeout, "--start-timeout"),
    failureBackoffMs: duration(flags.failureBackoff, "--failure-backoff"),
  };
  const limits = restartLimits(flags, config);
  const httpPort = port(flags.httpPort, "--http-port");
  const pathMap = flags.pathMap.map(pathMapping);
  const logger = createLogger({ level: flags.logLevel, format: flags.logFormat });
  const metrics = new Metrics({ version: version(), daemon: "compose" });

  // The port is taken first, so "already in use" is said before anything else starts.
  let daemon: ComposeDaemon | undefined;
  const http =
    !flags.once && httpPort > 0
      ? await listen(httpPort, "--http-port", {
          port: httpPort,
          metrics,
          healthy: () => daemon?.healthy() ?? true,
          ready: () => daemon?.ready() ?? false,
        })
      : undefined;
  try {
    const dockerHost = flags.dockerHost ?? env.DOCKER_HOST;
    const docker = dockerClient(dockerHost);
    try {
      await docker.ping();
    } catch (err) {
      throw new CliError("unreachable", [
        `cannot reach the Docker Engine at ${describeDockerHost(dockerHost)}: ${(err as Error).message}`,
      ]);
    }
    daemon = new ComposeDaemon({
      docker,
      databases: config.databases,
      policy: config.policy,
      ...(config.profiles ? { profiles: config.profiles } : {}),
      ...(config.paused ? { paused: true } : {}),
      damping: { ...DEFAULT_DAMPING, cooldownMs: timing.cooldownMs, minGain: timing.minGain },
      dryRun: flags.dryRun,
      ...(flags.project.length > 0 ? { projects: flags.project } : {}),
      pollIntervalMs: timing.pollIntervalMs,
      resyncIntervalMs: timing.resyncIntervalMs,
      unmanagedWindowMs: timing.unmanagedWindowMs,
      recreate: { settleMs: timing.settleMs, startTimeoutMs: timing.startTimeoutMs },
      ...(flags.persist
        ? {
            persist: {
              dir: flags.envDir,
              pathMap,
              ...(flags.projectDir ? { projectDir: flags.projectDir } : {}),
            },
          }
        : {}),
      failureBackoffMs: timing.failureBackoffMs,
      restartLimits: limits,
      ...(config.webhooks ? { webhooks: config.webhooks } : {}),
      // A sidecar keeps the limits beside the env files, for a restart while the server is full.
      ...(flags.persist && flags.projectDir && !flags.dryRun
        ? { lastKnownFile: join(flags.projectDir, flags.envDir, LAST_KNOWN_FILE) }
        : {}),
      logger,
      metrics,
    });
    logger.info(
      {
        dockerHost: describeDockerHost(dockerHost),
        databases: config.databases.map((d) => d.name),
        dryRun: flags.dryRun,
        projects: flags.project,
      },
      `pooltuner compose ${flags.once ? "one pass" : "started"}${flags.dryRun ? " (dry run: nothing is changed)" : ""}`,
    );

    if (flags.once) return exitCodeFor({ kind: "passes", reports: await daemon.once() });

    const stop = new AbortController();
    const onSignal = (sig: string) => {
      logger.info(`${sig}: stopping (a recreate in progress finishes first)`);
      stop.abort();
    };
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
    await daemon.run(stop.signal);
    logger.info("stopped");
    return exitCodeFor({ kind: "daemon-ended", how: "stopped" });
  } finally {
    await http?.close();
  }
}

function pathMapping(text: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1 || !text.startsWith("/") || text[eq + 1] !== "/")
    throw new CliError("bad-input", [`--path-map: "${text}" must be /host/path=/local/path`]);
  return [text.slice(0, eq), text.slice(eq + 1)];
}
