// The two worlds of the conformance suite, behind one small interface: a workload of the seed's shape (4 workers,
// stop-first/Recreate so both worlds plan `replicas × workers × cap` with no surge), its pool env, a version that
// changes with any write to it, and a daemon running its real loop against a real MariaDB. The Kubernetes world is
// the run's kwok control plane with the controller authenticated through the manifests' RBAC; the compose world is
// the test bed's dockerd with containers labelled as `docker compose up` labels them.
import { randomBytes } from "node:crypto";
import { PatchStrategy, setHeaderOptions, type V1Deployment, type V1Node } from "@kubernetes/client-node";
import {
  type ChangeWindow,
  type Damping,
  DEFAULT_DAMPING,
  DEFAULT_POLICY,
  parseChangeWindow,
  type RestartLimits,
} from "../../../src/core/index.js";
import { ComposeDaemon } from "../../../src/docker/daemon.js";
import type { RunningController } from "../../../src/kube/controller.js";
import { startHttpServer } from "../../../src/runtime/http-server.js";
import { createLogger } from "../../../src/runtime/logger.js";
import { Metrics } from "../../../src/runtime/metrics.js";
import type { PassReport } from "../../../src/runtime/pass-types.js";
import type { WebhookConfig } from "../../../src/runtime/webhooks.js";
import { applyManifest, eventually } from "../../support/cluster.js";
import {
  cleanupRun,
  composeContainer,
  containerEnv,
  projectContainers,
  RUN_LABEL,
  testDocker,
} from "../compose/support.js";
import {
  type Cluster,
  cluster,
  createApp,
  createNamespace,
  deploymentOf,
  eventsFor,
  getDeployment,
  mergePatch,
  replicaSets,
  rolledOut,
  runController,
  seedApp,
  statusOf,
} from "../controller/harness.js";

const strategicPatch = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

export interface AppOptions {
  readonly replicas: number;
  /** `pool+overflow`, e.g. "2+3". */
  readonly pool: string;
  readonly updateMode?: "auto" | "off";
  /** The app refuses to run (compose) or to be updated (Kubernetes admission) with this DB_POOL_SIZE. */
  readonly refusePoolSize?: string;
  /** The database it names (default `db`). */
  readonly database?: string;
  /** Paused by a person: the `pooltuner.io/paused` annotation (Kubernetes), the `io.pooltuner.paused` label (compose). */
  readonly paused?: boolean;
  /**
   * Once pooltuner changes it, its new pods or containers never get ready until `unstick`: the node loses a label its
   * pods select (Kubernetes), a healthcheck passes only with the pool it was created with (compose).
   */
  readonly neverReadyAfterChange?: boolean;
}

export interface DaemonOptions {
  readonly url: string;
  readonly damping?: Damping;
  readonly failureBackoffMs?: number;
  /** The databases configured, all at `url` (default one, `db`). */
  readonly databases?: readonly string[];
  readonly restartLimits?: RestartLimits;
  /** Change windows of every database. */
  readonly changeWindows?: readonly string[];
  /** The wall clock the windows are read against. */
  readonly wallClock?: () => number;
  /** Webhooks told of applies and conditions (retried after 200 ms, doubling). */
  readonly webhooks?: readonly WebhookConfig[];
  /** Serve /metrics, /healthz and /readyz on a free port of 127.0.0.1, as the daemon's --http-port does. */
  readonly serve?: boolean;
  /** The global switch (`paused: true` in the configuration file). */
  readonly paused?: boolean;
  /** `--rollout-timeout` (Kubernetes), `--start-timeout` (compose); default 60 s and 30 s. */
  readonly rolloutTimeoutMs?: number;
}

/** The databases of a daemon, as its configuration file would give them. */
function databasesOf(o: DaemonOptions) {
  const windows = o.changeWindows?.map((t): ChangeWindow => {
    const w = parseChangeWindow(t);
    if ("error" in w) throw new Error(w.error);
    return w.window;
  });
  return (o.databases ?? ["db"]).map((name) => ({ name, url: o.url, ...(windows ? { changeWindows: windows } : {}) }));
}

