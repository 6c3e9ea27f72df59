// `pooltuner controller`: the in-cluster Kubernetes controller (src/kube/controller.ts). This file only reads flags
// and the environment (once, here), builds the options and runs until SIGTERM/SIGINT. Losing the lease ends the
// process with exit 1 so Kubernetes restarts it as a standby; it never keeps writing without the lease.

import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import type { UpdateMode } from "../core/index.js";
import { DEFAULT_DAMPING } from "../core/index.js";
import { type KubeConfig, loadKubeConfig } from "../kube/client.js";
import { startController } from "../kube/controller.js";
import { createLogger, type LogFormat } from "../runtime/logger.js";
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
import { listenFailure } from "./http-port.js";
import { version } from "./version.js";

interface ControllerFlags {
  config?: string;
  mysqlUrl: string[];
  postgresUrl: string[];
  kubeconfig?: string;
  namespace: string[];
  labelSelector?: string;
  updateMode: UpdateMode;
  pollInterval: string;
  failureBackoff: string;
  cooldown: string;
  minGain: string;
  rolloutTimeout: string;
  decreaseSurge: "drop" | "keep";
  rolloutCheckInterval: string;
  debounce: string;
  resyncInterval: string;
  unmanagedWindow: string;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  leaseOwnerDeployment?: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  kubeRequestTimeout: string;
  identity?: string;
  httpPort: string;
  logLevel: string;
  logFormat: LogFormat;
  maxConcurrentRestarts?: string;
  maxRestartsPerHour?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** Adds `controller` to the program; `setCode` receives the exit code when the command ends. */
export function registerControllerCommand(program: Command, setCode: (code: number) => void): void {
  program
    .command("controller")
    .description(
      "run in Kubernetes: watch Deployments/StatefulSets annotated pooltuner.io/enabled=true, their HPAs and the " +
        "databases, and roll out safe pool settings one workload at a time",
    )
    .option(
      "--config <file>",
      "configuration: databases (name, url/urlFile/urlEnv, reserve, namespaces, maxWeight), reserve, sizingTable (env POOLTUNER_CONFIG)",
    )
    .option(
      "--mysql-url <[name=]url>",
      "a database without a config file (repeat with name=; env POOLTUNER_MYSQL_URL; default name: default)",
      collect,
      [],
    )
    .option(
      "--postgres-url <[name=]url>",
      "a PostgreSQL database without a config file (repeat with name=; env POOLTUNER_POSTGRES_URL; default name: default)",
      collect,
      [],
    )
    .option(
      "--kubeconfig <file>",
      "kubeconfig (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)",
    )
    .option(
      "--namespace <ns>",
      "watch only this namespace (repeat, or comma-separated; env POOLTUNER_NAMESPACES; default: all)",
      collect,
      [],
    )
    .option("--label-selector <selector>", "watch only workloads with these labels (annotations cannot be selected)")
    .addOption(
      new Option("--update-mode <mode>", "auto: apply; off: recommend only (events, status, metrics)")
        .choices(["auto", "off"])
        .default("auto"),
    )
    .option("--poll-interval <duration>", "probe the databases this often", "15s")
    .option(
      "--failure-backoff <duration>",
      "after a refused patch, wait this long before trying the same change",
      "15m",
    )
    .option("--cooldown <duration>", "an increase waits this long after the workload last changed", "10m")
    .option("--min-gain <n>", "an increase must raise pool_size+max_overflow by at least this", "1")
    .option("--rollout-timeout <duration>", "report a rollout not complete after this and stop waiting for it", "10m")
    .addOption(
      new Option(
        "--decrease-surge <mode>",
        "drop: a decrease from over budget rolls out with maxSurge 0, maxUnavailable 1 and the strategy is put back after; keep: never touch spec.strategy (GitOps owns it)",
      )
        .choices(["drop", "keep"])
        .default("drop"),
    )
    .option("--rollout-check-interval <duration>", "look at a rollout in progress this often", "5s")
    .option("--debounce <duration>", "merge changes to one database within this window", "500ms")
    .option("--resync-interval <duration>", "re-plan every database this often even without changes", "5m")
    .option("--unmanaged-window <duration>", "other clients' connections count at their highest over this window", "5m")
    .option("--no-leader-elect", "run without a Lease (only with a single replica)")
    .option(
      "--leader-election-namespace <ns>",
      "namespace of the Lease (default: env POD_NAMESPACE, else the pod's own namespace, else default)",
    )
    .option("--leader-election-id <name>", "name of the Lease", "pooltuner")
    .option(
      "--lease-owner-deployment <name>",
      "the Deployment (in the Lease's namespace) that owns the Lease: it is garbage-collected with it",
    )
    .option("--lease-duration <duration>", "a standby takes over after the lease went unrenewed this long", "15s")
    .option("--renew-deadline <duration>", "the leader steps down when it could not renew for this long", "10s")
    .option("--retry-period <duration>", "how often to renew or try to acquire the lease", "2s")
    .option("--kube-request-timeout <duration>", "every Kubernetes API call (but watches) fails after this long", "30s")
    .option("--identity <name>", "this replica in the Lease and in events (default: env POD_NAME, else hostname)")
    .option("--http-port <port>", "serve /healthz, /readyz and /metrics on this port (0: off)", "9090")
    .option("--log-level <level>", "pino level: debug, info, warn, error", "info")
    .addOption(LOG_FORMAT_OPTION())
    .addOption(MAX_CONCURRENT_RESTARTS_OPTION())
    .addOption(MAX_RESTARTS_PER_HOUR_OPTION())
    .exitOverride()
    .action(async (flags: ControllerFlags) => {
      setCode(await runController(flags));
    });
}

async function runController(flags: ControllerFlags): Promise<number> {
  const env = process.env;
  const config = await daemonConfig(flags, env);
  const log = createLogger({ level: flags.logLevel, format: flags.logFormat, name: "pooltuner-controller" });
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(flags.kubeconfig);
  } catch (err) {
    throw new CliError("bad-input", [`cannot load the kubeconfig: ${(err as Error).message}`]);
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new CliError("bad-input", ["no Kubernetes cluster: run in a pod or give --kubeconfig"]);
  }
  const namespaces = [...flags.namespace, ...(env.POOLTUNER_NAMESPACES ? [env.POOLTUNER_NAMESPACES] : [])]
    .flatMap((n) => n.split(","))
    .map((n) => n.trim())
    .filter((n) => n !== "");
  const httpPort = port(flags.httpPort, "--http-port");
  const leaseDurationMs = duration(flags.leaseDuration, "--lease-duration");
  const renewDeadlineMs = duration(flags.renewDeadline, "--renew-deadline");
  const retryPeriodMs = duration(flags.retryPeriod, "--retry-period");
  if (flags.leaderElect && !(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs)) {
    throw new CliError("bad-input", ["leader election needs --retry-period < --renew-deadline < --lease-duration"]);
  }

