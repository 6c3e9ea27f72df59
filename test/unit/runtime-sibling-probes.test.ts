// Several configured databases probed as one login on one server count each other's probes as a constant (issue 13;
// the real thing: test/integration/mysql/shared-server.test.ts). Which databases are siblings: same engine, same
// user, same server — a different user or a different port is another client's. The driver here is a stand-in for
// the engine (it answers what the server would show); the URLs are parsed by the real MySQL and PostgreSQL drivers.
import { describe, expect, it } from "vitest";
import { DatabaseMonitor } from "../../src/runtime/database-monitor.js";
import type { DatabaseDriver, DatabaseReading } from "../../src/runtime/database-probe.js";
import { driverFor } from "../../src/runtime/drivers.js";

/** Every probe answers that the server shows `shown` connections per user (its own left out). */
function standIn(shown: Record<string, number>): (url: string) => DatabaseDriver {
  return (url) => {
    const real = driverFor(url);
    // The fields both engines' readings have (PostgreSQL's per-database ones empty).
    const reading: DatabaseReading & { connectionsByDatabase: object } = {
      target: "t",
      version: "v",
      maxConnections: 100,
      maxUserConnections: 0,
      threadsConnected: 1,
      visibility: "processlist",
      connectionsByUser: shown,
      accountLimits: [],
      accountLimitsReadable: true,
      warnings: [],
      databaseLimits: [],
      connectionsByDatabase: {},
    };
    return {
      ...real,
      open: () => ({ read: async () => reading, close: async () => {} }),
      snapshot: (i) => real.snapshot({ ...i, reading: i.reading as never }),
    } as DatabaseDriver;
  };
}

async function unmanaged(urls: Record<string, string>, shown: Record<string, number>) {
  const monitor = new DatabaseMonitor(
    Object.entries(urls).map(([name, url]) => ({ name, url })),
    { windowMs: 60_000, now: () => 1_000, driverFor: standIn(shown) },
  );
  const out: Record<string, number | undefined> = {};
  for (const name of monitor.names()) {
    await monitor.poll(name);
    out[name] = monitor.snapshot(name, new Set(["app"]))?.unmanaged;
  }
  return out;
}

describe("sibling probes", () => {
  it("count as the login's connections however few of them the server shows yet", async () => {
    const urls = {
      a: "mysql://mon:pw@db.example:3306/a",
      b: "mysql://mon:pw@db.example:3306/b",
      c: "mysql://mon:pw@db.example:3306/c",
    };
    // 2 siblings each; the other client "web" holds 4, the managed "app" 10.
    expect(await unmanaged(urls, { web: 4, app: 10 })).toEqual({ a: 6, b: 6, c: 6 });
    expect(await unmanaged(urls, { web: 4, app: 10, mon: 1 })).toEqual({ a: 6, b: 6, c: 6 });
    // Siblings in their handshake show as MariaDB's "unauthenticated user": as many as are missing are them.
    expect(await unmanaged(urls, { web: 4, "unauthenticated user": 1 })).toEqual({ a: 6, b: 6, c: 6 });
    expect(await unmanaged(urls, { web: 4, mon: 1, "unauthenticated user": 3 })).toEqual({ a: 8, b: 8, c: 8 });
    // More under the login than the siblings: someone else uses the account; they count.
    expect(await unmanaged(urls, { web: 4, app: 10, mon: 5 })).toEqual({ a: 9, b: 9, c: 9 });
  });

  it("are only the same engine's, user's and server's", async () => {
    const urls = {
      a: "mysql://mon:pw@db.example:3306/a",
      b: "mysql://mon:pw@db.example:3306/b",
      otherPort: "mysql://mon:pw@db.example:3307/a",
      otherUser: "mysql://mon2:pw@db.example:3306/a",
      pg: "postgres://mon:pw@db.example:3306/a",
      pg2: "postgresql://mon:pw@db.example:3306/b",
      bad: "mysql://:3306/",
    };
    expect(await unmanaged(urls, {})).toEqual({
      a: 1,
      b: 1,
      otherPort: 0,
      otherUser: 0,
      pg: 1,
      pg2: 1,
      bad: 0, // alone (the stand-in answers for it; a real probe would report the bad URL)
    });
  });
});
