// Shared set-up of the controller suites: the real cluster of the run (kube globalSetup), a private MariaDB per file,
// and the controller running in this process but authenticated as the ServiceAccount of manifests/ (so every call
// it makes passes through the RBAC the manifests grant, and nothing more).
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  type CoreV1Event,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1DeploymentStrategy,
  type V1EnvVar,
} from "@kubernetes/client-node";
import { inject } from "vitest";
import { DEFAULT_POLICY } from "../../../src/core/index.js";
import { type ControllerOptions, type RunningController, startController } from "../../../src/kube/controller.js";
import type { DatabaseConfig } from "../../../src/runtime/config.js";
import { createLogger } from "../../../src/runtime/logger.js";
import { adminKubeConfig, applyManifest, eventually, serviceAccountKubeConfig } from "../../support/cluster.js";
import { type MariaDb, startMariaDb } from "../../support/mariadb.js";

export const REPO = join(import.meta.dirname, "../../..");
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
export const CONTROLLER_NAMESPACE = "pooltuner";

export interface Cluster {
  admin: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  autoscaling: AutoscalingV2Api;
  /** Authenticated as system:serviceaccount:pooltuner:pooltuner with manifests/rbac.yaml and admission-policy.yaml. */
  controllerKubeConfig: KubeConfig;
}

/** The cluster of the run, with the controller's namespace, RBAC and admission policy from manifests/ applied. */
export async function cluster(): Promise<Cluster> {
  const admin = adminKubeConfig(inject("kube").kubeconfigPath);
  await applyManifest(admin, { path: join(REPO, "manifests/namespace.yaml") });
  await applyManifest(admin, { path: join(REPO, "manifests/rbac.yaml") }, CONTROLLER_NAMESPACE);
  // Every controller suite runs under the admission policy: each write the controller makes must pass it.
  await applyManifest(admin, { path: join(REPO, "manifests/admission-policy.yaml") });
  const controllerKubeConfig = await serviceAccountKubeConfig(admin, {
    namespace: CONTROLLER_NAMESPACE,
    name: "pooltuner",
  });
  return {
    admin,
    apps: admin.makeApiClient(AppsV1Api),
    core: admin.makeApiClient(CoreV1Api),
    autoscaling: admin.makeApiClient(AutoscalingV2Api),
    controllerKubeConfig,
  };
}

export async function createNamespace(c: Cluster, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await c.core.createNamespace({ body: { metadata: { name } } });
  // Pods need the namespace's default ServiceAccount (admission is on).
  await eventually(`default ServiceAccount in ${name}`, async () =>
    (await c.core.readNamespacedServiceAccount({ name: "default", namespace: name })) ? true : undefined,
  );
  return name;
}

export interface Database {
  db: MariaDb;
  /** mysql:// URL of a PROCESS-only monitoring account (what the controller's config holds). */
  monitorUrl: string;
  setMaxConnections(n: number): Promise<void>;
}

export async function database(label: string, maxConnections: number): Promise<Database> {
  const db = await startMariaDb({ label, maxConnections });
  const password = randomBytes(8).toString("hex");
  await db.query(`CREATE USER 'monitor'@'%' IDENTIFIED BY '${password}'`);
  await db.query("GRANT PROCESS ON *.* TO 'monitor'@'%'");
  return {
    db,
    monitorUrl: `mysql://monitor:${password}@${db.host}:${db.port}/`,
    setMaxConnections: async (n) => {
      await db.query(`SET GLOBAL max_connections = ${n}`);
    },
  };
}

