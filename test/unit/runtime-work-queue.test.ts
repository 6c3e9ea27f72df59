import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../src/runtime/work-queue.js";

const queue = (signal: AbortSignal, onError?: (k: string, e: unknown, ms: number) => void) =>
  new WorkQueue({ debounceMs: 20, baseBackoffMs: 10, maxBackoffMs: 40, signal, ...(onError ? { onError } : {}) });

describe("WorkQueue", () => {
  it("merges a burst of events for one key into one reconcile", async () => {
    const ac = new AbortController();
    const q = queue(ac.signal);
    const seen: string[] = [];
    q.start(async (key) => {
      seen.push(key);
      return undefined;
    });
    for (let i = 0; i < 50; i++) q.add("db-a");
    q.add("db-b");
    await q.idle();
    expect(seen.sort()).toEqual(["db-a", "db-b"]);
    ac.abort();
  });

  it("never runs one key twice at once, and reruns it when it was marked dirty meanwhile", async () => {
    const ac = new AbortController();
    const q = queue(ac.signal);
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    q.start(async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      if (runs === 1) q.addAfter("k", 0); // an event arrives while the first run is in flight
      await new Promise((r) => setTimeout(r, 30));
      running--;
      return undefined;
    });
    q.add("k");
    await new Promise((r) => setTimeout(r, 200));
    await q.idle();
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
    ac.abort();
  });

  it("backs off exponentially on errors, capped, and honours requeueAfter", async () => {
    const ac = new AbortController();
    const delays: number[] = [];
    const q = queue(ac.signal, (_k, _e, ms) => delays.push(ms));
    let calls = 0;
    q.start(async () => {
      calls++;
      if (calls <= 4) throw new Error("transient");
      if (calls === 5) return { requeueAfter: 5 };
      return undefined;
    });
    q.add("k");
    await new Promise((r) => setTimeout(r, 400));
    await q.idle();
    expect(delays).toEqual([10, 20, 40, 40]);
    expect(calls).toBe(6);
    ac.abort();
  });

  it("stops on abort: nothing pending runs", async () => {
    const ac = new AbortController();
    const q = queue(ac.signal);
    let calls = 0;
    q.start(async () => {
      calls++;
      return undefined;
    });
    q.add("k");
    ac.abort();
    await new Promise((r) => setTimeout(r, 60));
    expect(calls).toBe(0);
  });
});
