// Conditions as Kubernetes Events on the workload (`kubectl describe` shows them), deduplicated by the recorder and
// resolved when a pass no longer raises them; configuration errors are also logged, once per change.
import type { Logger } from "../runtime/logger.js";
import { CONDITIONS, type ConditionReason, type Notices } from "../runtime/pass-types.js";
import type { EventRecorder, EventTarget } from "./events.js";
import type { KubeWorkload } from "./observe.js";

export class KubeNotices implements Notices<KubeWorkload> {
  private readonly loggedErrors = new Map<string, string>();

  constructor(
    private readonly events: EventRecorder,
    private readonly log: Logger,
  ) {}

  async raise(w: KubeWorkload, reason: ConditionReason, lines: readonly string[]): Promise<void> {
    const text = lines.join("; ");
    if (reason === "InvalidConfiguration" && this.loggedErrors.get(w.key) !== text) {
      this.log.warn({ workload: w.key, errors: lines }, "workload configuration has errors; it is left unchanged");
      this.loggedErrors.set(w.key, text);
    }
    await this.events.emit(eventTarget(w), "Warning", reason, text);
  }

  settle(w: KubeWorkload, raised: ReadonlySet<ConditionReason>): void {
    if (!raised.has("InvalidConfiguration")) this.loggedErrors.delete(w.key);
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
