// The Engine's container event stream, kept open: a stream that ends or fails (daemon restart, socket gone) is
// reopened with backoff, and every (re)connect asks for a full resync, because events in the gap are lost.
// Events only say "look again": the reconcile reads the world itself (STYLE 1), so duplicates are harmless.
import type Docker from "dockerode";
import { sleep } from "../runtime/sleep.js";

export interface ContainerEvent {
  readonly action: string;
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface WatchOptions {
  readonly signal: AbortSignal;
  readonly onEvent: (e: ContainerEvent) => void;
  /** Called after each successful (re)connect; the first call is the initial sync. */
  readonly onConnected: (attempt: number) => void;
  readonly onDisconnected: (reason: string, retryInMs: number) => void;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

// Actions that change a service's replicas, env or state. `exec_*` and `top` would only add noise.
const ACTIONS = ["create", "start", "restart", "die", "destroy", "rename", "update", "health_status"];

/** Runs until `signal` aborts. */
export async function watchContainerEvents(docker: Docker, options: WatchOptions): Promise<void> {
  const base = options.baseBackoffMs ?? 500;
  const max = options.maxBackoffMs ?? 30_000;
  let failures = 0;
  let attempt = 0;
  while (!options.signal.aborted) {
    let reason: string;
    try {
      const stream = (await docker.getEvents({
        filters: { type: ["container"], event: ACTIONS },
        abortSignal: options.signal,
      } as Docker.GetEventsOptions)) as NodeJS.ReadableStream;
      failures = 0;
      options.onConnected(attempt++);
      reason = await consume(stream, options);
    } catch (err) {
      reason = (err as Error).message ?? String(err);
    }
    if (options.signal.aborted) return;
    failures++;
    const retry = Math.min(max, base * 2 ** (failures - 1));
    options.onDisconnected(reason, retry);
    await sleep(retry, options.signal);
  }
}

function consume(stream: NodeJS.ReadableStream, options: WatchOptions): Promise<string> {
  return new Promise((resolve) => {
    let buffer = "";
    const onAbort = () => {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      resolve("stopped");
    };
    options.signal.addEventListener("abort", onAbort, { once: true });
    stream.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf("\n");
        if (line === "") continue;
        try {
          const e = JSON.parse(line) as {
            Action?: string;
            Actor?: { ID?: string; Attributes?: Record<string, string> };
          };
          options.onEvent({
            // health_status arrives as "health_status: healthy".
            action: (e.Action ?? "").split(":")[0] as string,
            id: e.Actor?.ID ?? "",
            labels: e.Actor?.Attributes ?? {},
          });
        } catch {
          // A torn line cannot happen with "\n" framing; ignore rather than kill the watch.
        }
      }
    });
    const done = (why: string) => () => {
      options.signal.removeEventListener("abort", onAbort);
      resolve(why);
    };
    stream.on("end", done("the event stream ended"));
    stream.on("close", done("the event stream closed"));
    stream.on("error", (err: Error) => done(`the event stream failed: ${err.message}`)());
  });
}