  const options: Parameters<typeof startController>[0] = {
    kubeConfig,
    config,
    namespaces: [...new Set(namespaces)],
    ...(flags.labelSelector ? { labelSelector: flags.labelSelector } : {}),
    updateMode: flags.updateMode,
    pollIntervalMs: duration(flags.pollInterval, "--poll-interval"),
    failureBackoffMs: duration(flags.failureBackoff, "--failure-backoff"),
    damping: {
      ...DEFAULT_DAMPING,
      cooldownMs: duration(flags.cooldown, "--cooldown"),
      minGain: count(flags.minGain, "--min-gain", MAX_MIN_GAIN),
    },
    rolloutTimeoutMs: duration(flags.rolloutTimeout, "--rollout-timeout"),
    rolloutCheckMs: duration(flags.rolloutCheckInterval, "--rollout-check-interval"),
    decreaseSurge: flags.decreaseSurge,
    debounceMs: duration(flags.debounce, "--debounce"),
    resyncMs: duration(flags.resyncInterval, "--resync-interval"),
    unmanagedWindowMs: duration(flags.unmanagedWindow, "--unmanaged-window"),
    restartLimits: restartLimits(flags, config),
    version: version(),
    leaderElection: {
      enabled: flags.leaderElect,
      namespace: flags.leaderElectionNamespace ?? env.POD_NAMESPACE ?? ownNamespace() ?? "default",
      name: flags.leaderElectionId,
      ...(flags.leaseOwnerDeployment ? { ownerDeployment: flags.leaseOwnerDeployment } : {}),
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    },
    requestTimeoutMs: duration(flags.kubeRequestTimeout, "--kube-request-timeout"),
    ...((flags.identity ?? env.POD_NAME) ? { identity: (flags.identity ?? env.POD_NAME) as string } : {}),
    ...(httpPort > 0 ? { http: { port: httpPort } } : {}),
    log,
  };
  // Signals are handled from before the start: one that arrives while the caches sync stops the controller as soon
  // as it is up, instead of killing the process mid-start (exit 130 with nothing released).
  let controller: Awaited<ReturnType<typeof startController>> | undefined;
  let stopAsked = false;
  const onSignal = (sig: string) => {
    log.info(`${sig}: stopping (releasing the lease)`);
    stopAsked = true;
    if (controller) void controller.stop();
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
  controller = await startController(options).catch((err: unknown) => {
    throw listenFailure(err, httpPort, "--http-port");
  });
  if (stopAsked) void controller.stop();
  const outcome = await controller.done;
  return exitCodeFor({ kind: "daemon-ended", how: outcome });
}

function ownNamespace(): string | undefined {
  try {
    return readFileSync(SA_NAMESPACE_FILE, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
