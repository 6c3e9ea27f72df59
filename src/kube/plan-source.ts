// `pooltuner plan --kube`: the annotated workloads of a live cluster as a source, read-only. One LIST per kind
// (per namespace when given), then the same manifest mapping `plan` uses for files (src/sources/manifests.ts) and
// the controller uses for its cache, so the three can never disagree.
import { AppsV1Api, AutoscalingV2Api, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { SourceResult } from "../sources/findings.js";
import { readManifests } from "../sources/manifests.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { errorSummary } from "./events.js";
import { isEnabled } from "./objects.js";

export interface ClusterSourceOptions {
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly labelSelector?: string;
  /** Profiles the `profile` annotation may name; default the built-ins. */
  readonly profiles?: ProfileRegistry;
}

export class ClusterReadError extends Error {
  override readonly name = "ClusterReadError";
}

/** Where findings say the workloads came from, e.g. `cluster kind-dev`. */
export function clusterSourceName(kubeConfig: KubeConfig): string {
  return `cluster ${kubeConfig.getCurrentContext() || kubeConfig.getCurrentCluster()?.name || "(in-cluster)"}`;
}

export async function readClusterSources(kubeConfig: KubeConfig, o: ClusterSourceOptions): Promise<SourceResult> {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const autoscaling = kubeConfig.makeApiClient(AutoscalingV2Api);
  const sel = o.labelSelector ? { labelSelector: o.labelSelector } : {};
  const stamp = (kind: string, apiVersion: string) => (items: KubernetesObject[]) =>
    items.map((i) => ({ ...i, kind, apiVersion }));
  const scopes: (string | undefined)[] = o.namespaces.length > 0 ? [...o.namespaces] : [undefined];
  const docs: KubernetesObject[] = [];
  try {
    for (const namespace of scopes) {
      const [deployments, statefulSets, hpas] = await Promise.all([
        namespace ? apps.listNamespacedDeployment({ namespace, ...sel }) : apps.listDeploymentForAllNamespaces(sel),
        namespace ? apps.listNamespacedStatefulSet({ namespace, ...sel }) : apps.listStatefulSetForAllNamespaces(sel),
        namespace
          ? autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace })
          : autoscaling.listHorizontalPodAutoscalerForAllNamespaces(),
      ]);
      docs.push(
        ...stamp("Deployment", "apps/v1")(deployments.items).filter(isEnabled),
        ...stamp("StatefulSet", "apps/v1")(statefulSets.items).filter(isEnabled),
        ...stamp("HorizontalPodAutoscaler", "autoscaling/v2")(hpas.items),
      );
    }
  } catch (err) {
    throw new ClusterReadError(`cannot read workloads from ${clusterSourceName(kubeConfig)}: ${errorSummary(err)}`);
  }
  return readManifests([{ file: clusterSourceName(kubeConfig), docs }], o.profiles);
}
