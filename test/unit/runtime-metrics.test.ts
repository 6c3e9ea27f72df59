import { describe, expect, it } from "vitest";
import { Metrics, workloadLabels } from "../../src/runtime/metrics.js";
import { WorkQueue } from "../../src/runtime/work-queue.js";

describe("metrics", () => {
  it("labels a workload by its id and its parts", () => {
    expect(workloadLabels("kube:shop/Deployment/web", "main")).toEqual({
      workload: "kube:shop/Deployment/web",
      namespace: "shop",
      kind: "Deployment",
      name: "web",
      database: "main",
    });
    expect(workloadLabels("compose:lineage/app")).toEqual({
      workload: "compose:lineage/app",
      namespace: "lineage",
      kind: "ComposeService",
      name: "app",
    });
    expect(workloadLabels("docker:lonely")).toMatchObject({ namespace: "", kind: "Container", name: "lonely" });
  });

  it("pooltuner_build_info is 1 with the version and daemon; deferrals gone since are 0", async () => {
    const m = new Metrics({ version: "1.2.3", daemon: "compose" });
    const text = await m.registry.metrics();
    expect(text).toMatch(/^pooltuner_build_info\{version="1\.2\.3",daemon="compose",nodejs_version="v\d+[^"]*"\} 1$/m);
    m.recordDeferred("db", [{ reason: "restart-cap" }, { reason: "restart-cap" }, { reason: "cooldown" }]);
    m.recordDeferred("db", [{ reason: "cooldown" }]);
    const after = await m.registry.metrics();
    expect(after).toContain('pooltuner_restarts_deferred{database="db",reason="restart-cap"} 0');
    expect(after).toContain('pooltuner_restarts_deferred{database="db",reason="cooldown"} 1');
  });

  // An infeasible plan has no recommendation: the last feasible one must not stay on /metrics as if it still held
  // (the dashboard's "recommended" line, PooltunerPausedDecreaseNeeded's comparison).
  it("a workload's recommended series go when its plan has no recommendation, and come back with one", async () => {
    const m = new Metrics();
    const base = { id: "kube:shop/Deployment/web", database: "main", change: "none" as const };
    const withRec = {
      ...base,
      current: { peak: 20 },
      recommended: { poolSize: 1, maxOverflow: 0, peak: 20 },
    } as unknown as Parameters<Metrics["recordWorkload"]>[0];
    const without = { ...base, current: { peak: 20 } } as unknown as Parameters<Metrics["recordWorkload"]>[0];
    const series = (text: string) =>
      text.split("\n").filter((l) => /^pooltuner_workload_recommended_[a-z_]+\{/.test(l)).length;
    m.recordWorkload(withRec);
    expect(series(await m.registry.metrics())).toBe(3);
    m.recordWorkload(without);
    const text = await m.registry.metrics();
    expect(series(text)).toBe(0);
    expect(text).toMatch(/^pooltuner_workload_current_peak_connections\{[^}]*\} 20$/m);
    m.recordWorkload(withRec);
    expect(series(await m.registry.metrics())).toBe(3);
  });

  it("the work queue reports adds, retries and its depth", async () => {
    const m = new Metrics();
    const stop = new AbortController();
    const q = new WorkQueue({
      debounceMs: 10,
      baseBackoffMs: 10,
      maxBackoffMs: 10,
      signal: stop.signal,
      watch: m.queueWatch(),
    });
    let calls = 0;
    q.add("a");
    q.add("b");
    const value = async (name: string) => (await m.registry.getSingleMetric(name)?.get())?.values[0]?.value;
    expect(await value("pooltuner_workqueue_depth")).toBe(2);
    q.start(async (key) => {
      calls += 1;
      if (key === "a" && calls === 1) throw new Error("once");
      return undefined;
    });
    await new Promise((r) => setTimeout(r, 20));
    await q.idle();
    stop.abort();
    expect(await value("pooltuner_workqueue_adds_total")).toBe(3); // a, b, and a's retry
    expect(await value("pooltuner_workqueue_retries_total")).toBe(1);
    expect(await value("pooltuner_workqueue_depth")).toBe(0);
  });
});
