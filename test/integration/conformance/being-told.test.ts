// Issue 12, "being told", against both daemons on real parts (kwok control plane + the controller, the test bed's
// dockerd + the compose daemon, a private MariaDB): /metrics scraped over HTTP from the daemon's own server, with the
// series the chart's alerts and dashboard use checked against numbers worked out by hand (DESIGN §3), and webhooks
// (generic, Slack, Teams) told each change once, through the real daemon, to a local HTTP receiver.
//
// The numbers. max_connections 20; reserve max(2, ⌈5 % × 20⌉) = 2; other clients: the one root connection this
// file holds (the monitor's own probe connection is not another client's), so the budget is 20 − 2 − 1 = 17.
// The app is stop-first (Recreate / compose), so no surge: pods_peak = replicas. Every row of the seed table gives
// 1 + 2 = 3 per process.
//  - feasible: 2 replicas × 4 workers = 8 processes at 2+3 = 40 at peak. 8 × 3 = 24 > 17, so the cap shrinks to
//    ⌊17 / 8⌋ = 2 (16 ≤ 17), split 1 + 1: recommended and allocated 16; after the decrease the current peak is 16.
//  - infeasible: 5 replicas × 4 workers = 20 processes; even 1 per process is 20 > 17: infeasible, 3 missing.
//    With max_connections 23 (reserve still 2) the budget is 20 and 20 × 1 fits: feasible, nothing to change at 1+0.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "../../../src/core/index.js";
import type { PassReport } from "../../../src/runtime/pass-types.js";
import type { WebhookConfig } from "../../../src/runtime/webhooks.js";
import { eventually } from "../../support/cluster.js";
import { type MariaDb, startMariaDb } from "../../support/mariadb.js";
import {
  type Cluster,
  cluster,
  createNamespace,
  deploymentOf,
  getDeployment,
  mergePatch,
  poolOf,
  rolledOut,
  runController,
  seedApp,
} from "../controller/harness.js";
import { ComposeWorld, KubeWorld, type RunningDaemon, type World } from "./worlds.js";

const REPO = join(import.meta.dirname, "../../..");
const BUDGET = 20 - 2 - 1;

let db: MariaDb;
const monitorPassword = randomBytes(8).toString("hex");
const monitorUrl = () => `mysql://monitor:${monitorPassword}@${db.host}:${db.port}/`;

beforeAll(async () => {
  db = await startMariaDb({ label: "told", maxConnections: 20 });
  await db.query(`CREATE USER 'monitor'@'%' IDENTIFIED BY '${monitorPassword}'`);
  await db.query("GRANT PROCESS ON *.* TO 'monitor'@'%'");
  // The one other client of every test below: this root connection, opened above and kept.
  const others = await db.query<{ n: number }[]>(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'root' AND COMMAND <> 'Daemon'",
  );
  expect(Number(others[0]?.n)).toBe(1);
});
afterAll(async () => {
  await db?.stop();
});

// ---- /metrics, parsed as Prometheus parses the text format (one sample a line: name{labels} value) ----

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}
interface Scrape {
  readonly samples: Sample[];
  /** Metric families by `# TYPE` line: name → type. */
  readonly types: Map<string, string>;
}

function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** GET /metrics from the daemon's own HTTP server. */
/** What these tests read of a running daemon (the stuck-rollout test builds one from the controller directly). */
type Watched = Pick<RunningDaemon, "reports" | "sees" | "metrics" | "url" | "stop">;

async function scrape(d: Watched): Promise<Scrape> {
  if (!d.url) throw new Error("the daemon serves no HTTP (start it with serve: true)");
  const res = await fetch(`${d.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** The one sample of `name` whose labels include `labels`; undefined when there is none. */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples, expected one`);
  return found[0]?.value;
}

/** Every pooltuner_* name in a text (the rules' expressions and descriptions, the dashboard's queries). */
function metricNames(text: string): string[] {
  return [...new Set(text.match(/\bpooltuner_[a-z0-9_]*[a-z0-9]\b/g) ?? [])].sort();
}

