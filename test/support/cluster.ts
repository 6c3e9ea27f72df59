// A real Kubernetes control plane per test run (DESIGN §5): kube-apiserver, kube-controller-manager, kube-scheduler
// and etcd built from source, kwok faking one Ready node, RBAC on. scripts/testbed/kube.sh owns the how (binaries,
// kwokctl flags, the fake node); this file starts and stops it for vitest and gives tests clients with chosen rights.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ApiException,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
} from "@kubernetes/client-node";

/** What the global setup hands to tests through vitest's provide/inject (must stay serializable). */
export interface KubeClusterInfo {
  name: string;
  /** Admin kubeconfig (cluster-admin through a client certificate); lives until the run ends. */
  kubeconfigPath: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    kube: KubeClusterInfo;
  }
}

export interface KubeCluster extends KubeClusterInfo {
  /** Wall time from `kube.sh up` to the fake node being Ready. */
  startMs: number;
  /** Deletes the cluster and its temp dir. Idempotent. */
  stop(): Promise<void>;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const KUBE_SH = join(REPO, "scripts/testbed/kube.sh");
const FIELD_MANAGER = "pooltuner-tests";

/** Runs kube.sh, echoing its progress lines; on failure the error carries the tail of what it printed. */
async function runKubeSh(args: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<void> {
  return runTestbedScript(KUBE_SH, args, timeoutMs, env);
}

/** Runs a scripts/testbed script the same way (its `[name.sh]` progress lines echoed, the tail kept on failure). */
export async function runTestbedScript(
  script: string,
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<void> {
  const prefix = `[${script.split("/").pop()}]`;
  const child = spawn("bash", [script, ...args], {
    env: { ...process.env, ...env, POOLTUNER_KUBE_OWNER_PID: String(process.pid) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    output.push(text);
    for (const line of text.split("\n")) if (line.startsWith(prefix)) process.stderr.write(`${line}\n`);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
  try {
    const code = await new Promise<number | null>((done, fail) => {
      child.on("error", fail);
      child.on("close", (exitCode) => done(exitCode));
    });
    if (code !== 0) {
      const tail = output.join("").split("\n").slice(-60).join("\n");
      throw new Error(`${prefix.slice(1, -1)} ${args[0]} failed (exit ${code ?? "killed after timeout"}):\n${tail}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates a fresh cluster with a unique name. The binaries must already be built (`kube.sh build`, which
 * scripts/test.sh runs first); a missing binary fails here with the command to run. Leftovers of a crashed run
 * are deleted by kube.sh before the new cluster starts. `real-node` leaves out kwok and its fake node, for
 * scripts/testbed/node.sh to join a real kubelet. `controllers` is kube-controller-manager's --controllers (fake-node
 * only), e.g. `*,-deployment-controller` for a bench that plays the Deployment controller itself.
 */
export async function startKubeCluster(
  label = "run",
  timeoutMs = 240_000,
  mode: "fake-node" | "real-node" = "fake-node",
  options: { controllers?: string } = {},
): Promise<KubeCluster> {
  const name = `pooltuner-${label}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "pooltuner-kube-"));
  const kubeconfigPath = join(dir, "admin.kubeconfig");
  const started = performance.now();
  try {
    const env: Record<string, string> = options.controllers ? { POOLTUNER_KUBE_CONTROLLERS: options.controllers } : {};
    await runKubeSh(["up", name, kubeconfigPath, mode], timeoutMs, env);
  } catch (error) {
    await runKubeSh(["down", name], 60_000).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const startMs = Math.round(performance.now() - started);
  let stopped = false;
  return {
    name,
    kubeconfigPath,
    startMs,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await runKubeSh(["down", name], 120_000);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

export function adminKubeConfig(kubeconfigPath: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc;
}

export function isApiError(error: unknown, code: number): error is ApiException<unknown> {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

/**
 * Server-side applies every object of a YAML manifest (a file path or the YAML itself) as admin. Namespaced
 * objects without a namespace land in `namespace`. Returns the applied objects as the server stored them.
 */
export async function applyManifest(
  admin: KubeConfig,
  manifest: { path: string } | { yaml: string },
  namespace = "default",
): Promise<KubernetesObject[]> {
  const text = "path" in manifest ? await readFile(manifest.path, "utf8") : manifest.yaml;
  // KubernetesObjectApi puts namespaced objects without a namespace into the context's namespace.
  const scoped = new KubeConfig();
  scoped.loadFromOptions({
    clusters: admin.getClusters(),
    users: admin.getUsers(),
    contexts: admin.getContexts().map((c) => (c.name === admin.getCurrentContext() ? { ...c, namespace } : c)),
    currentContext: admin.getCurrentContext(),
  });
  const client = KubernetesObjectApi.makeApiClient(scoped);
  const applied: KubernetesObject[] = [];
  for (const doc of loadAllYaml(text) as (KubernetesObject | null)[]) {
    if (!doc?.kind) continue;
    applied.push(await client.patch(doc, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }
  return applied;
}

export interface ServiceAccountAccess {
  namespace: string;
  name: string;
  /** TokenRequest lifetime; the API server's minimum is 600. Default 3600. */
  expirationSeconds?: number;
}

/**
 * A KubeConfig that authenticates as a ServiceAccount through a fresh TokenRequest token, so code under test runs
 * with exactly the rights that RBAC objects grant to that account (apply them with applyManifest first). The
 * ServiceAccount is created when missing.
 */
export async function serviceAccountKubeConfig(admin: KubeConfig, access: ServiceAccountAccess): Promise<KubeConfig> {
  const core = admin.makeApiClient(CoreV1Api);
  const { namespace, name } = access;
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });
  } catch (error) {
    if (!isApiError(error, 409)) throw error;
  }
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: access.expirationSeconds ?? 3600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("admin kubeconfig has no current cluster");
  const user = `system:serviceaccount:${namespace}:${name}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: "test" }],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: "test", user }],
    currentContext: user,
  });
  return kc;
}

/** Polls `check` until it returns a value other than undefined, or fails with `what` and the last error. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
