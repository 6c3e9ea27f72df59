// Global setup of the "node" vitest project (issue 14): a fresh control plane without kwok, and one real node joined
// to it (kubelet + private containerd, scripts/testbed/node.sh), shared through inject("kube") / inject("node").
// `node.sh ensure` (scripts/test.sh runs it first) builds what is needed; if anything cannot start, this throws and
// the project fails: it never skips.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { runTestbedScript, startKubeCluster } from "./cluster.js";

export interface RealNodeInfo {
  /** The node's name as registered with the API server. */
  name: string;
  /** Image references imported into the node's containerd (pods use imagePullPolicy: Never). */
  appImage: string;
  /** The cluster the node belongs to (for node.sh restart-kubelet). */
  cluster: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    node: RealNodeInfo;
  }
}

export const NODE_SH = join(import.meta.dirname, "../../scripts/testbed/node.sh");
export const REAL_NODE_NAME = "real-node-0";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const cluster = await startKubeCluster(project.name, 240_000, "real-node");
  try {
    await runTestbedScript(NODE_SH, ["start", cluster.name, cluster.kubeconfigPath], 300_000);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const appImage = (await promisify(execFile)("bash", [NODE_SH, "image", "app"])).stdout.trim();
  process.stderr.write(
    `[node.global] cluster ${cluster.name} with real node ${REAL_NODE_NAME} ready in ${Math.round(performance.now() - started)} ms\n`,
  );
  project.provide("kube", { name: cluster.name, kubeconfigPath: cluster.kubeconfigPath });
  project.provide("node", { name: REAL_NODE_NAME, appImage, cluster: cluster.name });
  process.env.KUBECONFIG_POOLTUNER_TEST = cluster.kubeconfigPath;
  return async () => {
    delete process.env.KUBECONFIG_POOLTUNER_TEST;
    try {
      await runTestbedScript(NODE_SH, ["stop", cluster.name], 180_000);
    } finally {
      await cluster.stop();
    }
  };
}
