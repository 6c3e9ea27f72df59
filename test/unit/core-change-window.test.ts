import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ChangeWindow,
  changeWindowState,
  DEFAULT_POLICY,
  decide,
  parseChangeWindow,
  plan,
} from "../../src/core/index.js";

const win = (text: string, tz?: string): ChangeWindow => {
  const r = parseChangeWindow(text, tz);
  if ("error" in r) throw new Error(r.error);
  return r.window;
};
const utc = (iso: string) => Date.parse(iso);

describe("change windows", () => {
  it("parses days, times and time zones, and says what is wrong in one line", () => {
    expect(win("Sat 02:00-04:00")).toMatchObject({ days: [6], start: 120, length: 120, timeZone: "UTC" });
    expect(win("Mon-Fri 22:00-06:00 Europe/Berlin")).toMatchObject({ days: [1, 2, 3, 4, 5], length: 480 });
    expect(win("Fri-Mon 00:00-24:00")).toMatchObject({ days: [0, 1, 5, 6], length: 1440 });
    expect(win("daily 03:00-04:00", "America/New_York").timeZone).toBe("America/New_York");
    for (const bad of [
      "Sat",
      "Sat 2:00-4:00",
      "Caturday 02:00-04:00",
      "Sat 25:00-26:00",
      "Sat 02:00-04:00 Mars/Olympus",
    ])
      expect(parseChangeWindow(bad)).toEqual({ error: expect.stringMatching(/^change window ".*": .*e\.g\./) });
  });

  it("is open inside, closed outside, and says when it opens next (UTC)", () => {
    const w = [win("Sat 02:00-04:00")];
    // 2026-11-28 is a Saturday.
    expect(changeWindowState(w, utc("2026-11-28T02:00:00Z"))).toEqual({ open: true });
    expect(changeWindowState(w, utc("2026-11-28T03:59:59Z"))).toEqual({ open: true });
    expect(changeWindowState(w, utc("2026-11-28T04:00:00Z"))).toEqual({
      open: false,
      opensAt: utc("2026-12-05T02:00:00Z"),
    });
    expect(changeWindowState(w, utc("2026-11-28T01:59:30Z"))).toEqual({
      open: false,
      opensAt: utc("2026-11-28T02:00:00Z"),
    });
    expect(changeWindowState(undefined, 0)).toEqual({ open: true });
  });

  it("a window past midnight belongs to the day it opens", () => {
    const w = [win("Fri 22:00-02:00")];
    expect(changeWindowState(w, utc("2026-11-28T01:30:00Z")).open).toBe(true); // Saturday 01:30
    expect(changeWindowState(w, utc("2026-11-29T01:30:00Z")).open).toBe(false); // Sunday 01:30
  });

  it("follows the zone's daylight saving time (Europe/Berlin: +01:00 in winter, +02:00 in summer)", () => {
    const w = [win("Sun 02:30-04:00 Europe/Berlin")];
    expect(changeWindowState(w, utc("2026-01-04T01:30:00Z")).open).toBe(true); // 02:30 CET
    expect(changeWindowState(w, utc("2026-07-05T00:30:00Z")).open).toBe(true); // 02:30 CEST
    expect(changeWindowState(w, utc("2026-07-05T01:30:00Z")).open).toBe(true); // 03:30 CEST
    expect(changeWindowState(w, utc("2026-07-05T02:00:00Z")).open).toBe(false); // 04:00 CEST
    // Saturday before the spring change (2026-03-29, 02:00 CET -> 03:00 CEST): 02:30 does not exist that night,
    // the window opens when local time passes it, at 03:00 CEST = 01:00Z.
    expect(changeWindowState(w, utc("2026-03-28T12:00:00Z"))).toEqual({
      open: false,
      opensAt: utc("2026-03-29T01:00:00Z"),
    });
  });

  it("property: closed means not open at any minute until opensAt, and open at opensAt", () => {
    const zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: utc("2026-01-01T00:00:00Z"), max: utc("2027-12-31T00:00:00Z") }),
        (tz, day, hour, hours, now) => {
          const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
          const end = (hour + hours) % 24;
          const text = `${days[day]} ${String(hour).padStart(2, "0")}:00-${String(end).padStart(2, "0")}:00 ${tz}`;
          const w = [win(text)];
          const s = changeWindowState(w, now);
          if (s.open) return;
          expect(s.opensAt).toBeGreaterThan(now);
          expect(s.opensAt - now).toBeLessThanOrEqual(8 * 24 * 3_600_000);
          expect(changeWindowState(w, s.opensAt).open).toBe(true);
          // Checked every 15 minutes from now to the opening: closed.
          for (let t = now; t < s.opensAt - 60_000; t += 15 * 60_000) expect(changeWindowState(w, t).open).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("decide: an increase outside its window waits until it opens; a decrease never waits for one", () => {
    const db = { name: "db", maxConnections: 100, unmanaged: 0, reserve: { absolute: 0, percent: 0 } };
    const wl = (id: string, poolSize: number, maxOverflow: number) => ({
      id,
      kind: "ComposeService" as const,
      database: "db",
      replicas: 1,
      rollout: { type: "StopFirst" as const },
      workers: 2,
      current: { poolSize, maxOverflow },
    });
    const windows = [win("Sat 02:00-04:00")];
    const friday = utc("2026-11-27T12:00:00Z");
    const inc = plan({ databases: [db], workloads: [wl("a", 1, 0)] }, DEFAULT_POLICY);
    const states = new Map([["a", { updateMode: "auto" as const, changeWindows: windows }]]);
    const damping = { cooldownMs: 0, minGain: 1 };
    expect(decide(inc, states, friday, damping)).toEqual({
      apply: [],
      deferred: [{ workload: "a", reason: "change-window", until: utc("2026-11-28T02:00:00Z") }],
    });
    // The wall clock apart from the pass's clock: `until` is on the pass's clock.
    expect(decide(inc, states, 5_000, damping, friday).deferred[0]?.until).toBe(
      5_000 + utc("2026-11-28T02:00:00Z") - friday,
    );
    expect(decide(inc, states, utc("2026-11-28T02:30:00Z"), damping).apply.map((a) => a.workload)).toEqual(["a"]);
    const dec = plan({ databases: [{ ...db, maxConnections: 10 }], workloads: [wl("a", 5, 5)] }, DEFAULT_POLICY);
    expect(decide(dec, states, friday, damping).apply.map((a) => a.change)).toEqual(["decrease"]);
  });
});
