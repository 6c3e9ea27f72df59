import type { IntOrPercent, WorkloadSnapshot } from "./snapshot.js";

/** Replicas to plan for: HPA maxReplicas when one targets the workload (never below what runs now). */
export function plannedReplicas(w: WorkloadSnapshot): number {
  return w.hpa ? Math.max(w.hpa.maxReplicas, w.replicas) : w.replicas;
}

/** Resolve an IntOrPercent against a replica count; percentages round up, as the Deployment controller does for maxSurge. */
export function resolveUp(v: IntOrPercent, replicas: number): number {
  return v.kind === "int" ? v.value : Math.ceil((v.value * replicas) / 100);
}

/**
 * The most pods that can hold connections at once.
 * RollingUpdate adds the surge; Recreate, StatefulSets and stop-first compose recreation add none;
 * start-first adds one container. Terminating pods (KEP-3973) come on top, as the shell declares them.
 */
export function podsPeak(w: WorkloadSnapshot): number {
  const r = plannedReplicas(w);
  let surge = 0;
  switch (w.rollout.type) {
    case "RollingUpdate":
      surge = resolveUp(w.rollout.maxSurge, r);
      break;
    case "StartFirst":
      surge = r > 0 ? 1 : 0;
      break;
    case "Recreate":
    case "Ordered":
    case "StopFirst":
      surge = 0;
      break;
  }
  return r + surge + (w.terminatingPods ?? 0);
}
