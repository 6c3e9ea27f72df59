import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ChangeWindow,
  changeWindowState,
  DEFAULT_POLICY,
  decide,
  isTimeZone,
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

// Worked examples for mutants the examples above left alive (docs/mutation.md, 2026-12-05): the exact reason of each
// refusal, the edges of each number, and windows with several days or several windows.
describe("change windows: worked examples", () => {
  const EG = '(e.g. "Sat 02:00-04:00", "Mon-Fri 22:00-06:00 Europe/Berlin")';
  const refused = (text: string, why: string) =>
    expect(parseChangeWindow(text)).toEqual({ error: `change window "${text}": ${why} ${EG}` });

  it("refuses each malformed part with its own reason", () => {
    const shape = "give days, HH:MM-HH:MM and optionally an IANA time zone";
    refused("Sat", shape);
    refused("Sat 02:00-04:00 UTC extra", shape);
    const days = (d: string) => `"${d}" are not days: Mon, Sat,Sun, Mon-Fri, daily`;
    refused("Caturday 02:00-04:00", days("Caturday"));
    refused("Mon-Wed-Fri 02:00-04:00", days("Mon-Wed-Fri"));
    refused("Mon-Caturday 02:00-04:00", days("Mon-Caturday"));
    refused("Sat x02:00-04:00", '"x02:00-04:00" is not HH:MM-HH:MM');
    refused("Sat 02:00-04:00x", '"02:00-04:00x" is not HH:MM-HH:MM');
    for (const t of ["24:00-04:00", "02:60-04:00", "02:00-25:00", "02:00-04:60", "02:00-24:30"])
      refused(`Sat ${t}`, `"${t}" is not a time`);
    refused("Sat 02:00-04:00 Mars/Olympus", '"Mars/Olympus" is not an IANA time zone');
    expect(isTimeZone("Mars/Olympus")).toBe(false);
    expect(isTimeZone("Europe/Berlin")).toBe(true);
  });

  it("accepts the edges: minute 59, 24:00, an end equal to the start (a whole day), any spacing and case", () => {
    expect(win("Sat 02:59-04:59")).toEqual({
      text: "Sat 02:59-04:59",
      days: [6],
      start: 179,
      length: 120,
      timeZone: "UTC",
    });
    expect(win("Sat 02:30-04:15")).toMatchObject({ start: 150, length: 105 });
    expect(win("Sat 02:00-24:00")).toMatchObject({ start: 120, length: 1320 });
    expect(win("Sat 22:00-22:00")).toMatchObject({ start: 1320, length: 1440 });
    expect(win("  sat,SUN   01:00-02:00 ")).toEqual({
      text: "sat,SUN   01:00-02:00",
      days: [0, 6],
      start: 60,
      length: 60,
      timeZone: "UTC",
    });
    expect(win("daily 00:00-24:00")).toMatchObject({ days: [0, 1, 2, 3, 4, 5, 6], start: 0, length: 1440 });
    expect(win("* 03:00-04:00")).toMatchObject({ days: [0, 1, 2, 3, 4, 5, 6] });
  });

  it("a window of several days is open on each of them; of several windows, inside any", () => {
    // 2026-12-02 is a Wednesday, 2026-11-30 a Monday, 2026-12-01 a Tuesday.
    const w = [win("Mon,Wed 10:00-11:00")];
    expect(changeWindowState(w, utc("2026-11-30T10:30:00Z"))).toEqual({ open: true });
    expect(changeWindowState(w, utc("2026-12-02T10:30:00Z"))).toEqual({ open: true });
    expect(changeWindowState(w, utc("2026-12-01T10:30:00Z"))).toEqual({
      open: false,
      opensAt: utc("2026-12-02T10:00:00Z"),
    });
    const two = [win("Sat 02:00-04:00"), win("Sun 02:00-04:00")];
    expect(changeWindowState(two, utc("2026-11-28T03:00:00Z"))).toEqual({ open: true });
    expect(changeWindowState(two, utc("2026-11-29T03:00:00Z"))).toEqual({ open: true });
    expect(changeWindowState(two, utc("2026-11-29T05:00:00Z"))).toEqual({
      open: false,
      opensAt: utc("2026-12-05T02:00:00Z"),
    });
    expect(changeWindowState([], 0)).toEqual({ open: true });
  });

  it("the next opening across the spring change is the local time, an hour earlier in UTC than a fixed offset says", () => {
    // Europe/Berlin goes from +01:00 to +02:00 on Sunday 2026-03-29 at 02:00. From Saturday 13:00 (12:00Z), Sunday
    // 04:00 local is 15 hours away by the clock on the wall, but only 14 in real time: 02:00Z.
    const w = [win("Sun 04:00-05:00 Europe/Berlin")];
    expect(changeWindowState(w, utc("2026-03-28T12:00:00Z"))).toEqual({
      open: false,
      opensAt: utc("2026-03-29T02:00:00Z"),
    });
    expect(changeWindowState(w, utc("2026-03-29T02:00:00Z"))).toEqual({ open: true });
  });
});
