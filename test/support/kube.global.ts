// Global setup of the vitest projects that need Kubernetes ("kube", "controller"): one fresh cluster per run,
// named after the project, shared through inject("kube") and KUBECONFIG_POOLTUNER_TEST. Binaries come from
// `kube.sh build` (scripts/test.sh runs it before vitest); if the cluster cannot start, this throws and the project
// fails: it never skips.
import type { TestProject } from "vitest/node";
import { startKubeCluster } from "./cluster.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startKubeCluster(project.name);
  process.stderr.write(`[kube.global] cluster ${cluster.name} ready in ${cluster.startMs} ms\n`);
  project.provide("kube", { name: cluster.name, kubeconfigPath: cluster.kubeconfigPath });
  process.env.KUBECONFIG_POOLTUNER_TEST = cluster.kubeconfigPath;
  return async () => {
    delete process.env.KUBECONFIG_POOLTUNER_TEST;
    await cluster.stop();
  };
}
