// Kubernetes Events on the workloads, where `kubectl describe` shows them. A level-based reconcile sees the same
// problem on every pass, so an event is sent once per (object, reason, message) and repeated only after
// `repeatAfterMs` (events expire after an hour by default); `resolve` forgets a condition once it is gone, so it is
// reported again if it returns. Messages carry names and numbers only, never URLs or credentials.
import { CoreV1Api, type KubeConfig, type V1ObjectReference } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.js";

export type EventType = "Normal" | "Warning";

export interface EventTarget {
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export interface EventRecorderOptions {
  readonly kubeConfig: KubeConfig;
  /** reportingInstance: the pod name (or another id) of this replica. */
  readonly instance: string;
  readonly log: Logger;
  readonly repeatAfterMs?: number;
  /** Counts every create call, for the writes-per-minute measurements. */
  readonly onWrite?: (type: EventType, reason: string, ok: boolean) => void;
}

const COMPONENT = "pooltuner";
/** Past this many remembered events, those old enough to be sent again anyway are forgotten. */
const MAX_REMEMBERED = 10_000;
const MAX_MESSAGE = 1024;

export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly sent = new Map<string, number>();

  constructor(private readonly options: EventRecorderOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Sends the event unless the same one was sent recently. Never throws: events are best effort. */
  async emit(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const key = dedupeKey(target, reason);
    const now = Date.now();
    const full = `${key}\u0000${message}`;
    const last = this.sent.get(full);
    if (last !== undefined && now - last < (this.options.repeatAfterMs ?? 30 * 60_000)) return;
    // Another message for the same reason replaces the old one (e.g. a new number of missing connections).
    for (const k of this.sent.keys()) if (k.startsWith(`${key}\u0000`)) this.sent.delete(k);
    this.sent.set(full, now);
    if (this.sent.size > MAX_REMEMBERED) this.prune(now);
    const involvedObject: V1ObjectReference = {
      apiVersion: target.apiVersion,
      kind: target.kind,
      name: target.name,
      namespace: target.namespace,
      ...(target.uid ? { uid: target.uid } : {}),
    };
    const at = new Date();
    try {
      await this.api.createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { generateName: `${target.name}.`, namespace: target.namespace },
          involvedObject,
          type,
          reason,
          message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message,
          source: { component: COMPONENT },
          reportingComponent: COMPONENT,
          reportingInstance: this.options.instance,
          firstTimestamp: at,
          lastTimestamp: at,
          count: 1,
        },
      });
      this.options.onWrite?.(type, reason, true);
    } catch (err) {
      this.sent.delete(full);
      this.options.onWrite?.(type, reason, false);
      this.options.log.warn(
        { err: errorSummary(err), reason, object: `${target.kind} ${target.namespace}/${target.name}` },
        "could not record event",
      );
    }
  }

  /** The condition behind `reason` is gone for this object: report it again should it come back. */
  resolve(target: EventTarget, reason: string): void {
    const key = `${dedupeKey(target, reason)}\u0000`;
    for (const k of this.sent.keys()) if (k.startsWith(key)) this.sent.delete(k);
  }

  private prune(now: number): void {
    const repeat = this.options.repeatAfterMs ?? 30 * 60_000;
    for (const [k, at] of this.sent) if (now - at >= repeat) this.sent.delete(k);
  }

  /** Forget everything about objects that no longer exist. */
  forget(target: EventTarget): void {
    const prefix = `${target.namespace}/${target.kind}/${target.name}/`;
    for (const k of this.sent.keys()) if (k.startsWith(prefix)) this.sent.delete(k);
  }
}

function dedupeKey(target: EventTarget, reason: string): string {
  return `${target.namespace}/${target.kind}/${target.name}/${target.uid ?? ""}/${reason}`;
}

/** An API error as a short, credential-free line: status code and the server's message. */
export function errorSummary(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: unknown };
  if (typeof e?.code === "number") {
    let msg = "";
    try {
      const body = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
      msg = typeof body?.message === "string" ? body.message : "";
    } catch {
      msg = "";
    }
    return `HTTP ${e.code}${msg ? `: ${msg}` : ""}`;
  }
  return err instanceof Error ? err.message : String(err);
}
