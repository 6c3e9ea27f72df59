// What a Deployment's rollout surge costs each of its processes. The plan counts the surge pods at peak (they hold
// connections while the old pods still run), so on a tight budget they lower everyone's cap: 2 replicas + 25 % surge
// plan for 3 pods, and the same budget over 2 pods may give each process twice as much. People choose the strategy;
// this says what the choice costs, so the trade (one pod fewer serving during a rollout) can be made knowingly.
import { allocate, type Demand } from "./allocate.js";
import type { Recommendation, SurgeCost } from "./plan-types.js";

export interface SurgeCandidate {
  readonly id: string;
  /** Pods the surge adds at peak; only RollingUpdate Deployments have any. */
  readonly surgePods: number;
  readonly workers: number;
  readonly processes: number;
  readonly desiredCap: number;
  /** The settings a cap would be split into (the plan's own recommend()). */
  readonly recommend: (cap: number, processes: number) => Recommendation;
}

/**
 * For each surging workload held below its table cap, the cap it would get rolling out with `maxSurge: 0,
 * maxUnavailable: 1` (its processes without the surge pods; every other workload and bound unchanged). Only the
 * workloads whose cap that would raise are returned: a surge that costs nothing is not worth a word.
 */
export function surgeCosts(
  candidates: readonly SurgeCandidate[],
  demands: readonly Demand[],
  capacity: readonly number[],
  caps: ReadonlyMap<string, number>,
): Map<string, SurgeCost> {
  const out = new Map<string, SurgeCost>();
  for (const c of candidates) {
    const cap = caps.get(c.id) ?? 1;
    if (c.surgePods <= 0 || cap >= c.desiredCap) continue;
    const processes = c.processes - c.surgePods * c.workers;
    const without = allocate(
      demands.map((d) => (d.id === c.id ? { ...d, processes } : d)),
      capacity,
    );
    const better = without.feasible ? (without.caps.get(c.id) ?? 1) : cap;
    if (better <= cap) continue;
    const fewer = fewerWorkers(c, cap, demands, capacity);
    out.set(c.id, {
      pods: c.surgePods,
      connections: c.surgePods * c.workers * cap,
      withoutSurge: c.recommend(better, processes),
      ...(fewer ? { fewerWorkers: fewer } : {}),
    });
  }
  return out;
}

/** The other lever, keeping the surge: the most workers per pod (below today's) that would raise the cap. */
function fewerWorkers(
  c: SurgeCandidate,
  cap: number,
  demands: readonly Demand[],
  capacity: readonly number[],
): SurgeCost["fewerWorkers"] {
  const pods = c.processes / c.workers;
  for (let workers = c.workers - 1; workers >= 1; workers--) {
    const processes = pods * workers;
    const a = allocate(
      demands.map((d) => (d.id === c.id ? { ...d, processes } : d)),
      capacity,
    );
    const got = a.feasible ? (a.caps.get(c.id) ?? 1) : cap;
    if (got > cap) return { workers, recommended: c.recommend(got, processes) };
  }
  return undefined;
}

/** One line for people: what the surge costs and what the other strategy would give, with its price. */
/** Ends the advice's first part, what the surge costs; what follows is worked out from the budget. */
const OF_THE_BUDGET = " connections of the budget";

/**
 * What makes surge advice new: what the surge costs (its pods and their connections), not the alternatives worked
 * out from the budget (the caps without a surge, the worker count that would keep it). The budget drifts with other
 * clients' connections (a restarted controller's own probes among them), and telling the advice again, or rewriting
 * the status that records it, for such a drift was a write per advised workload after every restart.
 */
export function surgeAdviceKey(message: string): string {
  const i = message.indexOf(OF_THE_BUDGET);
  return i < 0 ? message : message.slice(0, i + OF_THE_BUDGET.length);
}

export function surgeCostMessage(
  id: string,
  replicas: number,
  current: Recommendation,
  s: SurgeCost,
  shown: (settings: Recommendation) => string = (x) => `${x.poolSize}+${x.maxOverflow}`,
): string {
  const w = s.withoutSurge;
  const pods = `${s.pods} pod${s.pods === 1 ? "" : "s"}`;
  const ratio = Math.round((w.cap / current.cap) * 10) / 10;
  const price =
    replicas <= 1 ? "no pod serves while its only pod is replaced" : "one pod fewer serves during a rollout";
  const f = s.fewerWorkers;
  const workers = f
    ? `; or, keeping the surge, ${f.workers} worker${f.workers === 1 ? "" : "s"} per pod would get ` +
      `${shown(f.recommended)} each (${f.recommended.peak} connections at peak ` +
      `instead of ${current.peak})`
    : "";
  return (
    `${id}: the rollout surge (${pods}) costs ${s.connections}${OF_THE_BUDGET}: with maxSurge: 0, ` +
    `maxUnavailable: 1 each process would get ${shown(w)} instead of ` +
    `${shown(current)} (${ratio}x the connections per process); ${price}${workers}`
  );
}
