// The pass's memory between reconciles, per workload: when an increase was first seen (core decide() waits a
// cooldown from then and from the last apply, and asks for a minimum gain) and which change last failed (the same
// change waits `failureBackoffMs` before it is tried again: no restart loops). Lost on a restart, which only delays
// increases and retries (safe); the applied values themselves live on the workloads.
import type { Action, PoolSettings, WorkloadPlan } from "../core/index.js";

const targetOf = (s: PoolSettings): string => `${s.poolSize}+${s.maxOverflow}`;

export class Damper {
  private readonly seen = new Map<string, { target: string; at: number }>();
  private readonly failures = new Map<string, { target: string; at: number }>();

  constructor(private readonly failureBackoffMs: number) {}

  /** When the current increase of `p` was first seen (the recommendation may move while it waits: then now). */
  increaseSeenAt(p: WorkloadPlan, now: number): number | undefined {
    if (p.change !== "increase" || !p.recommended) {
      this.seen.delete(p.id);
      return undefined;
    }
    const target = targetOf(p.recommended);
    const before = this.seen.get(p.id);
    if (before?.target === target) return before.at;
    this.seen.set(p.id, { target, at: now });
    return now;
  }

  /** Until when `a` waits because the same change failed recently; undefined when it may go. */
  failedUntil(a: Pick<Action, "workload" | "to">, now: number): number | undefined {
    const f = this.failures.get(a.workload);
    if (!f || f.target !== targetOf(a.to)) return undefined;
    const until = f.at + this.failureBackoffMs;
    return now < until ? until : undefined;
  }

  /** The workload is gone (or was replaced by a new object of the same name): nothing of it is remembered. */
  forget(workload: string): void {
    this.failures.delete(workload);
    this.seen.delete(workload);
  }

  failed(a: Action, at: number): void {
    this.failures.set(a.workload, { target: targetOf(a.to), at });
  }

  /** Workloads remembered, for tests of bounded memory. */
  size(): number {
    return new Set([...this.failures.keys(), ...this.seen.keys()]).size;
  }

  applied(a: Action): void {
    this.failures.delete(a.workload);
    this.seen.delete(a.workload);
  }
}
