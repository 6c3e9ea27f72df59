// Webhook notifications against a local HTTP receiver started here: once per change, retried on failure, given up
// on a refusal, Slack- and Teams-shaped bodies, and the URL (a secret) never in a log line.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/runtime/logger.js";
import { type WebhookConfig, WebhookNotifier } from "../../src/runtime/webhooks.js";

interface Received {
  readonly path: string;
  readonly id: string | undefined;
  readonly body: Record<string, unknown>;
}

/** Answers each post with the next status of `statuses` (then 200), and records what it got. */
async function receiver(statuses: number[] = []) {
  const got: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let text = "";
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => {
      got.push({
        path: req.url ?? "",
        id: req.headers["x-pooltuner-notification"] as string | undefined,
        body: JSON.parse(text),
      });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { got, port, close: () => new Promise((r) => server.close(r)) };
}

const SECRET = "T000/B000/xoxb-very-secret-token";
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function notifier(webhooks: WebhookConfig[]) {
  const lines: string[] = [];
  const n = new WebhookNotifier({
    webhooks,
    log: createLogger({ level: "debug", destination: { write: (l: string) => lines.push(l) } }),
    now: Date.now,
    retryBaseMs: 10,
    attempts: 3,
  });
  return { n, lines };
}

describe("webhook notifications", () => {
  it("a condition is told once when it starts, not while it lasts, and again after it was over", async () => {
    const r = await receiver();
    closers.push(r.close);
    const { n } = notifier([{ name: "ops", url: `http://127.0.0.1:${r.port}/hook`, format: "generic" }]);
    const down = {
      kind: "DatabaseUnreachable" as const,
      text: "database main cannot be probed (the last answer is 31 s old)",
    };
    n.conditions("main", [down]);
    n.conditions("main", [{ ...down, text: "database main cannot be probed (the last answer is 32 s old)" }]);
    n.conditions("main", [down, down]);
    await n.flush();
    expect(r.got.map((g) => g.body.kind)).toEqual(["DatabaseUnreachable"]);
    n.conditions("main", []);
    n.conditions("main", [down]);
    n.applied("main", "kube:shop/Deployment/web", "applied kube:shop/Deployment/web: decrease 2+3 -> 1+1");
    await n.flush();
    expect(r.got.map((g) => g.body.kind)).toEqual(["DatabaseUnreachable", "DatabaseUnreachable", "Applied"]);
    expect(r.got[2]?.body).toMatchObject({
      kind: "Applied",
      severity: "info",
      database: "main",
      workload: "kube:shop/Deployment/web",
      text: "applied kube:shop/Deployment/web: decrease 2+3 -> 1+1",
    });
    expect(new Set(r.got.map((g) => g.id)).size).toBe(3);
    expect(r.got.every((g) => g.id === g.body.id)).toBe(true);
  });

  it("retries a failed post with the same id; gives up on a refusal; never logs the URL", async () => {
    const r = await receiver([503, 500]);
    closers.push(r.close);
    const url = `http://127.0.0.1:${r.port}/services/${SECRET}`;
    const { n, lines } = notifier([{ name: "slack", url, format: "slack" }]);
    n.conditions("main", [{ kind: "Infeasible", text: "needs 34 connections, 18 available" }]);
    await n.flush();
    // Two failures, then delivered: three posts of one notification.
    expect(r.got).toHaveLength(3);
    expect(new Set(r.got.map((g) => g.id)).size).toBe(1);
    expect(r.got[0]?.path).toBe(`/services/${SECRET}`);
    expect(r.got[2]?.body.text).toBe("pooltuner: no plan fits (main): needs 34 connections, 18 available");

    const refusing = await receiver([404, 404, 404]);
    closers.push(refusing.close);
    const gone = notifier([{ name: "gone", url: `http://127.0.0.1:${refusing.port}/${SECRET}`, format: "generic" }]);
    gone.n.applied("main", "compose:shop/web", "applied");
    await gone.n.flush();
    expect(refusing.got).toHaveLength(1);
    expect(gone.lines.join("\n")).toContain(
      "webhook gone: could not deliver Applied (HTTP 404) after 1 try; giving up",
    );

    // Nothing listens here: a connection error, retried, then given up; the log names the code only.
    const was = await receiver();
    await was.close();
    const closed = notifier([{ name: "down", url: `http://127.0.0.1:${was.port}/${SECRET}`, format: "teams" }]);
    closed.n.applied("main", "compose:shop/web", "applied");
    await closed.n.flush();
    expect(closed.lines.join("\n")).toContain("webhook down: could not deliver Applied (ECONNREFUSED) after 3 tries");

    for (const l of [...lines, ...gone.lines, ...closed.lines]) {
      expect(l).not.toContain(SECRET);
      expect(l).not.toContain("/services/");
    }
  });

  it("Teams gets an Adaptive Card message; a webhook with events gets only those", async () => {
    const r = await receiver();
    closers.push(r.close);
    const { n } = notifier([
      { name: "teams", url: `http://127.0.0.1:${r.port}/teams`, format: "teams", events: ["RolloutStuck"] },
    ]);
    n.applied("main", "kube:shop/Deployment/web", "applied");
    n.conditions("main", [{ kind: "RolloutStuck", workload: "kube:shop/Deployment/web", text: "stuck" }]);
    await n.flush();
    expect(r.got).toHaveLength(1);
    expect(r.got[0]?.body).toMatchObject({
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          content: {
            type: "AdaptiveCard",
            body: [
              { text: "pooltuner: a rollout is stuck" },
              { text: "main / kube:shop/Deployment/web" },
              { text: "stuck" },
            ],
          },
        },
      ],
    });
  });
});
