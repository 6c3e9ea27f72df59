// Benchmark of `pooltuner controller` on the real test-bed control plane (kwok makes pods cheap) and a real
// MariaDB: N annotated Deployments (default 1,000) spread over D databases (default 100).
//
//   npx tsx bench/controller.ts [--deployments 1000] [--databases 100] [--samples 100] [--quiet-seconds 60]
//
// Measures, with the controller running as its own process (compiled, `node dist/cli/main.js controller`) and
// authenticated as the manifests' ServiceAccount:
//   - initial sync: start -> /readyz (caches synced, every database probed), and -> every database planned once;
//   - change -> patch latency (p50/p99): a workload's workers annotation is raised so its pool must shrink; the
//     time until its pod template carries the new values, seen through a watch;
//   - API writes per minute when nothing changes (target 0), from the controller's own counter and cross-checked
//     against the Deployments' resourceVersions; the same after a controller restart;
//   - controller memory: RSS and peak RSS (VmHWM) of its process.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  Watch,
} from "@kubernetes/client-node";
import { adminKubeConfig, applyManifest, serviceAccountKubeConfig, startKubeCluster } from "../test/support/cluster.js";
import { startMariaDb } from "../test/support/mariadb.js";

const run = promisify(execFile);
const REPO = join(import.meta.dirname, "..");
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const DEPLOYMENTS = arg("deployments", 1000);
const DATABASES = arg("databases", 100);
const SAMPLES = Math.min(arg("samples", 100), DATABASES);
const QUIET_S = arg("quiet-seconds", 60);
const REPLICAS = arg("replicas", 1);
/** Extra flags for the controller's node process, e.g. --node-options=--max-old-space-size=160 */
const NODE_OPTIONS = (() => {
  const i = process.argv.indexOf("--node-options");
  return i >= 0 ? (process.argv[i + 1] as string).split(" ") : [];
})();
const NS = "bench";
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dbName = (i: number) => `db-${String(i).padStart(3, "0")}`;
const appName = (i: number) => `app-${String(i).padStart(4, "0")}`;

function deployment(i: number): V1Deployment {
  return {
    metadata: {
      name: appName(i),
      namespace: NS,
      annotations: {
        "pooltuner.io/enabled": "true",
        "pooltuner.io/database": dbName(i % DATABASES),
        "pooltuner.io/workers": "2",
        "pooltuner.io/account": "app",
      },
    },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: { app: appName(i) } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: { app: appName(i) },
          annotations: {
            "pod-ready.stage.kwok.x-k8s.io/delay": "0s",
            "pod-ready.stage.kwok.x-k8s.io/jitter-delay": "0s",
            "pod-delete.stage.kwok.x-k8s.io/delay": "0s",
          },
        },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "web",
              image: "pooltuner.invalid/app:1",
              // Already what the plan recommends (the table's 1 + 2): taking them over writes nothing.
              env: [
                { name: "DB_POOL_SIZE", value: "1" },
                { name: "DB_MAX_OVERFLOW", value: "2" },
              ],
              resources: { requests: { cpu: "1m", memory: "1Mi" } },
            },
          ],
        },
      },
    },
  };
}

async function pool<T>(items: readonly T[], width: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}

