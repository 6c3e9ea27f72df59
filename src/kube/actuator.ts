// The controller's Actuator for the shared pass. Per workload and pass, one strategic-merge patch (kopf): the pool
// env when an action is due (the pod template changes and the workload rolls) together with the status annotation
// when what it says changed, guarded by the resourceVersion the plan was made from (src/kube/patch.ts). Before any
// restart, `hold` makes sure no pod of the database's workloads is still terminating (they keep their connections).
// A patch the API server refuses (an admission policy or webhook, 422, 404) is that workload's failure alone: a
// Warning event on it, a backoff, and the pass goes on with the others. Only a write this replica may no longer
// make (it is not leading) fails the whole pass.
import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { type Action, envText, type Policy } from "../core/index.js";
import type { Logger } from "../runtime/logger.js";
import { type Metrics, workloadLabels } from "../runtime/metrics.js";
import type { ActContext, ActOutcome, Actuator } from "../runtime/pass-types.js";
import { WriteRefusedError } from "./client.js";
import { type EventRecorder, errorSummary, httpStatusOf } from "./events.js";
import type { KubeMetrics } from "./metrics.js";
import { eventTarget } from "./notices.js";
import { type KubeWorkload, uidOf } from "./observe.js";
import { buildPatch, sendPatch } from "./patch.js";
import { nextStatus, statusKey } from "./status.js";
import { type DecreaseSurge, RESTORE_FIELD_MANAGER, type StrategyStep, strategyStep } from "./strategy.js";
import { countTerminatingPods } from "./terminating-pods.js";

export interface KubeActuatorOptions {
  readonly kubeConfig: KubeConfig;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly kubeMetrics: KubeMetrics;
  readonly log: Logger;
  /** Pods terminating for longer than this are reported, not waited for. */
  readonly rolloutTimeoutMs: number;
  /** Generations this replica wrote that its cache has not shown yet, per uid (read by the observer). */
  readonly inFlight: Map<string, number>;
  /** After a refused status write, the workload's next status write waits this long. */
  readonly failureBackoffMs: number;
  /** Per uid: status-only writes refused until then (a status is information; it must not cost a write per pass).
   * Shared with the observer, which drops the entries of objects that are gone. */
  readonly statusRefusedUntil: Map<string, number>;
  /** Called for every patch sent (successful or not), for the writes-per-minute measurements. */
  readonly onWrite?: () => void;
  /** The planner's policy (its default maxSurge resolves a strategy that does not say). */
  readonly policy: Pick<Policy, "defaultMaxSurge">;
  /** `drop` (default): a decrease from over budget rolls out without surge (src/kube/strategy.ts); `keep`: never. */
  readonly decreaseSurge?: DecreaseSurge;
}

export class KubeActuator implements Actuator<KubeWorkload> {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly lastDraining = new Map<string, string>();
  /** Per database, the workload found draining at the last check: looked at first next time. */
  private readonly drainingFirst = new Map<string, string>();
  private readonly statusRefusedUntil: Map<string, number>;

  constructor(private readonly o: KubeActuatorOptions) {
    this.apps = o.kubeConfig.makeApiClient(AppsV1Api);
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.statusRefusedUntil = o.statusRefusedUntil;
  }

  /** Objects remembered (tests of bounded memory under churn). */
  remembered(): number {
    return this.statusRefusedUntil.size;
  }

  /**
   * Bound the pods that drain at once: no restart while any pod of this database's workloads is terminating. The
   * workloads that drained at the last check are looked at first, and the check stops at the first one draining.
   */
  async hold(workloads: readonly KubeWorkload[], now: number): Promise<string | undefined> {
    const database = workloads[0]?.database ?? "";
    const first = this.drainingFirst.get(database);
    const ordered = [...workloads.filter((w) => w.key === first), ...workloads.filter((w) => w.key !== first)];
    const counts = await countTerminatingPods(this.core, ordered, now, this.o.rolloutTimeoutMs, {
      untilDraining: true,
    });
    for (const c of counts.values()) {
      if (c.stuck > 0)
        this.o.log.warn({ workload: c.key, pods: c.stuck }, "pods stuck terminating; not waiting for them");
    }
    const drainingNow = [...counts.values()].filter((c) => c.draining > 0);
    const draining = drainingNow.map((c) => `${c.key}: ${c.draining}`);
    if (drainingNow[0]) this.drainingFirst.set(database, drainingNow[0].key);
    else this.drainingFirst.delete(database);
    if (draining.length === 0) return undefined;
    // Logged once per change of what is draining, not on every check.
    const level = this.lastDraining.get(database) === draining.join() ? "debug" : "info";
    this.lastDraining.set(database, draining.join());
    this.o.log[level]({ database, draining }, "waiting for terminating pods before the next restart");
    return "pods-terminating";
  }

