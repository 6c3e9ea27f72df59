// Issue 12, "Restarts under control", end to end in both daemons (kwok control plane + the controller, the test bed's
// dockerd + the compose daemon, a private MariaDB): a pause (the workload's own, and the global switch), the restart
// rate limit, a change window and a stuck rollout, each with the same expectations in both worlds. Every "nothing
// restarted" is shown by a pass known to have run after the version was taken (its report says why it held the
// change) and a version that did not move: the ReplicaSets (Kubernetes), the container names and ids (compose).
//
// Numbers: max_connections 20 − reserve 2 − 1 other client (the test's root connection) = 17 usable. One app of
// 2 replicas × 4 workers (8 processes) gets 1+1 (peak 16); at max_connections 12 (9 usable) it gets 1+0 (peak 8).
// Two apps of 1 replica each (8 processes) get 1+1 each; two of 2 replicas (16 processes) get 1+0 each.
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PassReport } from "../../../src/runtime/pass-types.js";
import { eventually } from "../../support/cluster.js";
import { type MariaDb, startMariaDb } from "../../support/mariadb.js";
import { ComposeWorld, type DaemonOptions, KubeWorld, type RunningDaemon, type World } from "./worlds.js";

let db: MariaDb;
let url: string;

beforeAll(async () => {
  db = await startMariaDb({ label: "restart-rules", maxConnections: 20 });
  const password = randomBytes(8).toString("hex");
  await db.query(`CREATE USER 'monitor'@'%' IDENTIFIED BY '${password}'`);
  await db.query("GRANT PROCESS ON *.* TO 'monitor'@'%'");
  url = `mysql://monitor:${password}@${db.host}:${db.port}/`;
});
afterAll(async () => {
  await db?.stop();
});

/** The first pass from `from` on that satisfies `ok`. */
async function pass(d: RunningDaemon, what: string, ok: (r: PassReport) => boolean, from = 0, timeoutMs = 60_000) {
  return eventually(what, async () => d.reports().slice(from).find(ok), { timeoutMs, intervalMs: 100 });
}
/** The deferral of the app of `scope` (its id names the namespace or the compose project) with `reason`. */
const deferral = (r: PassReport, scope: string, reason: string) =>
  r.deferred.find((x) => x.reason === reason && x.workload.includes(`${scope}/`));
const planOf = (r: PassReport, scope: string) => r.plan?.workloads.find((w) => w.id.includes(`${scope}/`));
const appliedTo = (d: RunningDaemon, scope: string) =>
  d.reports().flatMap((r) => r.applied.filter((a) => a.workload.includes(`${scope}/`)));
/**
 * The changes applied to the app of `scope`, once there are `n`: a workload shows its new values before the pass
 * that wrote them has ended (it still waits for the recreation to settle, or sends an event).
 */
const applied = (d: RunningDaemon, scope: string, n: number) =>
  eventually(`${n} change(s) applied to ${scope}`, async () => {
    const a = appliedTo(d, scope);
    return a.length >= n ? a.map((x) => x.change) : undefined;
  });
const gauge = (text: string, re: RegExp) => Number(re.exec(text)?.[1]);
const FROZEN = /^pooltuner_database_frozen\{database="db"\} (\d+)$/m;