async function metrics(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^(\S+?)(\{.*\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    out.set(`${name}${m[2] ?? ""}`, Number(m[3]));
    out.set(`${name}:sum`, (out.get(`${name}:sum`) ?? 0) + Number(m[3]));
  }
  return out;
}

async function memory(pid: number, port: number): Promise<{ rssMiB: number; peakMiB: number; heapUsedMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const heap = (await metrics(port)).get("nodejs_heap_size_used_bytes") ?? 0;
  return {
    rssMiB: Math.round(kb("VmRSS") / 1024),
    peakMiB: Math.round(kb("VmHWM") / 1024),
    heapUsedMiB: Math.round(heap / 1024 / 1024),
  };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(everyMs);
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Cleanups to run when the bench is interrupted (the cluster and the database are heavy to leave behind). */
const cleanups: (() => Promise<unknown>)[] = [];
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void Promise.allSettled(cleanups.map((c) => c())).then(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  log(`building (tsc) so the controller runs as plain JavaScript`);
  await run("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: REPO });

  const tmp = await mkdtemp(join(tmpdir(), "pooltuner-bench-"));
  const cluster = await startKubeCluster("bench", 300_000);
  const db = await startMariaDb({ label: "bench", maxConnections: 1000 });
  let controller: ChildProcess | undefined;
  cleanups.push(
    async () => controller?.kill("SIGKILL"),
    () => db.stop(),
    () => cluster.stop(),
  );
  try {
    log(`cluster ${cluster.name} up in ${cluster.startMs} ms`);
    const admin = adminKubeConfig(cluster.kubeconfigPath);
    const apps = admin.makeApiClient(AppsV1Api);
    const core = admin.makeApiClient(CoreV1Api);
    // One fake node holds 500 pods: add room for every pod plus rollout surges.
    const nodeYaml = await readFile(join(REPO, "test/cluster/fake-node.yaml"), "utf8");
    for (let n = 1; n <= Math.ceil((DEPLOYMENTS * 2) / 500); n++) {
      await applyManifest(admin, { yaml: nodeYaml.replaceAll("kwok-node-0", `kwok-node-${n}`) });
    }
    await applyManifest(admin, { path: join(REPO, "manifests/namespace.yaml") });
    await applyManifest(admin, { path: join(REPO, "manifests/rbac.yaml") }, "pooltuner");
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await until(
      "default ServiceAccount",
      () => core.readNamespacedServiceAccount({ name: "default", namespace: NS }),
      60_000,
    );

    const password = "bench-monitor";
    await db.query(`CREATE USER 'monitor'@'%' IDENTIFIED BY '${password}'`);
    await db.query("GRANT PROCESS ON *.* TO 'monitor'@'%'");
    const url = `mysql://monitor:${password}@${db.host}:${db.port}/`;
    const configFile = join(tmp, "config.yaml");
    await writeFile(
      configFile,
      `databases:\n${Array.from({ length: DATABASES }, (_, i) => `  - name: ${dbName(i)}\n    urlEnv: BENCH_DB_URL\n`).join("")}`,
      { mode: 0o600 },
    );

    let t = Date.now();
    await pool(
      Array.from({ length: DEPLOYMENTS }, (_, i) => i),
      16,
      (i) => apps.createNamespacedDeployment({ namespace: NS, body: deployment(i) }),
    );
    log(`${DEPLOYMENTS} Deployments created in ${Date.now() - t} ms; waiting for their pods`);
    t = Date.now();
    await until(
      "all Deployments available",
      async () => {
        const list = await apps.listNamespacedDeployment({ namespace: NS });
        const ready = list.items.filter((d) => (d.status?.availableReplicas ?? 0) === REPLICAS).length;
        return ready === DEPLOYMENTS ? true : undefined;
      },
      600_000,
      2_000,
    );
    log(`all available in ${Date.now() - t} ms`);

    const sa = await serviceAccountKubeConfig(admin, { namespace: "pooltuner", name: "pooltuner" });
    const kubeconfigFile = join(tmp, "sa.kubeconfig");
    await writeFile(kubeconfigFile, sa.exportConfig(), { mode: 0o600 });
    const port = 19_000 + (process.pid % 1000);
    const startController = () => {
      const child = spawn(
        join(REPO, "node_modules/.bin/node"),
        [
          ...NODE_OPTIONS,
          join(REPO, "dist/cli/main.js"),
          "controller",
          "--kubeconfig",
          kubeconfigFile,
          "--config",
          configFile,
          "--namespace",
          NS,
          "--no-leader-elect",
          "--http-port",
          String(port),
          "--log-level",
          process.env.BENCH_CONTROLLER_LOG ?? "warn",
        ],
        { env: { ...process.env, BENCH_DB_URL: url }, stdio: ["ignore", "pipe", "pipe"] },
      );
      // pino writes to stdout; both go to the bench's stderr so stdout stays the JSON result.
      child.stdout?.on("data", (b: Buffer) => process.stderr.write(`[controller] ${b}`));
      child.stderr?.on("data", (b: Buffer) => process.stderr.write(`[controller] ${b}`));
      return child;
    };
    const ready = () =>
      until(
        "controller /readyz",
        async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined),
        300_000,
        100,
      );
    const listAll = async () => (await apps.listNamespacedDeployment({ namespace: NS })).items;
    // Every database reconciled at least once: each reconcile sets its pooltuner_database_workloads series.
    const allPlanned = async () => {
      const m = await metrics(port);
      const planned = [...m.keys()].filter((k) => k.startsWith("pooltuner_database_workloads{")).length;
      return planned === DATABASES ? m : undefined;
    };
    // The Deployment controller has caught up (it lags behind bursts of writes in this test bed).
    const settled = async () =>
      until(
        "cluster settled",
        async () =>
          (await listAll()).every(
            (d) =>
              (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
              (d.status?.updatedReplicas ?? 0) === REPLICAS &&
              (d.status?.replicas ?? 0) === REPLICAS &&
              (d.status?.availableReplicas ?? 0) === REPLICAS,
          )
            ? true
            : undefined,
        600_000,
        1_000,
      );

    // 1. Initial sync.
    t = Date.now();
    controller = startController();
    await ready();
    const readyMs = Date.now() - t;
    const afterSync = await until("every database reconciled", allPlanned, 600_000, 100);
    const plannedMs = Date.now() - t;
    log(`ready in ${readyMs} ms; all ${DATABASES} databases planned in ${plannedMs} ms`);
    const memSync = await memory(controller.pid as number, port);

    // 2. Writes per minute when nothing changes.
    const quiet = async (label: string) => {
      await settled();
      await sleep(3_000);
      const before = await metrics(port);
      const rvBefore = new Map((await listAll()).map((d) => [d.metadata?.name, d.metadata?.resourceVersion]));
      await sleep(QUIET_S * 1000);
      const after = await metrics(port);
      const changed = (await listAll()).filter((d) => rvBefore.get(d.metadata?.name) !== d.metadata?.resourceVersion);
      const writes =
        (after.get("pooltuner_kube_writes_total:sum") ?? 0) - (before.get("pooltuner_kube_writes_total:sum") ?? 0);
      const reconciles =
        (after.get("pooltuner_reconciles_total:sum") ?? 0) - (before.get("pooltuner_reconciles_total:sum") ?? 0);
      log(
        `${label}: ${writes} writes, ${changed.length} Deployments changed, ${reconciles} reconciles in ${QUIET_S} s`,
      );
      return { writesPerMinute: (writes * 60) / QUIET_S, deploymentsChanged: changed.length, reconciles };
    };
    const steady = await quiet("steady");
    const memSteady = await memory(controller.pid as number, port);

    // 3. Change -> patch latency: one workload per database, one at a time.
    const watched = new Map<string, (d: V1Deployment) => void>();
    const watch = await new Watch(admin).watch(
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      {},
      (_type, obj: V1Deployment) => watched.get(obj.metadata?.name as string)?.(obj),
      () => undefined,
    );
    const latencies: number[] = [];
    for (let s = 0; s < SAMPLES; s++) {
      const name = appName(s); // app-s is on db-s
      const patched = new Promise<number>((resolve) => {
        watched.set(name, (d) => {
          const env = d.spec?.template.spec?.containers[0]?.env ?? [];
          if (env.find((e) => e.name === "DB_MAX_OVERFLOW")?.value !== "2") resolve(Date.now());
        });
      });
      // (replicas + 1 surge) pods x workers = 600 processes: only 1 per process fits (2 would need 1,200 + the
      // others), and the other workloads of the database keep their 3 (36 processes x 3 + 600 <= 850).
      const changedAt = Date.now();
      await apps.patchNamespacedDeployment(
        {
          name,
          namespace: NS,
          body: { metadata: { annotations: { "pooltuner.io/workers": String(Math.ceil(600 / (REPLICAS + 1))) } } },
        },
        mergePatch,
      );
      const at = await Promise.race([patched, sleep(30_000).then(() => Number.NaN)]);
      watched.delete(name);
      if (Number.isNaN(at)) log(`sample ${s}: no patch within 30 s`);
      else latencies.push(at - changedAt);
    }
    watch.abort();
    latencies.sort((a, b) => a - b);
    log(`latency p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms over ${latencies.length}`);
    // Let the sampled workloads' rollouts finish before the next quiet window.
    await settled();
    const memAfterChanges = await memory(controller.pid as number, port);

    // 4. Restart: ready again, then nothing written.
    controller.kill("SIGTERM");
    await new Promise((r) => controller?.once("exit", r));
    t = Date.now();
    controller = startController();
    await ready();
    const restartReadyMs = Date.now() - t;
    const restarted = await quiet("after restart");
    const restartMetrics = await metrics(port);
    const memRestart = await memory(controller.pid as number, port);

    const result = {
      deployments: DEPLOYMENTS,
      replicasEach: REPLICAS,
      controllerNodeOptions: NODE_OPTIONS,
      databases: DATABASES,
      initialSync: {
        readyMs,
        allDatabasesPlannedMs: plannedMs,
        writes: afterSync.get("pooltuner_kube_writes_total:sum") ?? 0,
      },
      changeToPatchMs: {
        samples: latencies.length,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        min: latencies[0],
        max: latencies[latencies.length - 1],
      },
      writesPerMinuteWhenNothingChanges: steady,
      restart: {
        readyMs: restartReadyMs,
        ...restarted,
        totalWritesSinceRestart: restartMetrics.get("pooltuner_kube_writes_total:sum") ?? 0,
      },
      memoryMiB: { afterSync: memSync, steady: memSteady, afterChanges: memAfterChanges, afterRestart: memRestart },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    controller?.kill("SIGTERM");
    await db.stop();
    await cluster.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
