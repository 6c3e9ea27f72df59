// One adapter over the few fields that differ between Deployments and StatefulSets (STYLE: no per-kind copies).
// Objects are kept as the API server sent them; only these functions look inside.
import type {
  KubernetesObject,
  V1Deployment,
  V1LabelSelector,
  V1Pod,
  V1StatefulSet,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { hasOptionKeys, isEnabled as isOptedIn, kubeOptionKeys, kubeWorkloadKey } from "../sources/identity.js";

export type WorkloadKind = "Deployment" | "StatefulSet";
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ["Deployment", "StatefulSet"];

export type WorkloadObject = (V1Deployment | V1StatefulSet) & KubernetesObject;
export type HpaObject = V2HorizontalPodAutoscaler & KubernetesObject;

export { STATUS_ANNOTATION } from "../sources/identity.js";

export function keyOf(o: WorkloadObject, kind: WorkloadKind): string {
  return kubeWorkloadKey(kind, o.metadata?.namespace ?? "default", o.metadata?.name ?? "");
}

/** The object's option keys: annotations, and the `pooltuner.io/enabled` label (src/sources/identity.ts). */
export const optionKeysOf = (o: KubernetesObject) => kubeOptionKeys(o.metadata?.annotations, o.metadata?.labels);

/** Opted in with `pooltuner.io/enabled: "true"` (annotation or label). */
export const isEnabled = (o: KubernetesObject): boolean => isOptedIn(optionKeysOf(o), "kubernetes");

/** Has any `pooltuner.io/*` key besides our own status: worth a look even when not enabled (typos). */
export const hasPooltunerKeys = (o: KubernetesObject): boolean => hasOptionKeys(optionKeysOf(o), "kubernetes");

export type RolloutProgress =
  | { readonly state: "complete" }
  | { readonly state: "progressing"; readonly detail: string }
  /** The workload's own deadline passed (Deployment `ProgressDeadlineExceeded`). */
  | { readonly state: "stuck"; readonly detail: string };

/**
 * Whether the workload's pods all run the current template, judged from its status the way `kubectl rollout status`
 * does: the controller has observed the latest generation, every replica is updated, no old replica is left, and the
 * updated ones are available. Terminating pods are not in these counts; the reconciler checks them separately.
 */
export function rolloutProgress(o: WorkloadObject, kind: WorkloadKind): RolloutProgress {
  const generation = o.metadata?.generation ?? 0;
  const st = o.status ?? {};
  if ((st.observedGeneration ?? 0) < generation) {
    return { state: "progressing", detail: `generation ${generation} not yet observed by the ${kind} controller` };
  }
  const desired = o.spec?.replicas ?? 1;
  const updated = st.updatedReplicas ?? 0;
  const total = st.replicas ?? 0;
  if (kind === "Deployment") {
    const d = o as V1Deployment;
    const deadline = d.status?.conditions?.find((c) => c.type === "Progressing");
    const stuck = deadline?.reason === "ProgressDeadlineExceeded";
    const wait = (detail: string): RolloutProgress =>
      stuck ? { state: "stuck", detail: `${detail} (progress deadline exceeded)` } : { state: "progressing", detail };
    if (updated < desired) return wait(`${updated} of ${desired} replicas updated`);
    if (total > updated) return wait(`${total - updated} old replicas pending termination`);
    const available = d.status?.availableReplicas ?? 0;
    if (available < updated) return wait(`${available} of ${updated} updated replicas available`);
    return { state: "complete" };
  }
  const s = o as V1StatefulSet;
  // OnDelete: the controller never replaces pods by itself, so there is nothing to wait for.
  if (s.spec?.updateStrategy?.type === "OnDelete") return { state: "complete" };
  if (s.status?.updateRevision && s.status.currentRevision !== s.status.updateRevision) {
    return { state: "progressing", detail: `${updated} of ${desired} pods on revision ${s.status.updateRevision}` };
  }
  if (updated < desired) return { state: "progressing", detail: `${updated} of ${desired} replicas updated` };
  const ready = s.status?.availableReplicas ?? s.status?.readyReplicas ?? 0;
  if (ready < desired) return { state: "progressing", detail: `${ready} of ${desired} replicas available` };
  return { state: "complete" };
}

/** Old pods may hold connections while new ones already run only for RollingUpdate Deployments (DESIGN §3). */
export function drainsDuringRollout(o: WorkloadObject, kind: WorkloadKind): boolean {
  return kind === "Deployment" && (o as V1Deployment).spec?.strategy?.type !== "Recreate";
}

/** Whether `pod` is selected by the workload's label selector (matchLabels and matchExpressions). */
export function selects(selector: V1LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  const hasTerms = Object.keys(selector.matchLabels ?? {}).length > 0 || (selector.matchExpressions ?? []).length > 0;
  if (!hasTerms) return false; // an empty selector would match everything; workloads never have one
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const value = l[e.key];
    switch (e.operator) {
      case "In":
        if (!has || !(e.values ?? []).includes(value as string)) return false;
        break;
      case "NotIn":
        if (has && (e.values ?? []).includes(value as string)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Pods that are shutting down but may still hold connections (deletionTimestamp set, not yet gone). */
export function isTerminating(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
}

/** The workload an HPA scales, as `namespace/Kind/name`; undefined for other targets. */
export function hpaTargetKey(h: HpaObject): string | undefined {
  const ref = h.spec?.scaleTargetRef;
  if (!ref || !WORKLOAD_KINDS.includes(ref.kind as WorkloadKind)) return undefined;
  return kubeWorkloadKey(ref.kind, h.metadata?.namespace ?? "default", ref.name);
}

/** The container whose env pooltuner reads and writes: the named one, else the first. */
export function chosenContainerName(o: WorkloadObject, wanted: string | undefined): string | undefined {
  const containers = o.spec?.template?.spec?.containers ?? [];
  if (wanted !== undefined) return containers.find((c) => c.name === wanted)?.name;
  return containers[0]?.name;
}
