// Change windows: when increases may restart workloads (`Sat 02:00-04:00`, `Mon-Fri 22:00-06:00 Europe/Berlin`).
// Only increases wait for one: a decrease that restores safety is never held by a window.
//
// A window is days, a start and an end in wall-clock time of an IANA time zone (the window's own, else the
// configuration's, else UTC). An end at or before the start runs past midnight into the next day; the days name the
// day the window opens. Wall-clock time is read with Intl (the time zone database of the runtime), so a window
// follows daylight saving time: `02:00-04:00` is two hours of local time, whatever the offset. Pure: the time is
// passed in.

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
const MINUTES_PER_DAY = 24 * 60;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

export interface ChangeWindow {
  /** As written, for people. */
  readonly text: string;
  /** Days the window opens on, 0 = Sunday. */
  readonly days: readonly number[];
  /** Minutes after local midnight. */
  readonly start: number;
  /** Length in minutes (1 to 1440). */
  readonly length: number;
  readonly timeZone: string;
}

/** `Sat 02:00-04:00`, `Mon-Fri 22:00-06:00 Europe/Berlin`, `Sat,Sun 00:00-24:00`, `daily 03:00-04:00`. */
export function parseChangeWindow(
  text: string,
  defaultTimeZone = "UTC",
): { readonly window: ChangeWindow } | { readonly error: string } {
  const bad = (why: string) => ({
    error: `change window "${text}": ${why} (e.g. "Sat 02:00-04:00", "Mon-Fri 22:00-06:00 Europe/Berlin")`,
  });
  const parts = text.trim().split(/\s+/);
  if (parts.length < 2 || parts.length > 3) return bad("give days, HH:MM-HH:MM and optionally an IANA time zone");
  const [dayText, timeText, zone] = parts as [string, string, string | undefined];
  const days = parseDays(dayText);
  if (!days) return bad(`"${dayText}" are not days: Mon, Sat,Sun, Mon-Fri, daily`);
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(timeText);
  if (!m) return bad(`"${timeText}" is not HH:MM-HH:MM`);
  const [sh, sm, eh, em] = m.slice(1).map(Number) as [number, number, number, number];
  if (sh > 23 || sm > 59 || eh > 24 || em > 59 || (eh === 24 && em !== 0)) return bad(`"${timeText}" is not a time`);
  const start = sh * 60 + sm;
  const end = eh * 60 + em;
  const length = end > start ? end - start : end + MINUTES_PER_DAY - start;
  const timeZone = zone ?? defaultTimeZone;
  if (!isTimeZone(timeZone)) return bad(`"${timeZone}" is not an IANA time zone`);
  return { window: { text: text.trim(), days, start, length, timeZone } };
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function parseDays(text: string): number[] | undefined {
  if (text === "daily" || text === "*") return [0, 1, 2, 3, 4, 5, 6];
  const out = new Set<number>();
  for (const piece of text.split(",")) {
    const range = piece.split("-");
    const ix = range.map((d) => DAYS.findIndex((x) => x.toLowerCase() === d.toLowerCase()));
    if (ix.length === 0 || ix.length > 2 || ix.some((i) => i < 0)) return undefined;
    const [from, to = from] = ix as [number, number?];
    for (let d = from; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === to) break;
    }
  }
  return [...out].sort();
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** Minutes since local Sunday 00:00 in `timeZone` at `at` (ms since the epoch). */
export function minuteOfWeek(at: number, timeZone: string): number {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formats.set(timeZone, f);
  }
  const parts = f.formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  const day = DAYS.indexOf(get("weekday") as (typeof DAYS)[number]);
  return day * MINUTES_PER_DAY + (Number(get("hour")) % 24) * 60 + Number(get("minute"));
}

function openIn(w: ChangeWindow, at: number): boolean {
  const m = minuteOfWeek(at, w.timeZone);
  return w.days.some((d) => {
    const since = (m - (d * MINUTES_PER_DAY + w.start) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
    return since < w.length;
  });
}

/**
 * Whether an increase may go at `now`: no windows means always; else inside any of them. When closed, `opensAt` is
 * the next opening (to the minute; across a daylight saving change it is checked again when it comes).
 */
export function changeWindowState(
  windows: readonly ChangeWindow[] | undefined,
  now: number,
): { readonly open: true } | { readonly open: false; readonly opensAt: number } {
  if (!windows || windows.length === 0 || windows.some((w) => openIn(w, now))) return { open: true };
  const minute = Math.floor(now / 60_000) * 60_000;
  let best = Number.POSITIVE_INFINITY;
  for (const w of windows) {
    const m = minuteOfWeek(minute, w.timeZone);
    for (const d of w.days) {
      const wait = (d * MINUTES_PER_DAY + w.start - m + MINUTES_PER_WEEK) % MINUTES_PER_WEEK || MINUTES_PER_WEEK;
      let at = minute + wait * 60_000;
      // A daylight saving change between now and then moves local time by up to an hour: step to the real opening.
      for (const shift of [0, -60, 60, -30, 30]) {
        const t = at + shift * 60_000;
        if (t > now && openIn(w, t) && !openIn(w, t - 60_000)) {
          at = t;
          break;
        }
      }
      best = Math.min(best, at);
    }
  }
  return { open: false, opensAt: best };
}
