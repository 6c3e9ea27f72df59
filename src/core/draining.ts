import type { WorkloadPlan } from "./plan-types.js";

/**
 * Connections the old processes of a workload may still hold while its own rollout replaces them: a RollingUpdate
 * starts new pods before the old ones have drained (KEP-3973), so an increase must fit with every planned pod still
 * at the current cap. Zero when old pods are gone before new ones start (`drains` false: Recreate, StatefulSets,
 * stop-first compose recreation), when the current settings are unbounded (nothing fits them anyway: decide() never
 * lets an increase pass an unbounded workload), or when the workers are unknown (not planned).
 */
export function drainingPeak(p: WorkloadPlan, drains: boolean): number {
  if (!drains || p.current.unbounded || p.workers === "unknown") return 0;
  return p.plannedReplicas * p.workers * (p.current.settings.poolSize + p.current.settings.maxOverflow);
}