export interface RunningDaemon {
  /** Every pass so far, oldest first. */
  reports(): readonly PassReport[];
  /** The daemon has observed `replicas` replicas of the app (its next pass plans with them). */
  sees(replicas: number): Promise<boolean>;
  /** Its /metrics text, as Prometheus would scrape it. */
  metrics(): Promise<string>;
  /** With `serve`: where its HTTP server listens (`http://127.0.0.1:PORT`). */
  readonly url?: string;
  /** The messages of its Warnings about the app of `scope` with `reason`: Events (Kubernetes), warn lines (compose). */
  warnings(scope: string, reason: string): Promise<string[]>;
  /** What the app's status says: the `pooltuner.io/status` annotation (Kubernetes), `pooltuner_workload_paused` (compose). */
  saysPaused(scope: string): Promise<boolean>;
  stop(): Promise<void>;
}

export interface World {
  readonly name: "kube" | "compose";
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A fresh scope (namespace, compose project) with the app in it. */
  app(label: string, o: AppOptions): Promise<string>;
  scale(scope: string, replicas: number): Promise<void>;
  /** `pool+overflow` the app runs with ("mixed" when its replicas disagree). */
  pool(scope: string): Promise<string>;
  /** Changes with any write to the app: resourceVersion (Kubernetes), the container ids (compose). */
  version(scope: string): Promise<string>;
  /** Changes only when the app is restarted: its ReplicaSets (Kubernetes), the container ids (compose). */
  specVersion(scope: string): Promise<string>;
  /** Whatever the world does on its own after a change has finished (a Deployment's rollout status). */
  settle(scope: string): Promise<void>;
  /** A daemon over one scope, or several (the first is the one `sees` looks at). */
  daemon(scope: string | readonly string[], o: DaemonOptions): Promise<RunningDaemon>;
  /** A person pauses or unpauses the app (compose: edits the label and runs `docker compose up -d`). */
  setPaused(scope: string, paused: boolean): Promise<void>;
  /** What kept an app of `neverReadyAfterChange` from getting ready is fixed (the node label back, the app fixed). */
  unstick(scope: string): Promise<void>;
}

const ANNOTATIONS = (o: AppOptions) => ({
  "pooltuner.io/account": "app",
  ...(o.updateMode ? { "pooltuner.io/update-mode": o.updateMode } : {}),
  ...(o.paused ? { "pooltuner.io/paused": "true" } : {}),
});

export class KubeWorld implements World {
  readonly name = "kube";
  private c!: Cluster;
  /** The node labels `neverReadyAfterChange` apps select, by namespace. */
  private readonly nodeLabels = new Map<string, string>();

  async setup() {
    this.c = await cluster();
  }
  async teardown() {
    for (const label of this.nodeLabels.values()) await this.labelNode(label, null).catch(() => {});
  }

  async app(label: string, o: AppOptions): Promise<string> {
    const ns = await createNamespace(this.c, `cf-${label}`);
    const [poolSize, maxOverflow] = o.pool.split("+");
    const spec = seedApp("app", ns, o.database ?? "db", {
      replicas: o.replicas,
      env: [
        { name: "GUNICORN_WORKERS", value: "4" },
        { name: "DB_POOL_SIZE", value: poolSize as string },
        { name: "DB_MAX_OVERFLOW", value: maxOverflow as string },
      ],
      strategy: { type: "Recreate" },
      annotations: ANNOTATIONS(o),
    });
    if (o.neverReadyAfterChange) {
      // Its pods select a node label that is there now and taken away once they run: a new pod cannot be scheduled.
      const nodeLabel = `pooltuner-test/${ns}`;
      this.nodeLabels.set(ns, nodeLabel);
      await this.labelNode(nodeLabel, "yes");
      const d = deploymentOf(spec);
      const pod = d.spec?.template.spec;
      if (pod) pod.nodeSelector = { [nodeLabel]: "yes" };
      await this.c.apps.createNamespacedDeployment({ namespace: ns, body: d });
    } else {
      await createApp(this.c, spec);
    }
    if (o.refusePoolSize !== undefined) await this.refuse(ns, o.refusePoolSize);
    await rolledOut(this.c, ns, "app");
    const nodeLabel = this.nodeLabels.get(ns);
    if (nodeLabel) await this.labelNode(nodeLabel, null);
    return ns;
  }

  private async node(): Promise<V1Node> {
    const nodes = (await this.c.core.listNode()).items.filter((n) => !n.spec?.unschedulable);
    return nodes[0] as V1Node;
  }

  private async labelNode(label: string, value: string | null) {
    const name = (await this.node()).metadata?.name ?? "";
    await this.c.core.patchNode({ name, body: { metadata: { labels: { [label]: value } } } }, mergePatch);
  }

