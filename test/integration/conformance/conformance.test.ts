// One table of situations, run against both daemons on real parts (kwok control plane + the controller, the test
// bed's dockerd + the compose daemon, a private MariaDB): same expectations, two actuators. Every "nothing changed"
// is shown by a pass that happened after the change and a version of the workload that did not move.
import { randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import mysql, { type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PassReport } from "../../../src/runtime/pass-types.js";
import { eventually } from "../../support/cluster.js";
import { type MariaDb, startMariaDb } from "../../support/mariadb.js";
import { ComposeWorld, KubeWorld, type RunningDaemon, type World } from "./worlds.js";

let db: MariaDb;
const monitorPassword = randomBytes(8).toString("hex");
const appPassword = randomBytes(8).toString("hex");

beforeAll(async () => {
  db = await startMariaDb({ label: "conformance", maxConnections: 20 });
  await db.query(`CREATE USER 'monitor'@'%' IDENTIFIED BY '${monitorPassword}'`);
  // PROCESS only: no CONNECTION ADMIN / SUPER, so a full server refuses the probe too (error 1040).
  await db.query("GRANT PROCESS ON *.* TO 'monitor'@'%'");
  await db.query(`CREATE USER 'app'@'%' IDENTIFIED BY '${appPassword}'`);
});
afterAll(async () => {
  await db?.stop();
});

/** A TCP hop in front of MariaDB: closing it makes the database unreachable for the daemon (ECONNREFUSED). */
async function proxy(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(db.port, db.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mysql://monitor:${monitorPassword}@127.0.0.1:${port}/`,
    close: async () => {
      const closed = new Promise((r) => server.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * The app's own pools fill every slot a non-SUPER account may take. The daemons keep their probe connection open (a
 * full server still answers it), so for the probe itself to get 1040 its connection is killed — as a server restart
 * or a network cut would — and its slot taken by the app, until no monitoring connection is left (a reconnect comes
 * at most every 250 ms, this every 50 ms).
 */
async function fillServer(): Promise<Connection[]> {
  const held: Connection[] = [];
  const grab = async (): Promise<boolean> => {
    try {
      held.push(await mysql.createConnection({ host: db.host, port: db.port, user: "app", password: appPassword }));
      return true;
    } catch (err) {
      if ((err as { errno?: number }).errno === 1040) return false;
      throw err;
    }
  };
  while (await grab()) if (held.length > 40) throw new Error("the server never got full");
  const monitorThreads = async () =>
    (await db.query<{ ID: number }[]>("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'monitor'")).map(
      (r) => Number(r.ID),
    );
  const until = Date.now() + 2_500;
  while (Date.now() < until || (await monitorThreads()).length > 0) {
    for (const id of await monitorThreads()) await db.query(`KILL ${id}`).catch(() => {});
    while (await grab());
    await new Promise((r) => setTimeout(r, 50));
  }
  return held;
}

async function probeErrno(): Promise<number | undefined> {
  try {
    const c = await mysql.createConnection({
      host: db.host,
      port: db.port,
      user: "monitor",
      password: monitorPassword,
    });
    await c.end();
    return undefined;
  } catch (err) {
    return (err as { errno?: number }).errno;
  }
}

/** A local webhook receiver: answers the first posts with `statuses` (then 200) and records every post. */
async function receiver(statuses: number[]) {
  const got: { id: string; kind: string; path: string }[] = [];
  const server = createHttpServer((req, res) => {
    let text = "";
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => {
      const body = JSON.parse(text) as { id: string; kind: string };
      got.push({ id: body.id, kind: body.kind, path: req.url ?? "" });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { got, port, close: () => new Promise((r) => server.close(r)) };
}

/** The first pass from `from` on that satisfies `ok`. */
async function pass(d: RunningDaemon, what: string, ok: (r: PassReport) => boolean, from = 0, timeoutMs = 60_000) {
  return eventually(what, async () => d.reports().slice(from).find(ok), { timeoutMs, intervalMs: 100 });
}
const settled = (r: PassReport) => r.outcome === "planned" && r.plan?.workloads[0]?.change === "none";
const deferred = (reason: string) => (r: PassReport) => r.deferred.some((x) => x.reason === reason);

describe.each([new KubeWorld(), new ComposeWorld()] as World[])("$name daemon", (world) => {
  const daemons: RunningDaemon[] = [];
  const start = async (scope: string | readonly string[], o: Parameters<World["daemon"]>[1]) => {
    const d = await world.daemon(scope, o);
    daemons.push(d);
    return d;
  };
  beforeAll(() => world.setup(), 300_000);
  // A daemon a failed test left running would probe on: its connection would count as another client's in the next.
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop().catch(() => {});
  });
  afterAll(async () => {
    for (const d of daemons) await d.stop().catch(() => {});
    await world.teardown();
  });
  beforeEach(async () => {
    await db.query("SET GLOBAL max_connections = 20");
  });

  // 2 replicas × 4 workers at 1+1 = 16 fit 20 − 2 reserve − 1 other (the test's root connection); 3 replicas need 24.
  it("server full (the probe itself gets 1040): plans from the last good probe and applies a decrease", async () => {
    const scope = await world.app("full", { replicas: 2, pool: "1+1" });
    const p = await proxy();
    const d = await start(scope, { url: p.url });
    await pass(d, "a first plan with nothing to change", settled);
    const held = await fillServer();
    try {
      expect(await probeErrno()).toBe(1040);
      const n = d.reports().length;
      await pass(d, "a pass on a full server", (r) => r.decreasesOnly === true, n);
      await world.scale(scope, 3);
      await eventually("the decrease to 1+0", async () => ((await world.pool(scope)) === "1+0" ? true : undefined));
      // The workload may show the new values before the pass that wrote them has ended (it still sends an event).
      const applied = await pass(d, "the pass that applied it", (r) => r.applied.length > 0);
      expect(applied?.decreasesOnly).toBe(true);
      expect(applied?.applied[0]?.change).toBe("decrease");
    } finally {
      for (const c of held) await c.end().catch(() => {});
      await d.stop();
      await p.close();
    }
  });

  it("unreachable: nothing changes, even when a decrease would be due", async () => {
    const scope = await world.app("down", { replicas: 2, pool: "1+1" });
    const p = await proxy();
    const d = await start(scope, { url: p.url });
    await pass(d, "a first plan", settled);
    await p.close();
    await pass(d, "an unreachable pass", (r) => r.outcome === "unreachable", d.reports().length);
    await world.scale(scope, 3);
    await world.settle(scope);
    await eventually("the daemon to see 3 replicas", async () => ((await d.sees(3)) ? true : undefined));
    const before = await world.version(scope);
    const n = d.reports().length;
    await eventually("three more unreachable passes", async () =>
      d
        .reports()
        .slice(n)
        .filter((r) => r.outcome === "unreachable").length >= 3
        ? true
        : undefined,
    );
    expect(await world.version(scope)).toBe(before);
    expect(await world.pool(scope)).toBe("1+1");
    expect(d.reports().flatMap((r) => r.applied)).toEqual([]);
    await d.stop();
  });

  it("scale-up: a decrease", async () => {
    const scope = await world.app("scale", { replicas: 2, pool: "1+1" });
    const d = await start(scope, { url: (await proxy()).url });
    await pass(d, "a first plan", settled);
    await world.scale(scope, 3);
    await eventually("the decrease to 1+0", async () => ((await world.pool(scope)) === "1+0" ? true : undefined));
    expect((await pass(d, "the pass that applied it", (r) => r.applied.length > 0)).plan?.workloads[0]?.replicas).toBe(
      3,
    );
    await d.stop();
  });

  it("SET GLOBAL max_connections lowered: a decrease", async () => {
    const scope = await world.app("limit", { replicas: 2, pool: "1+1" });
    const d = await start(scope, { url: (await proxy()).url });
    await pass(d, "a first plan", settled);
    await db.query("SET GLOBAL max_connections = 12");
    await eventually("the decrease to 1+0", async () => ((await world.pool(scope)) === "1+0" ? true : undefined));
    expect((await pass(d, "the pass that applied it", (r) => r.applied.length > 0)).plan?.databases[0]?.limit).toBe(12);
    await d.stop();
  });

  it("an increase waits for the minimum gain", async () => {
    const scope = await world.app("gain", { replicas: 2, pool: "1+0" });
    const before = await world.specVersion(scope);
    const d = await start(scope, { url: (await proxy()).url, damping: { cooldownMs: 0, minGain: 2 } });
    // 1+0 -> 1+1 raises the cap by 1 only.
    await pass(d, "the increase held for its gain", deferred("gain-too-small"));
    expect(await world.specVersion(scope)).toBe(before);
    expect(await world.pool(scope)).toBe("1+0");
    await d.stop();
  });

  it("an increase waits for the cooldown, then goes", async () => {
    const scope = await world.app("cool", { replicas: 2, pool: "1+0" });
    const before = await world.specVersion(scope);
    const startedAt = Date.now();
    const cooldownMs = 4_000;
    const d = await start(scope, { url: (await proxy()).url, damping: { cooldownMs, minGain: 1 } });
    const waiting = await pass(d, "the increase held for its cooldown", deferred("cooldown"));
    expect(await world.specVersion(scope)).toBe(before);
    expect(waiting.deferred.find((x) => x.reason === "cooldown")?.until).toBeGreaterThanOrEqual(startedAt + cooldownMs);
    await eventually("the increase to 1+1", async () => ((await world.pool(scope)) === "1+1" ? true : undefined));
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(cooldownMs);
    await d.stop();
  });

  it("a failed apply is rolled back (or refused whole) and backs off instead of looping", async () => {
    const scope = await world.app("fail", { replicas: 2, pool: "2+3", refusePoolSize: "1" });
    const before = await world.specVersion(scope);
    const d = await start(scope, { url: (await proxy()).url, failureBackoffMs: 60_000 });
    const failed = await pass(d, "the failed apply", (r) => r.failed.length > 0);
    expect(failed.failed[0]?.restored).toBe(true);
    await pass(d, "a pass holding the change back", deferred("failed-recently"), d.reports().indexOf(failed) + 1);
    expect(await world.specVersion(scope)).toBe(before);
    expect(await world.pool(scope)).toBe("2+3");
    expect(d.reports().flatMap((r) => r.failed)).toHaveLength(1);
    await d.stop();
  });

  it("update mode off: a recommendation only", async () => {
    const scope = await world.app("off", { replicas: 2, pool: "2+3", updateMode: "off" });
    const before = await world.specVersion(scope);
    const d = await start(scope, { url: (await proxy()).url });
    const r = await pass(d, "the recommendation", deferred("update-mode-off"));
    expect(r.plan?.workloads[0]?.recommended).toMatchObject({ poolSize: 1, maxOverflow: 1 });
    expect(await world.specVersion(scope)).toBe(before);
    expect(await world.pool(scope)).toBe("2+3");
    await d.stop();
  });

  it("a restarted daemon writes nothing", async () => {
    const scope = await world.app("restart", { replicas: 2, pool: "2+3" });
    const p = await proxy();
    const first = await start(scope, { url: p.url });
    await eventually("the decrease to 1+1", async () => ((await world.pool(scope)) === "1+1" ? true : undefined));
    await world.settle(scope);
    await pass(first, "a settled pass", (r) => settled(r) && r.writes === 0, first.reports().length);
    await first.stop();
    const before = await world.version(scope);
    const second = await start(scope, { url: p.url });
    await eventually("three passes of the new daemon", async () =>
      second.reports().filter((r) => r.outcome === "planned").length >= 3 ? true : undefined,
    );
    expect(second.reports().map((r) => r.writes + r.applied.length)).toEqual(second.reports().map(() => 0));
    expect(await world.version(scope)).toBe(before);
    await second.stop();
  });

  // Two databases on the same server (budget 20 − 2 − 1 = 17 each): "one" runs 2 × 4 × (2+3) = 40, 23 over; "two"
  // runs 2 × 4 × (5+5) = 80, 63 over. Both need a decrease at once; one restart at a time across the daemon.
  it("cap 1: two databases needing decreases at once go one at a time, the more over-budget first", async () => {
    const one = await world.app("capone", { replicas: 2, pool: "2+3", database: "one" });
    const two = await world.app("captwo", { replicas: 2, pool: "5+5", database: "two" });
    const d = await start([one, two], {
      url: (await proxy()).url,
      databases: ["one", "two"],
      restartLimits: { maxConcurrent: 1, maxPerHour: 0 },
    });
    await eventually("both decreased to 1+1", async () =>
      (await world.pool(one)) === "1+1" && (await world.pool(two)) === "1+1" ? true : undefined,
    );
    const reports = d.reports();
    const appliedAt = (db: string) => reports.findIndex((r) => r.database === db && r.applied.length > 0);
    // The more over-budget database first; the other waited for the cap meanwhile.
    expect(appliedAt("two")).toBeGreaterThanOrEqual(0);
    expect(appliedAt("one")).toBeGreaterThan(appliedAt("two"));
    const waited = reports
      .slice(0, appliedAt("one"))
      .some((r) => r.database === "one" && r.deferred.some((x) => x.reason === "restart-cap"));
    expect(waited).toBe(true);
    expect(reports.flatMap((r) => r.applied)).toHaveLength(2);
    await d.stop();
  });

  // 2 × 4 at 1+0 = 8; 1+1 (16) fits 17: an increase, held by a Saturday 02:00 window until the injected wall clock
  // (started 8 s before it) reaches it.
  it("a change window holds an increase until it opens (wall clock injected)", async () => {
    const scope = await world.app("window", { replicas: 2, pool: "1+0" });
    const before = await world.specVersion(scope);
    const opensIn = 8_000;
    const startedAt = Date.now();
    const wallStart = Date.parse("2026-11-28T02:00:00Z") - opensIn;
    const d = await start(scope, {
      url: (await proxy()).url,
      damping: { cooldownMs: 0, minGain: 1 },
      changeWindows: ["Sat 02:00-04:00"],
      wallClock: () => wallStart + (Date.now() - startedAt),
    });
    const held = await pass(d, "the increase held for its window", deferred("change-window"));
    expect(await world.specVersion(scope)).toBe(before);
    const until = held.deferred.find((x) => x.reason === "change-window")?.until ?? 0;
    expect(Math.abs(until - (startedAt + opensIn))).toBeLessThan(1_000);
    await eventually("the increase to 1+1", async () => ((await world.pool(scope)) === "1+1" ? true : undefined));
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(opensIn);
    await d.stop();
  });

  it("metrics: the same families in both daemons, workloads labelled namespace, kind and name", async () => {
    const scope = await world.app("metrics", { replicas: 3, pool: "1+1" });
    const before = Date.now();
    const d = await start(scope, { url: (await proxy()).url });
    await eventually("the decrease to 1+0", async () => ((await world.pool(scope)) === "1+0" ? true : undefined));
    await pass(d, "a pass after it", (r) => r.outcome === "planned", d.reports().length);
    const text = await d.metrics();
    const kind = world.name === "kube" ? "Deployment" : "ComposeService";
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    expect(text).toMatch(/^pooltuner_build_info\{[^}]*version="[^"]+"[^}]*\} 1$/m);
    expect(value(/^pooltuner_reconcile_duration_seconds_count\{database="db"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^pooltuner_probe_duration_seconds_count\{database="db",result="ok"\} (\d+)$/m)).toBeGreaterThan(0);
    const lastOk = value(/^pooltuner_probe_last_success_timestamp_seconds\{database="db"\} ([\d.e+]+)$/m);
    expect(lastOk * 1000).toBeGreaterThanOrEqual(before - 1_000);
    expect(lastOk * 1000).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(value(/^pooltuner_workqueue_adds_total (\d+)$/m)).toBeGreaterThan(0);
    expect(text).toMatch(/^pooltuner_workqueue_depth \d+$/m);
    expect(text).toMatch(/^pooltuner_workqueue_retries_total \d+$/m);
    // One restart, a decrease, labelled with the workload's parts (compose: project, ComposeService, service).
    const restarts = new RegExp(
      `^pooltuner_restarts_total\\{[^}]*namespace="${scope}",kind="${kind}",name="app",database="db",reason="decrease"\\} (\\d+)$`,
      "m",
    );
    expect(value(restarts)).toBeGreaterThan(0);
    await d.stop();
  });

  it("notifications: each change told once (Applied, DatabaseUnreachable), a failed post retried", async () => {
    const hook = await receiver([503]);
    const token = randomBytes(8).toString("hex");
    const scope = await world.app("notify", { replicas: 2, pool: "1+1" });
    const p = await proxy();
    const d = await start(scope, {
      url: p.url,
      webhooks: [{ name: "ops", url: `http://127.0.0.1:${hook.port}/hooks/${token}`, format: "generic" }],
    });
    try {
      await pass(d, "a first plan", settled);
      await world.scale(scope, 3);
      await eventually("the decrease to 1+0", async () => ((await world.pool(scope)) === "1+0" ? true : undefined));
      await world.settle(scope);
      await p.close();
      await eventually("DatabaseUnreachable delivered", async () =>
        hook.got.some((g) => g.kind === "DatabaseUnreachable") ? true : undefined,
      );
      // Three more passes with the database still unreachable tell nothing new.
      const n = d.reports().length;
      await eventually("three more unreachable passes", async () =>
        d
          .reports()
          .slice(n)
          .filter((r) => r.outcome === "unreachable").length >= 3
          ? true
          : undefined,
      );
      const ids = new Map(hook.got.map((g) => [g.id, g.kind]));
      expect([...ids.values()].sort()).toEqual(["Applied", "DatabaseUnreachable"]);
      // The first post was answered 503 and retried with the same id: one post more than notifications.
      expect(hook.got).toHaveLength(3);
      expect(hook.got[0]?.id).toBe(hook.got[1]?.id);
      expect(hook.got.every((g) => g.path === `/hooks/${token}`)).toBe(true);
    } finally {
      await d.stop();
      await hook.close();
    }
  });
});
