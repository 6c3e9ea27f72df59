// The controller's Actuator for the shared pass. Per workload and pass, one strategic-merge patch (kopf): the pool
// env when an action is due (the pod template changes and the workload rolls) together with the status annotation
// when what it says changed, guarded by the resourceVersion the plan was made from (src/kube/patch.ts). Before any
// restart, `hold` makes sure no pod of the database's workloads is still terminating (they keep their connections).
import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Action } from "../core/index.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import type { ActContext, ActOutcome, Actuator } from "../runtime/pass-types.js";
import { type EventRecorder, errorSummary } from "./events.js";
import type { KubeMetrics } from "./metrics.js";
import { eventTarget } from "./notices.js";
import type { KubeWorkload } from "./observe.js";
import { buildPatch, sendPatch } from "./patch.js";
import { nextStatus, statusKey } from "./status.js";
import { countTerminatingPods } from "./terminating-pods.js";

export interface KubeActuatorOptions {
  readonly kubeConfig: KubeConfig;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly kubeMetrics: KubeMetrics;
  readonly log: Logger;
  /** Pods terminating for longer than this are reported, not waited for. */
  readonly rolloutTimeoutMs: number;
  /** Generations this replica wrote that its cache has not shown yet (read by the observer). */
  readonly inFlight: Map<string, number>;
  /** Called for every patch sent (successful or not), for the writes-per-minute measurements. */
  readonly onWrite?: () => void;
}

export class KubeActuator implements Actuator<KubeWorkload> {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly lastDraining = new Map<string, string>();

  constructor(private readonly o: KubeActuatorOptions) {
    this.apps = o.kubeConfig.makeApiClient(AppsV1Api);
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Bound the pods that drain at once: no restart while any pod of this database's workloads is terminating. */
  async hold(workloads: readonly KubeWorkload[], now: number): Promise<string | undefined> {
    const database = workloads[0]?.database ?? "";
    const counts = await countTerminatingPods(this.core, workloads, now, this.o.rolloutTimeoutMs);
    for (const c of counts.values()) {
      if (c.stuck > 0)
        this.o.log.warn({ workload: c.key, pods: c.stuck }, "pods stuck terminating; not waiting for them");
    }
    const draining = [...counts.values()].filter((c) => c.draining > 0).map((c) => `${c.key}: ${c.draining}`);
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
    const next = nextStatus(w.status, generation, p, db, ctx.updateMode, action, new Date(ctx.now));
    this.o.kubeMetrics.pending.set({ workload: w.id, database }, next.pending ? 1 : 0);
    // A workload that already runs the recommendation and never had one pending gets no status: writing it would
    // be a write per workload at install time (and a new Deployment generation) that tells nothing new.
    const worthTelling = next.pending || w.status !== undefined;
    const statusChanged = worthTelling && statusKey(next) !== statusKey(w.status);
    if (!action && !statusChanged) return { kind: "unchanged" };
    const target = {
      container: w.container as string,
      poolSizeEnv: w.options.poolSizeEnv,
      maxOverflowEnv: w.options.maxOverflowEnv,
    };
    const patch = buildPatch(w.object, target, action?.to, next);
    if (!patch.body) return { kind: "unchanged" };
    this.o.onWrite?.();
    try {
      const stored = await sendPatch(this.apps, w.kind, w.namespace, w.name, patch.body);
      this.o.kubeMetrics.writes.inc({ what: "patch", result: "ok" });
      if (action && patch.envChanges.length > 0) {
        this.o.inFlight.set(w.key, stored.metadata?.generation ?? 0);
        this.o.metrics.restarts.inc({ workload: w.id, database });
        const changes = patch.envChanges.map((c) => `${c.name} ${c.from ?? "(unset)"}→${c.to}`).join(", ");
        const msg =
          `${changes} (${action.change}: peak ${p.current.peak ?? "unbounded"}→${p.recommended?.peak} connections for ` +
          `${p.processes} processes; ${database} budget ${db.usable} of max_connections ${db.limit})`;
        await this.o.events.emit(eventTarget(w), "Normal", "Applied", msg);
        return { kind: "applied", targets: [], how: " (rollout started)" };
      }
      if (ctx.updateMode === "off" && next.recommended && next.pending) {
        await this.o.events.emit(
          eventTarget(w),
          "Normal",
          "Recommended",
          `update-mode off: recommend ${w.options.poolSizeEnv}=${next.recommended.poolSize} ` +
            `${w.options.maxOverflowEnv}=${next.recommended.maxOverflow} (peak ${p.current.peak ?? "unbounded"}→` +
            `${next.recommended.peak} connections; ${database} budget ${db.usable} of max_connections ${db.limit})`,
        );
      }
      return { kind: "published" };
    } catch (err) {
      this.o.kubeMetrics.writes.inc({ what: "patch", result: "error" });
      const code = (err as { code?: number }).code;
      // 409: the workload changed after the plan was made; re-read and re-plan shortly.
      this.o.log[code === 409 ? "info" : "warn"]({ workload: w.key, err: errorSummary(err) }, "patch failed");
      if (code === 409) return { kind: "conflict" };
      // A refused patch changed nothing (the API server applies a patch whole or not at all).
      if (action) {
        const where = `${w.kind} ${w.namespace}/${w.name}`;
        return { kind: "failed", target: w.key, where, what: "workload", reason: errorSummary(err), restored: true };
      }
      throw err;
    }
  }
}
