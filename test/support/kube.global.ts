// Global setup of the "kube" vitest project: one fresh cluster for the whole run, shared through inject("kube")
// and KUBECONFIG_POOLTUNER_TEST. Binaries come from `kube.sh build` (run by scripts/test.sh before vitest); if the
// cluster cannot start, this throws and the project fails: it never skips.
import type { TestProject } from "vitest/node";
import { startKubeCluster } from "./cluster.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startKubeCluster("kube-suite");
  process.stderr.write(`[kube.global] cluster ${cluster.name} ready in ${cluster.startMs} ms\n`);
  project.provide("kube", { name: cluster.name, kubeconfigPath: cluster.kubeconfigPath });
  process.env.KUBECONFIG_POOLTUNER_TEST = cluster.kubeconfigPath;
  return async () => {
    delete process.env.KUBECONFIG_POOLTUNER_TEST;
    await cluster.stop();
  };
}
