// Conditions as Kubernetes Events on the workload (`kubectl describe` shows them), deduplicated by the recorder and
// resolved when a pass no longer raises them; configuration errors are also logged, once per change.
import { surgeAdviceKey } from "../core/index.js";
import type { Logger } from "../runtime/logger.js";
import { CONDITIONS, type ConditionReason, type Notices } from "../runtime/pass-types.js";
import type { EventRecorder, EventTarget } from "./events.js";
import type { KubeWorkload } from "./observe.js";

/** Conditions also logged (once per change), with the log line's message. */
const LOGGED = {
  InvalidConfiguration: "workload configuration has errors; it is left unchanged",
  NotAllowed: "workload names a database it may not use; it is not planned or changed",
} as const;

export class KubeNotices implements Notices<KubeWorkload> {
  private readonly loggedErrors = new Map<string, string>();

  constructor(
    private readonly events: EventRecorder,
    private readonly log: Logger,
    /** `Paused` is sent again this often while it lasts (a pause is the only thing that holds a decrease). */
    private readonly pausedRepeatMs = 30_000,
  ) {}

  async raise(w: KubeWorkload, reason: ConditionReason, lines: readonly string[]): Promise<void> {
    const text = lines.join("; ");
    const logged = LOGGED[reason as keyof typeof LOGGED];
    if (logged && this.loggedErrors.get(`${w.key}/${reason}`) !== text) {
      this.log.warn({ workload: w.key, reason, errors: lines }, logged);
      this.loggedErrors.set(`${w.key}/${reason}`, text);
    }
    // Advice already recorded on the workload's status was told before (by this or an earlier controller).
    const told = w.status?.surge?.advice;
    if (reason === "SurgeCost" && told !== undefined && surgeAdviceKey(told) === surgeAdviceKey(text)) return;
    // Advice is not a fault: a Normal event, so it does not page anyone.
    const repeat = reason === "Paused" ? this.pausedRepeatMs : undefined;
    await this.events.emit(eventTarget(w), reason === "SurgeCost" ? "Normal" : "Warning", reason, text, repeat);
  }

  settle(w: KubeWorkload, raised: ReadonlySet<ConditionReason>): void {
    for (const r of Object.keys(LOGGED) as ConditionReason[]) {
      if (!raised.has(r)) this.loggedErrors.delete(`${w.key}/${r}`);
    }
    for (const r of CONDITIONS) if (!raised.has(r)) this.events.resolve(eventTarget(w), r);
  }
}

export function eventTarget(w: KubeWorkload): EventTarget {
  return {
    kind: w.kind,
    apiVersion: "apps/v1",
    namespace: w.namespace,
    name: w.name,
    ...(w.object.metadata?.uid ? { uid: w.object.metadata.uid } : {}),
  };
}
