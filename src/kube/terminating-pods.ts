// Pods that are shutting down keep their connections until their processes exit (KEP-3973: a Deployment does not
// count them against maxSurge). Before pooltuner starts a restart it checks that no pod of the database's
// workloads is still terminating, so at most one workload per database drains at a time. These are uncached reads
// (STYLE 6), only when a restart is about to happen, so the controller keeps no cache of every pod (at 10,000
// Deployments that cache would outweigh everything else). The workloads of a namespace whose selectors are one
// label each (`app: name`) share one LIST (`app in (a,b,…)`), narrowed server-side and served from the API server's
// watch cache; other selectors get a LIST each. The check stops at the first LIST that finds a pod draining, and the
// workload found draining last time is looked at first: a pass that waits for a drain (and is looked at again every
// few seconds) costs one LIST, not one per workload.
import type { CoreV1Api, V1LabelSelector, V1Pod } from "@kubernetes/client-node";
import { isTerminating, selects, type WorkloadObject } from "./objects.js";

export interface TerminatingCount {
  readonly key: string;
  /** Pods still within (or shortly past) their grace period. */
  readonly draining: number;
  /** Pods terminating for longer than the stuck limit (finalizers, dead nodes): reported, not waited for. */
  readonly stuck: number;
}

type Counted = { readonly key: string; readonly namespace: string; readonly object: WorkloadObject };

export interface PodList {
  readonly namespace: string;
  readonly labelSelector: string;
  readonly members: readonly Counted[];
}

/** Workloads sharing a single-label selector key in one namespace, at most this many per LIST (URL length). */
const GROUP_MAX = 50;

/**
 * The LISTs that cover `workloads`, in their order: workloads in one namespace whose selector is a single
 * `key=value` label (the usual `app: name`) share one LIST with `key in (v1,v2,…)`; any other selector gets its own.
 */
export function podLists(workloads: readonly Counted[]): PodList[] {
  const lists: (PodList | { namespace: string; key: string; members: Counted[] })[] = [];
  const shared = new Map<string, { namespace: string; key: string; members: Counted[] }>();
  for (const w of workloads) {
    const selector = w.object.spec?.selector;
    const labels = Object.keys(selector?.matchLabels ?? {});
    const key = labels[0] as string;
    // An empty value has no place in `key in (…)`: such a selector gets its own LIST.
    if (labels.length === 1 && selector?.matchLabels?.[key] !== "" && (selector?.matchExpressions ?? []).length === 0) {
      const id = `${w.namespace}/${key}`;
      let group = shared.get(id);
      if (!group || group.members.length >= GROUP_MAX) {
        group = { namespace: w.namespace, key, members: [] };
        shared.set(id, group);
        lists.push(group);
      }
      group.members.push(w);
      continue;
    }
    const labelSelector = selectorString(selector);
    if (labelSelector !== undefined) lists.push({ namespace: w.namespace, labelSelector, members: [w] });
  }
  return lists.map((l) => {
    if ("labelSelector" in l) return l;
    const values = new Set(l.members.map((m) => m.object.spec?.selector?.matchLabels?.[l.key] ?? ""));
    return { namespace: l.namespace, labelSelector: `${l.key} in (${[...values].join(",")})`, members: l.members };
  });
}

/**
 * Terminating pods per workload key: few LISTs, narrowed server-side by the workloads' selectors (podLists), in the
 * order given. `untilDraining`: stop after the first LIST that found a draining pod (enough to hold a restart).
 */
export async function countTerminatingPods(
  core: CoreV1Api,
  workloads: readonly Counted[],
  now: number,
  stuckAfterMs: number,
  { untilDraining = false }: { readonly untilDraining?: boolean } = {},
): Promise<Map<string, TerminatingCount>> {
  const out = new Map<string, TerminatingCount>();
  for (const list of podLists(workloads)) {
    // resourceVersion "0": served from the API server's watch cache.
    const pods: V1Pod[] = (
      await core.listNamespacedPod({
        namespace: list.namespace,
        labelSelector: list.labelSelector,
        resourceVersion: "0",
      })
    ).items.filter(isTerminating);
    let anyDraining = false;
    for (const w of list.members) {
      const selector = w.object.spec?.selector;
      let draining = 0;
      let stuck = 0;
      for (const p of pods) {
        // Which workload a pod belongs to is decided here, by each workload's own full selector.
        if (!selects(selector, p.metadata?.labels)) continue;
        // deletionTimestamp is when the grace period ends; past it by more than the limit counts as stuck.
        const end = new Date(p.metadata?.deletionTimestamp as Date | string).getTime();
        if (Number.isFinite(end) && now - end > stuckAfterMs) stuck += 1;
        else draining += 1;
      }
      if (draining + stuck > 0) out.set(w.key, { key: w.key, draining, stuck });
      if (draining > 0) anyDraining = true;
    }
    if (untilDraining && anyDraining) break;
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
