// Kubernetes Events on the workloads, where `kubectl describe` shows them. A level-based reconcile sees the same
// problem on every pass, so an event is sent once per (object, reason, message) and repeated only after
// `repeatAfterMs` (events expire after an hour by default); `resolve` forgets a condition once it is gone, so it is
// reported again if it returns. Messages carry names and numbers only, never URLs or credentials.
import { ApiException, CoreV1Api, type KubeConfig, type V1ObjectReference } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.js";
import { redactUrl } from "../runtime/url-redaction.js";

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

  /**
   * Sends the event unless the same one was sent recently (`repeatAfterMs`, default the recorder's). Never throws:
   * events are best effort.
   */
  async emit(
    target: EventTarget,
    type: EventType,
    reason: string,
    message: string,
    repeatAfterMs = this.options.repeatAfterMs ?? 30 * 60_000,
  ): Promise<void> {
    const key = dedupeKey(target, reason);
    const now = Date.now();
    const full = `${key}\u0000${message}`;
    const last = this.sent.get(full);
    if (last !== undefined && now - last < repeatAfterMs) return;
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

/**
 * The HTTP status of an answer from the API server; undefined when there was none (a timeout, a refused connection).
 * Not any numeric `code`: a DOMException carries one too (23 for a timeout).
 */
export function httpStatusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/**
 * An API error as a short, credential-free line: status code and the server's message; a network error with its causes
 * (`fetch failed: connect ECONNREFUSED 127.0.0.1:6443`).
 */
export function errorSummary(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: unknown };
  if (httpStatusOf(err) !== undefined) {
    let msg = "";
    try {
      const body = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
      msg = typeof body?.message === "string" ? body.message : "";
    } catch {
      msg = "";
    }
    return `HTTP ${e.code}${msg ? `: ${msg}` : ""}`;
  }
  // AbortSignal.timeout (src/kube/client.ts) rejects with a DOMException whose message names no limit.
  if ((err as { name?: unknown })?.name === "TimeoutError")
    return "no answer from the API server within the request timeout";
  return withoutUrlSecrets(causeChain(err));
}

const MAX_CAUSES = 5;

/**
 * The messages of an error and its causes, outermost first: client-node sends through undici's fetch, whose
 * `TypeError: fetch failed` says nothing until its `cause` (`connect ECONNREFUSED 127.0.0.1:6443`, `getaddrinfo
 * ENOTFOUND ...`), and Node's dual-stack connect gathers several such errors in an AggregateError.
 */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < MAX_CAUSES; depth++) {
    const text = ownMessage(current);
    // A cause already said by its wrapper (`request failed: connect ECONNREFUSED ...`) is not said twice.
    if (text !== "" && !parts.some((p) => p.includes(text))) parts.push(text);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(": ") || "unknown error";
}

function ownMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length > 0) {
    const each = [...new Set(inner.map((e) => (e instanceof Error ? e.message : String(e))).filter((m) => m !== ""))];
    if (each.length > 0) return each.join("; ");
  }
  if (err.message !== "") return err.message;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "";
}

/** fetch names the URL it refused (`...a URL that includes credentials: https://user:pass@host/`): redacted. */
function withoutUrlSecrets(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url));
}
