import type { IntOrPercent, WorkloadSnapshot } from "./snapshot.js";

/**
 * Replicas to plan for. An HPA's maxReplicas when one targets the workload (never below what runs now). Without one,
 * the larger of `replicas` and the by-hand `maxReplicas`, and at least 1: a workload scaled to zero comes back, and
 * its pods must then fit without a re-plan and a restart of the others first.
 */
export function plannedReplicas(w: WorkloadSnapshot): number {
  if (w.hpa) return Math.max(w.hpa.maxReplicas, w.replicas);
  return Math.max(w.replicas, w.maxReplicas ?? 0, 1);
}

/** Resolve an IntOrPercent against a replica count; percentages round up, as the Deployment controller does for maxSurge. */
export function resolveUp(v: IntOrPercent, replicas: number): number {
  return v.kind === "int" ? v.value : Math.ceil((v.value * replicas) / 100);
}

/**
 * Extra pods a replacement can start before old ones are gone. A RollingUpdate surges by maxSurge (the policy's
 * default when the manifest does not say), but the Deployment controller never runs more than 2 × R pods, so the
 * surge is capped at R. Recreate, StatefulSets and stop-first compose recreation add none; start-first adds one.
 */
export function surgePods(w: WorkloadSnapshot, defaultMaxSurge: IntOrPercent): number {
  const r = plannedReplicas(w);
  switch (w.rollout.type) {
    case "RollingUpdate":
      return Math.min(r, resolveUp(w.rollout.maxSurge ?? defaultMaxSurge, r));
    case "StartFirst":
      return r > 0 ? 1 : 0;
    case "Recreate":
    case "Ordered":
    case "StopFirst":
      return 0;
  }
}

/**
 * Terminating pods a RollingUpdate can leave beside its running ones when old pods linger (preStop, slow shutdown):
 * the Deployment controller does not count them against maxSurge (KEP-3973), so every old pod may still hold its pool
 * while all R new pods run. Running pods never exceed R + surge and new ones never exceed R, so the worst moment holds
 * max(R + surge, 2R) pods: the surge plus max(0, R − surge) lingering ones. Any rollout counts, not only pooltuner's.
 */
export function lingeringPods(w: WorkloadSnapshot, defaultMaxSurge: IntOrPercent): number {
  if (w.rollout.type !== "RollingUpdate" || !w.rollout.oldPodsLinger) return 0;
  return Math.max(0, plannedReplicas(w) - surgePods(w, defaultMaxSurge));
}

/**
 * The most pods that can hold connections at once: planned replicas plus the surge, the old pods that linger beside
 * them, and the terminating pods (KEP-3973) the shell declares on top.
 */
export function podsPeak(w: WorkloadSnapshot, defaultMaxSurge: IntOrPercent): number {
  return (
    plannedReplicas(w) + surgePods(w, defaultMaxSurge) + lingeringPods(w, defaultMaxSurge) + (w.terminatingPods ?? 0)
  );
}
