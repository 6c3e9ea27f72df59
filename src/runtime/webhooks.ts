// Notifications to webhooks (issue 12): Applied, Infeasible, RolloutStuck and DatabaseUnreachable, told by the
// shared reconcile pass of either daemon, posted as generic JSON or as a Slack- or Teams-compatible message.
//
// Once per change: a condition is told when it starts (per database; RolloutStuck per workload) and not again while
// it lasts, however often passes raise it or its wording moves (an age in seconds); once it is over, a new start is
// told again. Every apply is a change of its own. Delivery is at least once: a failed post (a network error, 408,
// 429, 5xx) is retried with backoff, and each notification carries an `id` a receiver can deduplicate retries by.
// Posts to one webhook go one at a time, in order, without holding up the pass.
//
// A webhook URL is a secret (Slack and Teams put the token in it): it is never logged, and neither is the error
// text of a failed post (it may quote the URL); logs name the webhook and the HTTP status or the error's code.
import { createHash } from "node:crypto";
import type { Logger } from "./logger.js";

export const NOTIFICATION_KINDS = ["Applied", "Infeasible", "RolloutStuck", "DatabaseUnreachable"] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export const WEBHOOK_FORMATS = ["generic", "slack", "teams"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

export interface WebhookConfig {
  /** For logs and metrics (never the URL). */
  readonly name: string;
  /** Resolved URL. Never log it. */
  readonly url: string;
  readonly format: WebhookFormat;
  /** Only these kinds; absent: all. */
  readonly events?: readonly NotificationKind[];
}

export interface Notification {
  /** Stable per change: the same for every retry of one notification. */
  readonly id: string;
  readonly kind: NotificationKind;
  readonly severity: "info" | "warning";
  readonly database: string;
  readonly workload?: string;
  /** One line for people, the same words as the event or log line. */
  readonly text: string;
  /** When it was told (ms since the epoch). */
  readonly at: number;
}

/** A condition of a database as one pass saw it. */
export interface ConditionNow {
  readonly kind: Exclude<NotificationKind, "Applied">;
  /** RolloutStuck: the stuck workload; database-wide conditions have none. */
  readonly workload?: string;
  readonly text: string;
}

export interface NotifierOptions {
  readonly webhooks: readonly WebhookConfig[];
  readonly log: Logger;
  readonly now: () => number;
  /** Tries per notification (default 5) and the first wait between them (default 1 s, doubling, at most 60 s). */
  readonly attempts?: number;
  readonly retryBaseMs?: number;
  /** Each post gives up after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Notifications waiting per webhook beyond which the oldest are dropped, with a warning (default 100). */
  readonly maxQueued?: number;
  /** Counts deliveries by webhook name and result (delivered, failed, dropped). */
  readonly onResult?: (webhook: string, kind: NotificationKind, result: "delivered" | "failed" | "dropped") => void;
}

interface Sink {
  readonly config: WebhookConfig;
  queue: Notification[];
  running?: Promise<void>;
}

export class WebhookNotifier {
  /** Per database: the conditions told and not over yet. */
  private readonly active = new Map<string, Set<string>>();
  private readonly sinks: Sink[];
  private readonly stopped = new AbortController();

  constructor(private readonly o: NotifierOptions) {
    this.sinks = o.webhooks.map((config) => ({ config, queue: [] }));
  }

  /** An apply happened (a rollout started, containers recreated): told once. */
  applied(database: string, workload: string, text: string): void {
    this.send({ kind: "Applied", severity: "info", database, workload, text }, `${workload}:${text}@${this.o.now()}`);
  }

  /** The conditions of `database` in its latest pass: those new are told, those gone are over. */
  conditions(database: string, now: readonly ConditionNow[]): void {
    const before = this.active.get(database) ?? new Set<string>();
    const after = new Set<string>();
    for (const c of now) {
      const key = `${c.kind}/${c.workload ?? ""}`;
      if (after.has(key)) continue;
      after.add(key);
      if (!before.has(key)) {
        const at = this.o.now();
        this.send(
          {
            kind: c.kind,
            severity: "warning",
            database,
            ...(c.workload ? { workload: c.workload } : {}),
            text: c.text,
          },
          `${key}@${at}`,
        );
      }
    }
    if (after.size > 0) this.active.set(database, after);
    else this.active.delete(database);
  }

  /** Resolves when everything queued has been delivered or given up on (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.sinks.some((s) => s.running)) await Promise.all(this.sinks.map((s) => s.running));
  }

  /** Stops retrying (shutdown): what is queued is dropped after the post in flight. */
  stop(): void {
    this.stopped.abort();
  }

  private send(n: Omit<Notification, "id" | "at">, change: string): void {
    const id = createHash("sha256").update(`${n.kind}\n${n.database}\n${change}`).digest("hex").slice(0, 16);
    const full: Notification = { ...n, id, at: this.o.now() };
    for (const sink of this.sinks) {
      if (sink.config.events && !sink.config.events.includes(n.kind)) continue;
      sink.queue.push(full);
      const max = this.o.maxQueued ?? 100;
      while (sink.queue.length > max) {
        const dropped = sink.queue.shift() as Notification;
        this.o.onResult?.(sink.config.name, dropped.kind, "dropped");
        this.o.log.warn(
          { webhook: sink.config.name, kind: dropped.kind },
          `webhook ${sink.config.name}: queue full, dropped a ${dropped.kind} notification`,
        );
      }
      sink.running ??= this.drain(sink).finally(() => {
        sink.running = undefined;
      });
    }
  }

  private async drain(sink: Sink): Promise<void> {
    for (let n = sink.queue.shift(); n; n = sink.queue.shift()) {
      if (this.stopped.signal.aborted) return;
      await this.deliver(sink.config, n);
    }
  }

  private async deliver(w: WebhookConfig, n: Notification): Promise<void> {
    const attempts = Math.max(1, this.o.attempts ?? 5);
    const body = JSON.stringify(payload(w.format, n));
    for (let i = 1; i <= attempts; i++) {
      let why: string;
      let retry = true;
      try {
        const res = await fetch(w.url, {
          method: "POST",
          headers: { "content-type": "application/json", "x-pooltuner-notification": n.id },
          body,
          redirect: "error",
          signal: AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs ?? 10_000), this.stopped.signal]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.o.onResult?.(w.name, n.kind, "delivered");
          this.o.log.debug({ webhook: w.name, kind: n.kind, id: n.id }, `webhook ${w.name}: delivered ${n.kind}`);
          return;
        }
        why = `HTTP ${res.status}`;
        retry = res.status === 408 || res.status === 429 || res.status >= 500;
      } catch (err) {
        why = errorCode(err);
      }
      if (!retry || i === attempts || this.stopped.signal.aborted) {
        this.o.onResult?.(w.name, n.kind, "failed");
        this.o.log.warn(
          { webhook: w.name, kind: n.kind, id: n.id, attempts: i },
          `webhook ${w.name}: could not deliver ${n.kind} (${why}) after ${i} ${i === 1 ? "try" : "tries"}; giving up`,
        );
        return;
      }
      const waitMs = Math.min(60_000, (this.o.retryBaseMs ?? 1_000) * 2 ** (i - 1));
      this.o.log.info(
        { webhook: w.name, kind: n.kind, id: n.id, retryInMs: waitMs },
        `webhook ${w.name}: ${n.kind} not delivered (${why}); retrying in ${waitMs} ms`,
      );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        this.stopped.signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** The error's code (ECONNREFUSED, a timeout), never its message: that may quote the URL. */
function errorCode(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (e?.name === "TimeoutError" || e?.cause?.name === "TimeoutError") return "timed out";
  return e?.cause?.code ?? e?.code ?? e?.name ?? "error";
}

const TITLE: Record<NotificationKind, string> = {
  Applied: "pooltuner applied new pool settings",
  Infeasible: "pooltuner: no plan fits",
  // Not only pooltuner's own rollouts (those freeze their database; the text says which): a person's too.
  RolloutStuck: "pooltuner: a rollout is stuck",
  DatabaseUnreachable: "pooltuner: a database cannot be probed",
};

/** The body for a webhook of `format`. */
export function payload(format: WebhookFormat, n: Notification): unknown {
  const where = n.workload ? `${n.database} / ${n.workload}` : n.database;
  switch (format) {
    case "generic":
      return {
        id: n.id,
        kind: n.kind,
        severity: n.severity,
        database: n.database,
        ...(n.workload ? { workload: n.workload } : {}),
        text: n.text,
        at: new Date(n.at).toISOString(),
      };
    case "slack":
      // Incoming webhooks take `text` (mrkdwn); the blocks say the same with a title.
      return {
        text: `${TITLE[n.kind]} (${where}): ${n.text}`,
        blocks: [
          { type: "header", text: { type: "plain_text", text: TITLE[n.kind] } },
          { type: "section", text: { type: "mrkdwn", text: `*${where}*\n${n.text}` } },
        ],
      };
    case "teams":
      // A Teams Workflows webhook ("When a Teams webhook request is received") takes a message with an Adaptive Card.
      return {
        type: "message",
        attachments: [
          {
            contentType: "application/vnd.microsoft.card.adaptive",
            contentUrl: null,
            content: {
              $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
              type: "AdaptiveCard",
              version: "1.4",
              body: [
                {
                  type: "TextBlock",
                  size: "Medium",
                  weight: "Bolder",
                  text: TITLE[n.kind],
                  color: n.severity === "warning" ? "Warning" : "Good",
                },
                { type: "TextBlock", text: where, isSubtle: true, wrap: true },
                { type: "TextBlock", text: n.text, wrap: true },
              ],
            },
          },
        ],
      };
  }
}