/** Test-speed knobs: short polls and checks; everything else as in production. */
export async function runController(
  c: Cluster,
  o: Partial<ControllerOptions> & { databases: DatabaseConfig[]; namespaces: string[] },
): Promise<RunningController> {
  const { databases, ...rest } = o;
  return startController({
    kubeConfig: c.controllerKubeConfig,
    config: { databases, policy: DEFAULT_POLICY },
    updateMode: "auto",
    pollIntervalMs: 1_000,
    damping: { cooldownMs: 2_000, minGain: 1 },
    rolloutTimeoutMs: 60_000,
    rolloutCheckMs: 300,
    debounceMs: 100,
    resyncMs: 60_000,
    unmanagedWindowMs: 3_000,
    leaderElection: {
      enabled: false,
      namespace: CONTROLLER_NAMESPACE,
      name: "pooltuner",
      leaseDurationMs: 4_000,
      renewDeadlineMs: 3_000,
      retryPeriodMs: 500,
    },
    log: createLogger({ level: process.env.POOLTUNER_TEST_LOG ?? "silent", name: "controller-test" }),
    ...rest,
  });
}

export interface AppSpec {
  name: string;
  namespace: string;
  annotations?: Record<string, string>;
  replicas?: number;
  env?: V1EnvVar[];
  containers?: string[];
  strategy?: V1DeploymentStrategy;
  limits?: { cpu: string; memory: string };
  /** Extra pod-template metadata (finalizers to hold pods in Terminating). */
  podFinalizers?: string[];
  terminationGracePeriodSeconds?: number;
}

/** The seed's app: Gunicorn 4 workers, pool 2 + 3, annotated for pooltuner against `database`. */
export function seedApp(name: string, namespace: string, databaseName: string, extra: Partial<AppSpec> = {}): AppSpec {
  const { annotations, ...rest } = extra;
  return {
    name,
    namespace,
    replicas: 2,
    env: [
      { name: "GUNICORN_WORKERS", value: "4" },
      { name: "DB_POOL_SIZE", value: "2" },
      { name: "DB_MAX_OVERFLOW", value: "3" },
    ],
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    limits: { cpu: "2", memory: "2Gi" },
    ...rest,
    annotations: { ...defaultAnnotations(databaseName), ...annotations },
  };
}

function defaultAnnotations(databaseName: string): Record<string, string> {
  return {
    "pooltuner.io/enabled": "true",
    "pooltuner.io/database": databaseName,
    "pooltuner.io/pool-size-env": "DB_POOL_SIZE",
    "pooltuner.io/max-overflow-env": "DB_MAX_OVERFLOW",
    "pooltuner.io/workers-env": "GUNICORN_WORKERS",
    // The user the app connects as: its own open connections are then not mistaken for other clients'.
    "pooltuner.io/account": "app",
  };
}

export function deploymentOf(a: AppSpec): V1Deployment {
  const containers = a.containers ?? ["web"];
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: a.name, namespace: a.namespace, annotations: a.annotations ?? {} },
    spec: {
      replicas: a.replicas ?? 2,
      selector: { matchLabels: { app: a.name } },
      ...(a.strategy ? { strategy: a.strategy } : {}),
      template: {
        metadata: {
          labels: { app: a.name },
          // kwok: pods are Ready at once and go as soon as they may, so rollouts take about a second.
          annotations: {
            "pod-ready.stage.kwok.x-k8s.io/delay": "0s",
            "pod-ready.stage.kwok.x-k8s.io/jitter-delay": "0s",
            "pod-delete.stage.kwok.x-k8s.io/delay": "0s",
          },
          ...(a.podFinalizers ? { finalizers: a.podFinalizers } : {}),
        },
        spec: {
          terminationGracePeriodSeconds: a.terminationGracePeriodSeconds ?? 1,
          containers: containers.map((name, i) => ({
            name,
            image: "pooltuner.invalid/app:1",
            ...(i === 0 ? { env: a.env ?? [] } : {}),
            resources: {
              requests: { cpu: "10m", memory: "16Mi" },
              ...(a.limits ? { limits: a.limits } : {}),
            },
          })),
        },
      },
    },
  };
}

export async function createApp(c: Cluster, a: AppSpec): Promise<V1Deployment> {
  return c.apps.createNamespacedDeployment({ namespace: a.namespace, body: deploymentOf(a) });
}