  async setPaused(ns: string, paused: boolean) {
    const annotations = { "pooltuner.io/paused": paused ? "true" : null };
    await this.c.apps.patchNamespacedDeployment(
      { name: "app", namespace: ns, body: { metadata: { annotations } } },
      mergePatch,
    );
  }

  async unstick(ns: string) {
    const nodeLabel = this.nodeLabels.get(ns);
    if (nodeLabel) await this.labelNode(nodeLabel, "yes");
  }

  /** A ValidatingAdmissionPolicy that denies the app's update to DB_POOL_SIZE=value (an apply that fails). */
  private async refuse(ns: string, value: string) {
    const yaml = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: refuse-${ns} }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - { apiGroups: ["apps"], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["deployments"] }
  validations:
    - expression: "!object.spec.template.spec.containers.exists(c, has(c.env) && c.env.exists(e, e.name == 'DB_POOL_SIZE' && has(e.value) && e.value == '${value}'))"
      message: "this app refuses DB_POOL_SIZE=${value}"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: refuse-${ns} }
spec:
  policyName: refuse-${ns}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${ns} } }
`;
    await applyManifest(this.c.admin, { yaml });
    // Policies take effect asynchronously: wait until a dry run of the refused update is denied.
    const env = [{ name: "DB_POOL_SIZE", value: value }];
    await eventually(`the admission policy of ${ns} in force`, async () => {
      try {
        await this.c.apps.patchNamespacedDeployment(
          {
            name: "app",
            namespace: ns,
            dryRun: "All",
            body: { spec: { template: { spec: { containers: [{ name: "web", env }] } } } },
          },
          strategicPatch,
        );
        return undefined;
      } catch (err) {
        return (err as { code?: number }).code === 422 || (err as { code?: number }).code === 403 ? true : undefined;
      }
    });
  }

  async scale(ns: string, replicas: number) {
    await this.c.apps.patchNamespacedDeployment(
      { name: "app", namespace: ns, body: { spec: { replicas } } },
      mergePatch,
    );
  }

  async pool(ns: string) {
    return poolOfDeployment(await getDeployment(this.c, ns, "app"));
  }
  async version(ns: string) {
    return (await getDeployment(this.c, ns, "app")).metadata?.resourceVersion ?? "";
  }
  /** The ReplicaSets: a new one is a rollout (annotations, the status included, bump a Deployment's generation). */
  async specVersion(ns: string) {
    return (await replicaSets(this.c, ns, "app"))
      .map((r) => r.metadata?.name)
      .sort()
      .join(" ");
  }
  async settle(ns: string) {
    await rolledOut(this.c, ns, "app");
  }

  async daemon(scopes: string | readonly string[], o: DaemonOptions): Promise<RunningDaemon> {
    const namespaces = typeof scopes === "string" ? [scopes] : [...scopes];
    const ns = namespaces[0] as string;
    const ctl: RunningController = await runController(this.c, {
      databases: databasesOf(o),
      namespaces,
      ...(o.restartLimits ? { restartLimits: o.restartLimits } : {}),
      ...(o.wallClock ? { wallClock: o.wallClock } : {}),
      ...(o.webhooks || o.paused
        ? {
            config: {
              databases: databasesOf(o),
              policy: DEFAULT_POLICY,
              ...(o.webhooks ? { webhooks: o.webhooks } : {}),
              ...(o.paused ? { paused: true } : {}),
            },
          }
        : {}),
      ...(o.webhooks ? { webhookRetryMs: 200 } : {}),
      ...(o.rolloutTimeoutMs !== undefined ? { rolloutTimeoutMs: o.rolloutTimeoutMs } : {}),
      ...(o.damping ? { damping: o.damping } : {}),
      failureBackoffMs: o.failureBackoffMs ?? 60_000,
      unmanagedWindowMs: 0,
      // A pass every second whatever the events say, so "a later pass" always comes (the same in both worlds).
      resyncMs: 1_000,
      ...(o.serve ? { http: { port: 0, host: "127.0.0.1" } } : {}),
    });
    return {
      reports: () => ctl.reconciler.reports,
      sees: async (replicas) => ctl.cache.getWorkload("Deployment", ns, "app")?.spec?.replicas === replicas,
      metrics: () => ctl.metrics.registry.metrics(),
      ...(ctl.port !== undefined ? { url: `http://127.0.0.1:${ctl.port}` } : {}),
      warnings: async (scope, reason) =>
        (await eventsFor(this.c, scope, "app"))
          .filter((e) => e.reason === reason && e.type === "Warning")
          .map((e) => e.message ?? ""),
      saysPaused: async (scope) => statusOf(await getDeployment(this.c, scope, "app"))?.paused === true,
      stop: () => ctl.stop(),
    };
  }
}

