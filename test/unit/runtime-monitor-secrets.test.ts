// Issue 10: what a daemon says about a database it cannot probe (the status message behind the
// DatabaseUnreachable Event on every managed workload, the "database probe failed" log line, the
// status annotation) never carries a secret from the URL's query string. Real probe, nothing listens on port 1.
import { describe, expect, it } from "vitest";
import { DatabaseMonitor } from "../../src/runtime/database-monitor.js";

const SECRET = "Qs3cret-hunter2";

describe("DatabaseMonitor status messages", () => {
  it.each([
    ["?password= (accepted; the server is unreachable)", `mysql://mon@127.0.0.1:1/?password=${SECRET}`],
    ["?Password= (an unknown parameter)", `mysql://mon@127.0.0.1:1/?Password=${SECRET}`],
    ["?sslkey=", `mysql://mon@127.0.0.1:1/?ssl=true&sslkey=${SECRET}`],
    ["&token= after a known parameter", `mysql://mon@127.0.0.1:1/?charset=utf8&token=${SECRET}`],
    ["a bare secret as the query", `mysql://mon@127.0.0.1:1/?${SECRET}`],
    ["an unparsable URL", `mysql://mon:${SECRET}@:99999/?pwd=${SECRET}`],
    ["userinfo and query", `mysql://mon:${SECRET}@127.0.0.1:1/?passwd=${SECRET}`],
  ])("%s", async (_, url) => {
    const monitor = new DatabaseMonitor([{ name: "db", url }], { windowMs: 60_000, now: Date.now });
    await monitor.poll("db");
    const status = monitor.status("db");
    expect(status?.ok).toBe(false);
    const text = JSON.stringify(status);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("hunter2");
  });
});