/** Names referenced that the scrape has no family of (a histogram's _bucket, _sum, _count are its family's). */
function missing(names: readonly string[], s: Scrape): string[] {
  return names.filter((n) => {
    if (s.types.has(n)) return false;
    const family = /^(.*)_(bucket|sum|count)$/.exec(n)?.[1];
    return !(family && s.types.get(family) === "histogram");
  });
}

let ruleNames: string[];
let dashboardNames: string[];
beforeAll(async () => {
  ruleNames = metricNames(await readFile(join(REPO, "charts/pooltuner/files/prometheus-rules.yaml"), "utf8"));
  dashboardNames = metricNames(await readFile(join(REPO, "charts/pooltuner/files/dashboard.json"), "utf8"));
  // Written out here, so a rules file or dashboard that lost its references cannot pass by referencing nothing.
  expect(ruleNames).toEqual(
    expect.arrayContaining([
      "pooltuner_database_budget_connections",
      "pooltuner_database_frozen",
      "pooltuner_database_infeasible",
      "pooltuner_database_reachable",
      "pooltuner_leader",
      "pooltuner_workload_current_peak_connections",
      "pooltuner_workload_paused",
      "pooltuner_workload_recommended_peak_connections",
    ]),
  );
  expect(dashboardNames).toEqual(
    expect.arrayContaining([
      "pooltuner_build_info",
      "pooltuner_database_allocated_connections",
      "pooltuner_database_max_connections",
      "pooltuner_database_observed_connections",
      "pooltuner_database_unmanaged_connections",
      "pooltuner_reconcile_duration_seconds_bucket",
      "pooltuner_restarts_total",
      "pooltuner_workload_recommended_max_overflow",
      "pooltuner_workload_recommended_pool_size",
    ]),
  );
});

// ---- a local webhook receiver ----

interface Post {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  readonly body: Record<string, unknown>;
}

