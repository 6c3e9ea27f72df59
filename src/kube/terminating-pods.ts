// Pods that are shutting down keep their connections until their processes exit (KEP-3973: a Deployment does not
// count them against maxSurge). Before pooltuner starts a restart it checks that no pod of the database's
// workloads is still terminating, so at most one workload per database drains at a time. These are uncached reads
// (STYLE 6), one per workload of the database and only when a restart is about to happen, so the controller keeps
// no cache of every pod.
import type { CoreV1Api, V1LabelSelector, V1Pod } from "@kubernetes/client-node";
import { isTerminating, selects, type WorkloadObject } from "./objects.js";

export interface TerminatingCount {
  readonly key: string;
  /** Pods still within (or shortly past) their grace period. */
  readonly draining: number;
  /** Pods terminating for longer than the stuck limit (finalizers, dead nodes): reported, not waited for. */
  readonly stuck: number;
}

/** Terminating pods per workload key: one LIST per workload, narrowed by its own label selector. */
export async function countTerminatingPods(
  core: CoreV1Api,
  workloads: readonly { readonly key: string; readonly namespace: string; readonly object: WorkloadObject }[],
  now: number,
  stuckAfterMs: number,
): Promise<Map<string, TerminatingCount>> {
  const out = new Map<string, TerminatingCount>();
  for (const w of workloads) {
    const selector = w.object.spec?.selector;
    const labelSelector = selectorString(selector);
    if (labelSelector === undefined) continue;
    // resourceVersion "0": served from the API server's watch cache.
    const pods: V1Pod[] = (
      await core.listNamespacedPod({ namespace: w.namespace, labelSelector, resourceVersion: "0" })
    ).items;
    let draining = 0;
    let stuck = 0;
    for (const p of pods) {
      // The server applied the selector; checking again costs nothing and guards against a selector it ignored.
      if (!isTerminating(p) || !selects(selector, p.metadata?.labels)) continue;
      // deletionTimestamp is when the grace period ends; past it by more than the limit counts as stuck.
      const end = new Date(p.metadata?.deletionTimestamp as Date | string).getTime();
      if (Number.isFinite(end) && now - end > stuckAfterMs) stuck += 1;
      else draining += 1;
    }
    if (draining + stuck > 0) out.set(w.key, { key: w.key, draining, stuck });
  }
  return out;
}

/** A LabelSelector in the API's string syntax (`a=b,c in (d,e),!f`); undefined for an empty or unknown one. */
export function selectorString(selector: V1LabelSelector | undefined): string | undefined {
  if (!selector) return undefined;
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${values})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${values})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
    else return undefined;
  }
  return parts.length > 0 ? parts.join(",") : undefined;
}