  async act(w: KubeWorkload, action: Action | undefined, ctx: ActContext): Promise<ActOutcome> {
    const { plan: p, databasePlan: db, database } = ctx;
    const generation = w.object.metadata?.generation ?? 0;
    const step = strategyStep({
      kind: w.kind,
      object: w.object,
      before: w.status?.strategy,
      action,
      plan: p,
      currentSafe: db.currentSafe,
      rollout: w.snapshot?.rollout,
      policy: this.o.policy,
      mode: this.o.decreaseSurge ?? "drop",
    });
    const fresh = nextStatus(w.status, generation, p, db, ctx.updateMode, action, new Date(ctx.now), ctx.paused);
    const next = step.status ? { ...fresh, strategy: step.status } : fresh;
    this.o.kubeMetrics.pending.set(workloadLabels(w.id, database), next.pending ? 1 : 0);
    // A workload that already runs the recommendation and never had one pending gets no status: writing it would
    // be a write per workload at install time (and a new Deployment generation) that tells nothing new.
    const worthTelling = next.pending || w.status !== undefined;
    const statusChanged = worthTelling && statusKey(next) !== statusKey(w.status);
    if (!action && !statusChanged) return { kind: "unchanged" };
    const uid = uidOf(w);
    const refusedUntil = this.statusRefusedUntil.get(uid);
    if (!action && refusedUntil !== undefined && ctx.now < refusedUntil) return { kind: "unchanged" };
    this.statusRefusedUntil.delete(uid);
    const patch = buildPatch(w.object, w.container as string, action?.env, next, step.patch);
    if (!patch.body) return { kind: "unchanged" };
    this.o.onWrite?.();
    try {
      const manager = step.restore && patch.envChanges.length === 0 ? RESTORE_FIELD_MANAGER : undefined;
      const stored = await sendPatch(this.apps, w.kind, w.namespace, w.name, patch.body, manager);
      this.o.kubeMetrics.writes.inc({ what: "patch", result: "ok" });
      await this.toldStrategy(w, step);
      if (action && patch.envChanges.length > 0) {
        this.o.inFlight.set(uid, stored.metadata?.generation ?? 0);
        this.o.metrics.restarts.inc({ ...workloadLabels(w.id, database), reason: action.change });
        const changes = patch.envChanges.map((c) => `${c.name} ${c.from ?? "(unset)"}→${c.to}`).join(", ");
        const msg =
          `${changes} (${action.change}: peak ${p.current.peak ?? "unbounded"}→${p.recommended?.peak} connections for ` +
          `${p.processes} processes; ${database} budget ${db.usable} of max_connections ${db.limit})` +
          (step.path?.kind === "no-surge"
            ? `; rolled out with maxSurge 0, maxUnavailable 1 (rollout peak ${step.path.peakWithoutSurge} instead of ` +
              `${step.path.peakWithSurge} connections; the strategy is put back once the rollout completes)`
            : "");
        await this.o.events.emit(eventTarget(w), "Normal", "Applied", msg);
        return { kind: "applied", targets: [], how: " (rollout started)" };
      }
      if (ctx.updateMode === "off" && next.recommended && next.pending) {
        await this.o.events.emit(
          eventTarget(w),
          "Normal",
          "Recommended",
          `update-mode off: recommend ${envText(p.recommended?.env ?? [])} (peak ${p.current.peak ?? "unbounded"}→` +
            `${next.recommended.peak} connections; ${database} budget ${db.usable} of max_connections ${db.limit})`,
        );
      }
      return { kind: "published" };
    } catch (err) {
      return await this.refused(w, action, ctx, err);
    }
  }

  /** Tells people the strategy was put back, or left as a person changed it. */
  private async toldStrategy(w: KubeWorkload, step: StrategyStep): Promise<void> {
    const saved = w.status?.strategy?.saved;
    if (step.restore && saved) {
      const msg =
        `the safety decrease's rollout is complete: spec.strategy.rollingUpdate put back to maxSurge ` +
        `${saved.maxSurge}, maxUnavailable ${saved.maxUnavailable}`;
      this.o.log.info({ workload: w.key }, msg);
      await this.o.events.emit(eventTarget(w), "Normal", "StrategyRestored", msg);
    } else if (step.leftAlone) {
      this.o.log.info(
        { workload: w.key, strategy: step.leftAlone },
        "spec.strategy was changed after the safety decrease set it: left as it is, not put back",
      );
    }
  }

  /** A patch that failed: whose failure it is, and what the pass should do next. */
  private async refused(
    w: KubeWorkload,
    action: Action | undefined,
    ctx: ActContext,
    err: unknown,
  ): Promise<ActOutcome> {
    if (err instanceof WriteRefusedError) throw err;
    this.o.kubeMetrics.writes.inc({ what: "patch", result: "error" });
    const code = httpStatusOf(err);
    this.o.log[code === 409 ? "info" : "warn"]({ workload: w.key, err: errorSummary(err) }, "patch failed");
    // 409: the workload changed after the plan was made; re-read and re-plan shortly.
    if (code === 409) return { kind: "conflict" };
    // No answer (a timeout, the API server unreachable): the API is unwell, not this workload, and the patch may
    // or may not have been applied. The pass fails and the queue retries it with backoff, from a fresh read.
    if (code === undefined) throw err;
    // A refused patch changed nothing (the API server applies a patch whole or not at all).
    const reason = errorSummary(err);
    await this.o.events.emit(
      eventTarget(w),
      "Warning",
      "PatchRefused",
      `${action ? `could not apply ${ctx.summary}` : "could not update the status annotation"}: ${reason}; ` +
        `retrying in ${Math.round(this.o.failureBackoffMs / 1000)} s at the earliest`,
    );
    // The status would be refused as well: it waits the same backoff as the change.
    this.statusRefusedUntil.set(uidOf(w), ctx.now + this.o.failureBackoffMs);
    if (!action) return { kind: "unchanged" };
    const where = `${w.kind} ${w.namespace}/${w.name}`;
    return { kind: "failed", target: w.key, where, what: "workload", reason, restored: true };
  }
}