async function receiver() {
  const got: Post[] = [];
  const server = createHttpServer((req, res) => {
    let raw = "";
    req.on("data", (c) => {
      raw += c;
    });
    req.on("end", () => {
      got.push({ path: req.url ?? "", headers: req.headers, raw, body: JSON.parse(raw) as Record<string, unknown> });
      res.statusCode = 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const token = randomBytes(8).toString("hex");
  const hook = (name: string, format: WebhookConfig["format"]): WebhookConfig => ({
    name,
    url: `http://127.0.0.1:${port}/${name}/${token}`,
    format,
  });
  /** The posts to `name`, one per notification id (a post carries its id in a header). */
  const to = (name: string) => got.filter((p) => p.path === `/${name}/${token}`);
  return { got, hook, to, close: () => new Promise((r) => server.close(r)) };
}

/** The first pass from `from` on that satisfies `ok`. */
async function pass(d: Watched, what: string, ok: (r: PassReport) => boolean, from = 0, timeoutMs = 60_000) {
  return eventually(what, async () => d.reports().slice(from).find(ok), { timeoutMs, intervalMs: 100 });
}
/** `n` more passes of the database from now on, each satisfying `ok`. */
async function passes(d: Watched, what: string, n: number, ok: (r: PassReport) => boolean) {
  const from = d.reports().length;
  await eventually(what, async () => (d.reports().slice(from).filter(ok).length >= n ? true : undefined), {
    intervalMs: 100,
  });
}
const infeasible = (r: PassReport) => r.outcome === "planned" && r.plan?.databases[0]?.feasible === false;
const feasible = (r: PassReport) => r.outcome === "planned" && r.plan?.databases[0]?.feasible === true;

/** No secret of the database's URL in what was posted. */
function expectNoSecrets(posts: readonly Post[]) {
  for (const p of posts) {
    expect(p.raw).not.toContain(monitorPassword);
    expect(p.raw).not.toMatch(/mysql:\/\//);
    expect(p.raw).not.toContain(`:${db.port}`);
  }
}

describe.each([new KubeWorld(), new ComposeWorld()] as World[])("$name daemon", (world) => {
  const daemons: RunningDaemon[] = [];
  const start = async (scope: string, o: Parameters<World["daemon"]>[1]) => {
    const d = await world.daemon(scope, { serve: true, ...o });
    daemons.push(d);
    return d;
  };
  const kind = world.name === "kube" ? "Deployment" : "ComposeService";
  beforeAll(() => world.setup(), 300_000);
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop().catch(() => {});
    await db.query("SET GLOBAL max_connections = 20");
  });
  afterAll(async () => {
    for (const d of daemons) await d.stop().catch(() => {});
    await world.teardown();
  });

  it("/metrics over HTTP: the series of the alerts and the dashboard, with the numbers worked out by hand; Applied told to Slack and Teams once", async () => {
    const hooks = await receiver();
    try {
      const scope = await world.app("metrics", { replicas: 2, pool: "2+3" });
      const wl = { namespace: scope, kind, name: "app", database: "db" };
      const d = await start(scope, {
        url: monitorUrl(),
        webhooks: [hooks.hook("slack", "slack"), hooks.hook("teams", "teams")],
      });
      await eventually("the decrease to 1+1", async () => ((await world.pool(scope)) === "1+1" ? true : undefined));
      await world.settle(scope);
      // Two passes after the apply (the second plans with the restarted workload's new values).
      const applied = d.reports().findIndex((r) => r.applied.length > 0);
      expect(applied).toBeGreaterThanOrEqual(0);
      await pass(d, "a settled pass after the apply", (r) => r.plan?.workloads[0]?.change === "none", applied + 1);
      await passes(d, "two more planned passes", 2, (r) => r.outcome === "planned");

      const s = await scrape(d);
      // Per database.
      expect(value(s, "pooltuner_database_max_connections", { database: "db" })).toBe(20);
      expect(value(s, "pooltuner_database_budget_connections", { database: "db" })).toBe(BUDGET);
      expect(value(s, "pooltuner_database_unmanaged_connections", { database: "db" })).toBe(1);
      expect(value(s, "pooltuner_database_allocated_connections", { database: "db" })).toBe(16);
      expect(value(s, "pooltuner_database_infeasible", { database: "db" })).toBe(0);
      expect(value(s, "pooltuner_database_reachable", { database: "db" })).toBe(1);
      expect(value(s, "pooltuner_database_frozen", { database: "db" }) ?? 0).toBe(0);
      // Threads_connected: this file's root connection and the daemon's kept probe connection.
      expect(value(s, "pooltuner_database_observed_connections", { database: "db" })).toBe(2);
      // Per workload: 8 processes × 2 at peak, split 1 + 1; running it now. (PooltunerCanExceed's expression on
      // these numbers: 16 > 17 is false; before the decrease it was 40 > 17.)
      expect(value(s, "pooltuner_workload_current_peak_connections", wl)).toBe(16);
      expect(value(s, "pooltuner_workload_recommended_peak_connections", wl)).toBe(16);
      expect(value(s, "pooltuner_workload_recommended_pool_size", wl)).toBe(1);
      expect(value(s, "pooltuner_workload_recommended_max_overflow", wl)).toBe(1);
      expect(value(s, "pooltuner_workload_paused", wl) ?? 0).toBe(0);
      // One restart (the decrease), one write of it.
      expect(value(s, "pooltuner_restarts_total", { ...wl, reason: "decrease" })).toBe(1);
      expect(value(s, "pooltuner_patches_total", { ...wl, change: "decrease", result: "ok" })).toBe(1);
      expect(value(s, "pooltuner_restarts_in_progress")).toBe(0);
      expect(value(s, "pooltuner_build_info", { daemon: world.name === "kube" ? "controller" : "compose" })).toBe(1);
      if (world.name === "kube") expect(value(s, "pooltuner_leader")).toBe(1);
      else expect(s.types.has("pooltuner_leader")).toBe(false); // the chart's rules are the controller's

      // Every name the chart's rules and dashboard reference is exported (compose: all but the lease's).
      expect(missing([...ruleNames, ...dashboardNames], s)).toEqual(world.name === "kube" ? [] : ["pooltuner_leader"]);
      // ... and a family renamed in the daemon would be caught: the same check on a scrape with one renamed.
      const renamed = parseExposition(
        (await d.metrics()).replaceAll("pooltuner_database_budget_connections", "pooltuner_database_budget"),
      );
      expect(missing(ruleNames, renamed)).toContain("pooltuner_database_budget_connections");

      // Slack and Teams: the apply told once to each, in its own shape; nothing else happened to tell.
      await eventually("Applied at both webhooks", async () =>
        hooks.to("slack").length >= 1 && hooks.to("teams").length >= 1 ? true : undefined,
      );
      await passes(d, "three more passes", 3, (r) => r.outcome === "planned");
      for (const name of ["slack", "teams"]) {
        const posts = hooks.to(name);
        expect(posts, name).toHaveLength(1);
        expect(posts[0]?.headers["content-type"]).toBe("application/json");
        expect(posts[0]?.headers["x-pooltuner-notification"]).toMatch(/^[0-9a-f]{16}$/);
      }
      expect(hooks.to("slack")[0]?.headers["x-pooltuner-notification"]).toBe(
        hooks.to("teams")[0]?.headers["x-pooltuner-notification"],
      );
      const workloadId = world.name === "kube" ? `kube:${scope}/Deployment/app` : `compose:${scope}/app`;
      expectSlack(hooks.to("slack")[0]?.body, "db", workloadId);
      expectTeams(hooks.to("teams")[0]?.body, "db", workloadId, "Good");
      expectNoSecrets(hooks.got);
    } finally {
      await hooks.close();
    }
  });

  it("infeasible: pooltuner_database_infeasible 1 and Infeasible told once per change (generic, Slack), 0 while it fits", async () => {
    const hooks = await receiver();
    try {
      const scope = await world.app("infeasible", { replicas: 5, pool: "1+0" });
      const wl = { namespace: scope, kind, name: "app", database: "db" };
      const d = await start(scope, {
        url: monitorUrl(),
        webhooks: [hooks.hook("ops", "generic"), hooks.hook("slack", "slack")],
      });
      await passes(d, "three infeasible passes", 3, infeasible);
      await eventually("Infeasible at both webhooks", async () =>
        hooks.to("ops").length >= 1 && hooks.to("slack").length >= 1 ? true : undefined,
      );
      let s = await scrape(d);
      expect(value(s, "pooltuner_database_infeasible", { database: "db" })).toBe(1);
      expect(value(s, "pooltuner_database_budget_connections", { database: "db" })).toBe(BUDGET);
      expect(value(s, "pooltuner_workload_current_peak_connections", wl)).toBe(20);
      // Nothing fits, so nothing is recommended or allocated.
      expect(value(s, "pooltuner_database_allocated_connections", { database: "db" })).toBe(0);
      expect(value(s, "pooltuner_workload_recommended_peak_connections", wl)).toBeUndefined();
      expect(d.reports().flatMap((r) => r.applied)).toEqual([]);

      const first = hooks.to("ops");
      expect(first).toHaveLength(1);
      expect(first[0]?.body).toMatchObject({ kind: "Infeasible", severity: "warning", database: "db" });
      expect(first[0]?.body).not.toHaveProperty("workload"); // a database's condition
      // The numbers of the scenario: 20 processes at 1 each, budget 17, 3 missing.
      expect(String(first[0]?.body.text)).toContain("needs 20 connections at 1 per process, allows 17");
      expect(String(first[0]?.body.text)).toContain("3 missing");
      expect(Date.parse(String(first[0]?.body.at))).not.toBeNaN();
      expect(first[0]?.body.id).toBe(first[0]?.headers["x-pooltuner-notification"]);
      expectSlack(hooks.to("slack")[0]?.body, "db");

      // max_connections 23: budget 20, 20 processes at 1 fit. The condition is over; back at 20 it is a new change,
      // told once more.
      await db.query("SET GLOBAL max_connections = 23");
      await pass(d, "a feasible pass", feasible, d.reports().length);
      s = await scrape(d);
      expect(value(s, "pooltuner_database_infeasible", { database: "db" })).toBe(0);
      expect(value(s, "pooltuner_database_budget_connections", { database: "db" })).toBe(23 - 2 - 1);
      expect(value(s, "pooltuner_workload_recommended_peak_connections", wl)).toBe(20);
      await db.query("SET GLOBAL max_connections = 20");
      await pass(d, "infeasible again", infeasible, d.reports().length);
      await passes(d, "three more infeasible passes", 3, infeasible);
      await eventually("the second Infeasible", async () => (hooks.to("ops").length >= 2 ? true : undefined));
      const kinds = hooks.to("ops").map((p) => p.body.kind);
      expect(kinds).toEqual(["Infeasible", "Infeasible"]);
      expect(hooks.to("ops")[0]?.body.id).not.toBe(hooks.to("ops")[1]?.body.id);
      expect(hooks.to("slack")).toHaveLength(2);
      s = await scrape(d);
      expect(value(s, "pooltuner_database_infeasible", { database: "db" })).toBe(1);
      // The feasible plan's recommendation (20) does not outlive it.
      expect(value(s, "pooltuner_workload_recommended_peak_connections", wl)).toBeUndefined();
      expect(value(s, "pooltuner_workload_recommended_pool_size", wl)).toBeUndefined();
      expectNoSecrets(hooks.got);
    } finally {
      await hooks.close();
    }
  });
});

/** A Slack incoming webhook's message: `text` (the fallback) and blocks within Slack's limits. */
function expectSlack(body: Record<string, unknown> | undefined, database: string, workload?: string) {
  const b = body as { text: string; blocks: { type: string; text: { type: string; text: string } }[] };
  expect(Object.keys(b).sort()).toEqual(["blocks", "text"]);
  expect(b.text).toContain(database);
  if (workload) expect(b.text).toContain(workload);
  expect(b.blocks.length).toBeLessThanOrEqual(50);
  expect(b.blocks[0]?.type).toBe("header");
  expect(b.blocks[0]?.text.type).toBe("plain_text"); // a header takes plain_text only
  expect(b.blocks[0]?.text.text.length).toBeLessThanOrEqual(150);
  expect(b.blocks[1]?.type).toBe("section");
  expect(b.blocks[1]?.text.type).toBe("mrkdwn");
  expect(b.blocks[1]?.text.text.length).toBeLessThanOrEqual(3000);
  expect(b.blocks[1]?.text.text).toContain(database);
}

/** A Teams Workflows webhook's message: one Adaptive Card attachment. */
function expectTeams(body: Record<string, unknown> | undefined, database: string, workload: string, color: string) {
  const b = body as {
    type: string;
    attachments: {
      contentType: string;
      content: { type: string; version: string; body: { type: string; text: string; color?: string }[] };
    }[];
  };
  expect(b.type).toBe("message");
  expect(b.attachments).toHaveLength(1);
  expect(b.attachments[0]?.contentType).toBe("application/vnd.microsoft.card.adaptive");
  const card = b.attachments[0]?.content;
  expect(card?.type).toBe("AdaptiveCard");
  expect(card?.version).toMatch(/^1\.[0-5]$/); // what Teams renders
  expect(card?.body.every((x) => x.type === "TextBlock" && typeof x.text === "string")).toBe(true);
  expect(card?.body[0]?.color).toBe(color);
  expect(card?.body.map((x) => x.text).join("\n")).toContain(`${database} / ${workload}`);
}

// A rollout pooltuner started that never completes: its new pod selects a node label that was taken away.
describe("kube daemon: RolloutStuck", () => {
  let c: Cluster;
  const LABEL = `pooltuner-test/told-${process.pid}`;
  let nodeName = "";
  const labelNode = (v: string | null) =>
    c.core.patchNode({ name: nodeName, body: { metadata: { labels: { [LABEL]: v } } } }, mergePatch);
  beforeAll(async () => {
    c = await cluster();
    const nodes = (await c.core.listNode()).items.filter((n) => !n.spec?.unschedulable);
    nodeName = nodes[0]?.metadata?.name ?? "";
  });
  afterAll(async () => {
    if (nodeName) await labelNode(null).catch(() => undefined);
  });

  it("a stuck rollout freezes the database: RolloutStuck told once (generic, Teams), frozen 1 on /metrics, 0 after", async () => {
    const hooks = await receiver();
    const ns = await createNamespace(c, "told-stuck");
    await labelNode("yes");
    // 1 replica + 1 surge pod × 4 workers = 8 processes at 2+3: 40 > 17, the decrease to 1+1 (16) goes.
    const dep = deploymentOf(seedApp("app", ns, "db", { replicas: 1 }));
    const pod = dep.spec?.template.spec;
    if (pod) pod.nodeSelector = { [LABEL]: "yes" };
    await c.apps.createNamespacedDeployment({ namespace: ns, body: dep });
    await rolledOut(c, ns, "app");
    await labelNode(null);
    const webhooks = [hooks.hook("ops", "generic"), hooks.hook("teams", "teams")];
    const ctl = await runController(c, {
      databases: [{ name: "db", url: monitorUrl() }],
      config: { databases: [{ name: "db", url: monitorUrl() }], policy: DEFAULT_POLICY, webhooks },
      webhookRetryMs: 200,
      namespaces: [ns],
      rolloutTimeoutMs: 3_000,
      unmanagedWindowMs: 0,
      resyncMs: 1_000,
      http: { port: 0, host: "127.0.0.1" },
    });
    const d: Watched = {
      reports: () => ctl.reconciler.reports,
      sees: async () => true,
      metrics: () => ctl.metrics.registry.metrics(),
      url: `http://127.0.0.1:${ctl.port}`,
      stop: () => ctl.stop(),
    };
    try {
      await eventually("the decrease patched", async () =>
        poolOf(await getDeployment(c, ns, "app")).poolSize === 1 ? true : undefined,
      );
      const workload = `kube:${ns}/Deployment/app`;
      await eventually("RolloutStuck told", async () =>
        hooks.to("ops").some((p) => p.body.kind === "RolloutStuck") ? true : undefined,
      );
      await passes(d, "three more passes while stuck", 3, (r) => r.outcome === "planned");
      expect(value(await scrape(d), "pooltuner_database_frozen", { database: "db" })).toBe(1);
      // Told once each: the apply, then the stuck rollout (the text's age in seconds moves; it is not told again).
      expect(hooks.to("ops").map((p) => p.body.kind)).toEqual(["Applied", "RolloutStuck"]);
      const stuck = hooks.to("ops")[1]?.body;
      expect(stuck).toMatchObject({ kind: "RolloutStuck", severity: "warning", database: "db", workload });
      expect(String(stuck?.text)).toContain("the rollout pooltuner started");
      expect(hooks.to("teams")).toHaveLength(2);
      expectTeams(hooks.to("teams")[1]?.body, "db", workload, "Warning");

      // The label is back: the pending pod starts, the rollout completes, the database is no longer frozen.
      await labelNode("yes");
      await rolledOut(c, ns, "app");
      await eventually("frozen 0 on /metrics", async () =>
        value(await scrape(d), "pooltuner_database_frozen", { database: "db" }) === 0 ? true : undefined,
      );
      await passes(d, "three more passes", 3, (r) => r.outcome === "planned");
      expect(hooks.to("ops").map((p) => p.body.kind)).toEqual(["Applied", "RolloutStuck"]);
      expectNoSecrets(hooks.got);
    } finally {
      await ctl.stop();
      await hooks.close();
    }
  });
});
