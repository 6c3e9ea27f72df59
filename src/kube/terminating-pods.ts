// Pods that are shutting down keep their connections until their processes exit (KEP-3973: a Deployment does not
// count them against maxSurge). Before pooltuner starts a restart it checks that no pod of the database's
// workloads is still terminating, so at most one workload per database drains at a time. This is an uncached read
// (STYLE 6), made only when a restart is about to happen, so the controller keeps no cache of every pod.
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { isTerminating, selects, type WorkloadObject } from "./objects.js";

export interface TerminatingCount {
  readonly key: string;
  /** Pods still within (or shortly past) their grace period. */
  readonly draining: number;
  /** Pods terminating for longer than the stuck limit (finalizers, dead nodes): reported, not waited for. */
  readonly stuck: number;
}

/** Terminating pods per workload key, from one LIST per namespace. */
export async function countTerminatingPods(
  core: CoreV1Api,
  workloads: readonly { readonly key: string; readonly namespace: string; readonly object: WorkloadObject }[],
  now: number,
  stuckAfterMs: number,
): Promise<Map<string, TerminatingCount>> {
  const out = new Map<string, TerminatingCount>();
  const namespaces = [...new Set(workloads.map((w) => w.namespace))].sort();
  for (const namespace of namespaces) {
    // resourceVersion "0": served from the API server's watch cache, cheap even for many pods.
    const pods: V1Pod[] = (await core.listNamespacedPod({ namespace, resourceVersion: "0" })).items;
    const terminating = pods.filter(isTerminating);
    if (terminating.length === 0) continue;
    for (const w of workloads.filter((x) => x.namespace === namespace)) {
      let draining = 0;
      let stuck = 0;
      for (const p of terminating) {
        if (!selects(w.object.spec?.selector, p.metadata?.labels)) continue;
        // deletionTimestamp is when the grace period ends; past it by more than the limit counts as stuck.
        const end = new Date(p.metadata?.deletionTimestamp as Date | string).getTime();
        if (Number.isFinite(end) && now - end > stuckAfterMs) stuck += 1;
        else draining += 1;
      }
      if (draining + stuck > 0) out.set(w.key, { key: w.key, draining, stuck });
    }
  }
  return out;
}