describe.each([new KubeWorld(), new ComposeWorld()] as World[])("$name daemon", (world) => {
  const daemons: RunningDaemon[] = [];
  const start = async (scope: string | readonly string[], o: Omit<DaemonOptions, "url">) => {
    const d = await world.daemon(scope, { url, ...o });
    daemons.push(d);
    return d;
  };
  const poolIs = (scope: string, pool: string) =>
    eventually(`${scope} at ${pool}`, async () => ((await world.pool(scope)) === pool ? true : undefined));
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

  // "paused" (1 × 4 × (2+3) = 20) needs a decrease to 1+1; "other" (1+0, peak 4) an increase to 1+1 that fits only
  // once "paused" is down: 20 + 8 > 17. The pause holds the decrease; the paused app's current peak holds the increase.
  it("pause: counted in the plan, never restarted, the status says so, a held decrease warns every pass; unpausing applies", async () => {
    const paused = await world.app("pause", { replicas: 1, pool: "2+3", paused: true });
    const other = await world.app("pauseother", { replicas: 1, pool: "1+0" });
    const before = await world.specVersion(paused);
    const d = await start([paused, other], { damping: { cooldownMs: 0, minGain: 1 } });
    const held = await pass(d, "the decrease held as paused", (r) => deferral(r, paused, "paused") !== undefined);
    expect(planOf(held, paused)).toMatchObject({
      change: "decrease",
      current: { peak: 20 },
      recommended: { poolSize: 1, maxOverflow: 1 },
    });
    // Counted: its current 20 is where the other's increase must fit.
    await pass(d, "the other's increase held by it", (r) => deferral(r, other, "would-exceed-now") !== undefined);
    const warned = await eventually("two Paused warnings", async () => {
      const w = await d.warnings(paused, "Paused");
      return w.length >= 2 ? w : undefined;
    });
    expect(warned[0]).toContain("2+3 -> 1+1");
    await eventually("the status says paused", async () => ((await d.saysPaused(paused)) ? true : undefined));
    const n = d.reports().length;
    await pass(d, "a later pass holding it", (r) => deferral(r, paused, "paused") !== undefined, n);
    expect(await world.specVersion(paused)).toBe(before);
    expect(await world.pool(paused)).toBe("2+3");
    expect(await world.pool(other)).toBe("1+0");
    expect(d.reports().flatMap((r) => r.applied)).toEqual([]);
    // A pause is never told for an increase.
    expect(await d.warnings(other, "Paused")).toEqual([]);

    await world.setPaused(paused, false);
    await poolIs(paused, "1+1");
    await world.settle(paused);
    await poolIs(other, "1+1");
    expect(await applied(d, paused, 1)).toEqual(["decrease"]);
    expect(await applied(d, other, 1)).toEqual(["increase"]);
    await eventually("the status no longer says paused", async () => ((await d.saysPaused(paused)) ? undefined : true));
  });

  it("the global switch (paused: true) holds everything, a decrease warned; a daemon without it applies", async () => {
    const a = await world.app("gpausea", { replicas: 1, pool: "2+3" });
    const b = await world.app("gpauseb", { replicas: 1, pool: "1+0" });
    const before = [await world.specVersion(a), await world.specVersion(b)];
    const first = await start([a, b], { paused: true, damping: { cooldownMs: 0, minGain: 1 } });
    const held = await pass(
      first,
      "both held as paused",
      (r) => deferral(r, a, "paused") !== undefined && deferral(r, b, "paused") !== undefined,
    );
    expect(planOf(held, a)?.change).toBe("decrease");
    expect(planOf(held, b)?.change).toBe("increase");
    await eventually("two Paused warnings", async () =>
      (await first.warnings(a, "Paused")).length >= 2 ? true : undefined,
    );
    expect(await first.warnings(b, "Paused")).toEqual([]);
    expect(await first.saysPaused(a)).toBe(true);
    expect(await first.saysPaused(b)).toBe(true);
    const n = first.reports().length;
    await pass(first, "a later pass holding both", (r) => deferral(r, a, "paused") !== undefined, n);
    expect([await world.specVersion(a), await world.specVersion(b)]).toEqual(before);
    expect(first.reports().flatMap((r) => r.applied)).toEqual([]);
    await first.stop();

    const second = await start([a, b], { damping: { cooldownMs: 0, minGain: 1 } });
    await poolIs(a, "1+1");
    await world.settle(a);
    await poolIs(b, "1+1");
    expect(await applied(second, a, 1)).toEqual(["decrease"]);
    expect(await applied(second, b, 1)).toEqual(["increase"]);
  });

  /**
   * 2+3 -> 1+1 (a decrease), then max_connections 12 -> 1+0 (a decrease), then back to 20 -> 1+1 (an increase): the
   * decreases go whatever `o` says, the increase is held with `reason`; returns that pass.
   */
  async function decreasesGoIncreaseHeld(label: string, o: Omit<DaemonOptions, "url">, reason: string) {
    const scope = await world.app(label, { replicas: 2, pool: "2+3" });
    const d = await start(scope, { damping: { cooldownMs: 0, minGain: 1 }, ...o });
    await poolIs(scope, "1+1");
    await world.settle(scope);
    await db.query("SET GLOBAL max_connections = 12");
    await poolIs(scope, "1+0");
    await world.settle(scope);
    expect(await applied(d, scope, 2)).toEqual(["decrease", "decrease"]);
    expect(d.reports().some((r) => deferral(r, scope, reason))).toBe(false);
    const before = await world.specVersion(scope);
    const n = d.reports().length;
    await db.query("SET GLOBAL max_connections = 20");
    const held = await pass(d, `the increase held (${reason})`, (r) => deferral(r, scope, reason) !== undefined, n);
    expect(planOf(held, scope)).toMatchObject({ change: "increase", recommended: { poolSize: 1, maxOverflow: 1 } });
    const m = d.reports().length;
    await pass(d, "a later pass holding it", (r) => deferral(r, scope, reason) !== undefined, m);
    expect(await world.specVersion(scope)).toBe(before);
    expect(await world.pool(scope)).toBe("1+0");
    expect(appliedTo(d, scope)).toHaveLength(2);
    return deferral(held, scope, reason);
  }

  it("--max-restarts-per-hour 1: decreases go past a spent budget, an increase waits for the hour", async () => {
    const startedAt = Date.now();
    const held = await decreasesGoIncreaseHeld(
      "rate",
      { restartLimits: { maxConcurrent: 1, maxPerHour: 1 } },
      "restart-rate",
    );
    // Until the first restart of the hour ages out: started after the daemon, an hour on.
    expect(held?.until).toBeGreaterThanOrEqual(startedAt + 3_600_000);
    expect(held?.until).toBeLessThanOrEqual(Date.now() + 3_600_000);
  });

  // The wall clock stands still on a Wednesday noon (UTC); the window opens on Saturday at 02:00, 62 hours on.
  it("a change window never holds a decrease; it holds an increase until its next opening", async () => {
    const wednesday = Date.parse("2026-11-25T12:00:00Z");
    const opensIn = Date.parse("2026-11-28T02:00:00Z") - wednesday;
    const held = await decreasesGoIncreaseHeld(
      "windowdec",
      { changeWindows: ["Sat 02:00-04:00"], wallClock: () => wednesday },
      "change-window",
    );
    expect(Math.abs((held?.until ?? 0) - (Date.now() + opensIn))).toBeLessThan(60_000);
  });

  // "stuck" (2 × 4 × (2+3) = 40) and "other" (2 × 4 × (1+1) = 16) both go to 1+0; "stuck" is further over, so it
  // goes first, and its new pods/containers never get ready: the database freezes, "other" waits until a person
  // fixes "stuck" (Kubernetes: its rollout then completes; compose: its containers are recreated, the change retried).
  it("a stuck rollout freezes its database (Warning RolloutStuck, pooltuner_database_frozen) until it ends", async () => {
    const stuck = await world.app("stuck", { replicas: 2, pool: "2+3", neverReadyAfterChange: true });
    const other = await world.app("stuckother", { replicas: 2, pool: "1+1" });
    const stuckBefore = await world.version(stuck);
    const otherBefore = await world.specVersion(other);
    const d = await start([stuck, other], { rolloutTimeoutMs: 3_000, failureBackoffMs: 1_000 });
    await eventually("the database frozen", async () => (gauge(await d.metrics(), FROZEN) === 1 ? true : undefined));
    const warned = await eventually("a RolloutStuck warning", async () => {
      const w = await d.warnings(stuck, "RolloutStuck");
      return w.length > 0 ? w : undefined;
    });
    expect(warned[0]).toContain("nothing else on db changes");
    // Three passes while frozen, after the freeze was seen: "other" is held each time, never restarted.
    const n = d.reports().length;
    await eventually("three frozen passes", async () =>
      d
        .reports()
        .slice(n)
        .filter((r) => deferral(r, other, "database-frozen")).length >= 3
        ? true
        : undefined,
    );
    expect(await world.specVersion(other)).toBe(otherBefore);
    expect(await world.pool(other)).toBe("1+1");
    expect(appliedTo(d, other)).toEqual([]);
    if (world.name === "compose") {
      // The recreation failed whole: the original containers are back (same ids, old values), never retried alone.
      expect(await world.version(stuck)).toBe(stuckBefore);
      expect(await world.pool(stuck)).toBe("2+3");
      expect(d.reports().flatMap((r) => r.failed)).toEqual([expect.objectContaining({ restored: true })]);
    } else {
      // The rollout is left as Kubernetes runs it: the new template, its pods pending.
      expect(await world.pool(stuck)).toBe("1+0");
      expect(appliedTo(d, stuck).map((a) => a.change)).toEqual(["decrease"]);
    }

    await world.unstick(stuck);
    await poolIs(other, "1+0");
    expect(await world.pool(stuck)).toBe("1+0");
    expect(await applied(d, other, 1)).toEqual(["decrease"]);
    await eventually("the database no longer frozen", async () =>
      gauge(await d.metrics(), FROZEN) === 0 ? true : undefined,
    );
  });
});
