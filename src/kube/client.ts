// The Kubernetes API connection, loaded once by the entry point (the in-cluster service account, a kubeconfig
// file, or the default search), so the client library stays inside src/kube/.
import { KubeConfig } from "@kubernetes/client-node";

export type { KubeConfig } from "@kubernetes/client-node";

/** Loads `file`, or the default (in-cluster, then $KUBECONFIG, then ~/.kube/config). Throws what the loader throws. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}
