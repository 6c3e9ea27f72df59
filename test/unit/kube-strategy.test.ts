// The strategy part of a pass's patch (src/kube/strategy.ts): set with a decrease from over budget, kept while its
// rollout runs, put back once it is complete only if it is still the one pooltuner set.
import type { V1Deployment } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { type Action, DEFAULT_POLICY, type WorkloadPlan } from "../../src/core/index.js";
import type { WorkloadObject } from "../../src/kube/objects.js";
import type { StrategyStatus } from "../../src/kube/status.js";
import { asThePersonSetIt, type StrategyInput, strategyStep } from "../../src/kube/strategy.js";

const deployment = (
  rollingUpdate: { maxSurge: number | string; maxUnavailable: number | string },
  generation = 3,
  done = true,
): WorkloadObject =>
  ({
    metadata: { generation },
    spec: { replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate } },
    status: done
      ? { observedGeneration: generation, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }
      : { observedGeneration: generation, replicas: 3, updatedReplicas: 1, availableReplicas: 2 },
  }) as V1Deployment as WorkloadObject;

const decrease: Action = {
  workload: "kube:shop/Deployment/web",
  database: "main",
  change: "decrease",
  from: { poolSize: 2, maxOverflow: 3 },
  to: { poolSize: 1, maxOverflow: 0 },
  env: [],
};
const input = (over: Partial<StrategyInput>): StrategyInput => ({
  kind: "Deployment",
  object: deployment({ maxSurge: 1, maxUnavailable: 0 }),
  before: undefined,
  action: decrease,
  plan: { workers: 4 } as WorkloadPlan,
  currentSafe: false,
  rollout: { type: "RollingUpdate", maxSurge: { kind: "int", value: 1 } },
  policy: DEFAULT_POLICY,
  mode: "drop",
  ...over,
});
const recorded: StrategyStatus = {
  saved: { maxSurge: 1, maxUnavailable: 0 },
  set: { maxSurge: 0, maxUnavailable: 1 },
  generation: 4,
};

describe("strategyStep", () => {
  it("a decrease from over budget: maxSurge 0, maxUnavailable 1, the person's strategy recorded for the next generation", () => {
    expect(strategyStep(input({}))).toMatchObject({
      patch: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      status: recorded,
      path: { kind: "no-surge", peakWithSurge: 44, peakWithoutSurge: 40 },
    });
  });

  it("writes nothing about the strategy for a safe decrease, with keep, or for a StatefulSet", () => {
    for (const over of [{ currentSafe: true }, { mode: "keep" as const }, { kind: "StatefulSet" as const }]) {
      const step = strategyStep(input(over));
      expect(step.patch).toBeUndefined();
      expect(step.status).toBeUndefined();
    }
  });

  it("keeps the record while the rollout runs, or while the cache has not shown its generation yet", () => {
    const running = deployment({ maxSurge: 0, maxUnavailable: 1 }, 4, false);
    expect(strategyStep(input({ action: undefined, before: recorded, object: running }))).toEqual({ status: recorded });
    const stale = deployment({ maxSurge: 1, maxUnavailable: 0 }, 3, true);
    expect(strategyStep(input({ action: undefined, before: recorded, object: stale }))).toEqual({ status: recorded });
  });

  it("puts the person's back once the rollout is complete, only if it is still the one pooltuner set", () => {
    const done = deployment({ maxSurge: 0, maxUnavailable: 1 }, 4, true);
    expect(strategyStep(input({ action: undefined, before: recorded, object: done }))).toEqual({
      patch: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      status: undefined,
      restore: true,
    });
    const changed = deployment({ maxSurge: "50%", maxUnavailable: 0 }, 5, true);
    expect(strategyStep(input({ action: undefined, before: recorded, object: changed }))).toEqual({
      status: undefined,
      leftAlone: { maxSurge: "50%", maxUnavailable: 0 },
    });
  });

  it("a second safety decrease before the first was put back keeps the person's strategy as the one to restore", () => {
    const still = deployment({ maxSurge: 0, maxUnavailable: 1 }, 4, true);
    const rollout = { type: "RollingUpdate" as const, maxSurge: { kind: "int" as const, value: 0 } };
    // The Deployment still says pooltuner's maxSurge 0; the person's 1 is what the decrease is weighed against.
    expect(strategyStep(input({ before: recorded, object: still, rollout }))).toMatchObject({
      patch: { rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      status: { saved: { maxSurge: 1, maxUnavailable: 0 }, generation: 5 },
    });
    // And a "25%" the person had is read as the percentage it is.
    const pct = { ...recorded, saved: { maxSurge: "25%", maxUnavailable: "25%" } };
    expect(strategyStep(input({ before: pct, object: still, rollout })).status?.saved).toEqual(pct.saved);
  });

  it("the planner sees the person's strategy while pooltuner's is in place, and what is there otherwise", () => {
    const rollout = { type: "RollingUpdate" as const, maxSurge: { kind: "int" as const, value: 0 } };
    const ours = deployment({ maxSurge: 0, maxUnavailable: 1 }, 4, false);
    expect(asThePersonSetIt({ rollout }, ours, recorded).rollout).toEqual({
      type: "RollingUpdate",
      maxSurge: { kind: "int", value: 1 },
      maxUnavailable: { kind: "int", value: 0 },
    });
    const theirs = deployment({ maxSurge: "50%", maxUnavailable: 0 }, 5, false);
    const own = { type: "RollingUpdate" as const, maxSurge: { kind: "percent" as const, value: 50 } };
    expect(asThePersonSetIt({ rollout: own }, theirs, recorded).rollout).toBe(own);
    expect(asThePersonSetIt({ rollout }, ours, undefined).rollout).toBe(rollout);
  });
});