export async function createHpa(c: Cluster, namespace: string, target: string, min: number, max: number) {
  return c.autoscaling.createNamespacedHorizontalPodAutoscaler({
    namespace,
    body: {
      metadata: { name: target, namespace },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: target },
        minReplicas: min,
        maxReplicas: max,
        metrics: [
          { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
        ],
      },
    },
  });
}

export async function getDeployment(c: Cluster, namespace: string, name: string): Promise<V1Deployment> {
  return c.apps.readNamespacedDeployment({ name, namespace });
}

/** The env of the first (or named) container of the pod template, as a plain map. */
export function templateEnv(d: V1Deployment, container?: string): Record<string, string | undefined> {
  const cs = d.spec?.template.spec?.containers ?? [];
  const ct = container ? cs.find((x) => x.name === container) : cs[0];
  return Object.fromEntries((ct?.env ?? []).map((e) => [e.name, e.value]));
}

export function poolOf(d: V1Deployment, container?: string): { poolSize: number; maxOverflow: number } {
  const env = templateEnv(d, container);
  return { poolSize: Number(env.DB_POOL_SIZE), maxOverflow: Number(env.DB_MAX_OVERFLOW) };
}

export function statusOf(d: V1Deployment): Record<string, unknown> | undefined {
  const raw = d.metadata?.annotations?.["pooltuner.io/status"];
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
}

/** Events recorded on an object by pooltuner (source component pooltuner). */
export async function eventsFor(c: Cluster, namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await c.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items.filter((e) => e.source?.component === "pooltuner" || e.reportingComponent === "pooltuner");
}

export async function eventually2<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000) {
  return eventually(what, check, { timeoutMs, intervalMs: 200 });
}

/** The rollout is complete the way `kubectl rollout status` sees it. */
export async function rolledOut(c: Cluster, namespace: string, name: string, timeoutMs = 60_000) {
  return eventually(
    `${namespace}/${name} rolled out`,
    async () => {
      const d = await getDeployment(c, namespace, name);
      const st = d.status ?? {};
      const want = d.spec?.replicas ?? 1;
      return (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        (st.updatedReplicas ?? 0) === want &&
        (st.replicas ?? 0) === want &&
        (st.availableReplicas ?? 0) === want
        ? d
        : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** Pods of an app that are running (not terminating), with their env. */
export async function runningPods(c: Cluster, namespace: string, app: string) {
  const pods = await c.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === "Running");
}

export async function replicaSets(c: Cluster, namespace: string, app: string) {
  return (await c.apps.listNamespacedReplicaSet({ namespace, labelSelector: `app=${app}` })).items;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Parses a Prometheus text exposition into `name{labels}` -> value. */
export async function metricValue(
  controller: RunningController,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = await controller.metrics.registry.getSingleMetric(name)?.get();
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value;
}

/** The workload runs what the controller recommends (status pending=false, env = recommendation) and rolled out. */
export async function converged(c: Cluster, namespace: string, name: string, timeoutMs = 60_000) {
  await eventually2(
    `${namespace}/${name} converged`,
    async () => {
      const d = await getDeployment(c, namespace, name);
      const s = statusOf(d) as { pending?: boolean; recommended?: { poolSize: number; maxOverflow: number } };
      const pool = poolOf(d);
      return s &&
        s.pending === false &&
        s.recommended?.poolSize === pool.poolSize &&
        s.recommended.maxOverflow === pool.maxOverflow
        ? d
        : undefined;
    },
    timeoutMs,
  );
  await rolledOut(c, namespace, name, timeoutMs);
  // After a decrease from over budget, the person's strategy is put back once the rollout is complete (one more write).
  await eventually2(
    `${namespace}/${name}: no strategy left to put back`,
    async () => (statusOf(await getDeployment(c, namespace, name))?.strategy === undefined ? true : undefined),
    timeoutMs,
  );
  return rolledOut(c, namespace, name, timeoutMs);
}