function poolOfDeployment(d: V1Deployment): string {
  const env = new Map((d.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
  return `${env.get("DB_POOL_SIZE")}+${env.get("DB_MAX_OVERFLOW")}`;
}

export class ComposeWorld implements World {
  readonly name = "compose";
  private readonly docker = testDocker();
  private readonly run = randomBytes(3).toString("hex");
  private readonly apps = new Map<string, AppOptions>();

  async setup() {}
  async teardown() {
    await cleanupRun(this.docker, this.run);
  }

  async app(label: string, o: AppOptions): Promise<string> {
    const project = `cf${this.run}${label.replace(/[^a-z0-9]/g, "")}`;
    this.apps.set(project, o);
    for (let i = 1; i <= o.replicas; i++) await this.container(project, i, o);
    return project;
  }

  private async container(project: string, index: number, o: AppOptions) {
    const [poolSize, maxOverflow] = o.pool.split("+");
    await composeContainer(this.docker, {
      run: this.run,
      project,
      service: "app",
      index,
      labels: {
        "io.pooltuner.enabled": "true",
        "io.pooltuner.database": o.database ?? "db",
        "io.pooltuner.pool-size-env": "DB_POOL_SIZE",
        "io.pooltuner.max-overflow-env": "DB_MAX_OVERFLOW",
        "io.pooltuner.workers-env": "GUNICORN_WORKERS",
        "io.pooltuner.account": "app",
        ...(o.updateMode ? { "io.pooltuner.update-mode": o.updateMode } : {}),
        ...(o.paused ? { "io.pooltuner.paused": "true" } : {}),
      },
      env: { GUNICORN_WORKERS: "4", DB_POOL_SIZE: poolSize as string, DB_MAX_OVERFLOW: maxOverflow as string },
      ...(o.neverReadyAfterChange
        ? {
            // Healthy only with the pool it was created with; failures never count (start period), so a replacement
            // with another pool stays "starting": not ready, and not failed either.
            extra: {
              Healthcheck: {
                Test: ["CMD-SHELL", `[ "$DB_POOL_SIZE+$DB_MAX_OVERFLOW" = "${o.pool}" ]`],
                Interval: 500_000_000,
                Timeout: 2_000_000_000,
                StartPeriod: 3_600_000_000_000,
                Retries: 1,
              },
            },
          }
        : {}),
      ...(o.refusePoolSize !== undefined
        ? {
            cmd: [
              "bash",
              "-c",
              `[ "$DB_POOL_SIZE" = ${o.refusePoolSize} ] && { echo "refusing DB_POOL_SIZE" >&2; exit 4; }; exec sleep infinity`,
            ],
          }
        : {}),
    });
  }

  /**
   * What `docker compose up -d` does after a person edits the service: every container replaced by a new one (new
   * id) with the service's new definition and the env it runs with now. The old ones are stopped (the daemon still
   * sees the same containers), then removed by one prune, so the daemon never sees a service with only some of them.
   */
  private async recreateByHand(project: string, change: Partial<AppOptions>) {
    const o = { ...(this.apps.get(project) as AppOptions), ...change };
    this.apps.set(project, o);
    const old = [];
    for (const c of await projectContainers(this.docker, project)) {
      const index = Number(/-app-(\d+)$/.exec(c.name)?.[1]);
      if (!Number.isInteger(index)) throw new Error(`not a container of the service: ${c.name}`);
      const env = await containerEnv(this.docker, c.id);
      old.push({ index, pool: `${env.get("DB_POOL_SIZE")}+${env.get("DB_MAX_OVERFLOW")}` });
      await this.docker.getContainer(c.id).stop({ t: 2 });
    }
    // Only this run's stopped containers of this project (both labels must match).
    await this.docker.pruneContainers({
      filters: { label: [`com.docker.compose.project=${project}`, `${RUN_LABEL}=${this.run}`] },
    });
    for (const c of old) await this.container(project, c.index, { ...o, pool: c.pool });
  }

  setPaused(project: string, paused: boolean) {
    return this.recreateByHand(project, { paused });
  }

  /** The app is fixed (no healthcheck that refuses the new pool) and brought up again. */
  unstick(project: string) {
    return this.recreateByHand(project, { neverReadyAfterChange: false });
  }

  async scale(project: string, replicas: number) {
    // `docker compose up -d --scale app=N` starts the new containers with the service's current env.
    const o = this.apps.get(project) as AppOptions;
    const now = (await projectContainers(this.docker, project)).length;
    const pool = await this.pool(project);
    for (let i = now + 1; i <= replicas; i++) await this.container(project, i, { ...o, pool });
  }

  async pool(project: string) {
    const pools = new Set<string>();
    for (const c of await projectContainers(this.docker, project)) {
      const env = await containerEnv(this.docker, c.id);
      pools.add(`${env.get("DB_POOL_SIZE")}+${env.get("DB_MAX_OVERFLOW")}`);
    }
    return pools.size === 1 ? ([...pools][0] as string) : `mixed ${[...pools].join(",")}`;
  }
  async version(project: string) {
    return (await projectContainers(this.docker, project)).map((c) => `${c.name}=${c.id}`).join(" ");
  }
  specVersion(project: string) {
    return this.version(project);
  }
  async settle() {}

  async daemon(scopes: string | readonly string[], o: DaemonOptions): Promise<RunningDaemon> {
    const projects = typeof scopes === "string" ? [scopes] : [...scopes];
    const project = projects[0] as string;
    const stop = new AbortController();
    const metrics = new Metrics({ version: "test", daemon: "compose" });
    const lines: { level: number; msg: string; workload?: string; reason?: string }[] = [];
    const d = new ComposeDaemon({
      docker: this.docker,
      databases: databasesOf(o),
      policy: DEFAULT_POLICY,
      ...(o.restartLimits ? { restartLimits: o.restartLimits } : {}),
      ...(o.wallClock ? { wallClock: o.wallClock } : {}),
      ...(o.webhooks ? { webhooks: o.webhooks, webhookRetryMs: 200 } : {}),
      ...(o.paused ? { paused: true } : {}),
      damping: o.damping ?? { ...DEFAULT_DAMPING, cooldownMs: 2_000 },
      dryRun: false,
      projects,
      pollIntervalMs: 500,
      resyncIntervalMs: 1_000,
      unmanagedWindowMs: 0,
      recreate: { settleMs: 500, startTimeoutMs: o.rolloutTimeoutMs ?? 30_000 },
      failureBackoffMs: o.failureBackoffMs ?? 60_000,
      // Kept in memory (the warn lines are the compose daemon's Warnings); POOLTUNER_TEST_LOG also prints them.
      logger: createLogger({
        level: process.env.POOLTUNER_TEST_LOG ?? "info",
        name: "compose-test",
        destination: {
          write: (line: string) => {
            lines.push(JSON.parse(line));
            if (process.env.POOLTUNER_TEST_LOG) process.stderr.write(line);
          },
        },
      }),
      metrics,
    });
    // The HTTP server as `pooltuner compose --http-port` wires it (src/cli/compose.ts).
    const http = o.serve
      ? await startHttpServer({
          port: 0,
          host: "127.0.0.1",
          metrics,
          healthy: () => d.healthy(),
          ready: () => d.ready(),
        })
      : undefined;
    const address = http?.server.address();
    const running = d.run(stop.signal);
    return {
      reports: () => d.reports,
      // Discovery lists the containers afresh on every pass.
      sees: async (replicas) => (await projectContainers(this.docker, project)).length === replicas,
      metrics: () => metrics.registry.metrics(),
      ...(typeof address === "object" && address ? { url: `http://127.0.0.1:${address.port}` } : {}),
      warnings: async (scope, reason) =>
        lines
          .filter((l) => l.level === 40 && l.reason === reason && l.workload === `compose:${scope}/app`)
          .map((l) => l.msg),
      saysPaused: async (scope) =>
        new RegExp(
          `^pooltuner_workload_paused\\{[^}]*namespace="${scope}",kind="ComposeService",name="app"[^}]*\\} 1$`,
          "m",
        ).test(await metrics.registry.metrics()),
      stop: async () => {
        stop.abort();
        await running;
        await http?.close();
      },
    };
  }
}
