import { describe, expect, it } from "vitest";
import type { ProbeResult } from "../../src/mysql/probe.js";
import { databaseSnapshotFromProbe } from "../../src/mysql/snapshot.js";
import { ConfigError, loadConfig } from "../../src/runtime/config.js";

describe("daemon config", () => {
  it("resolves URLs from the file, an env var or a file path, and builds the sizing table", async () => {
    const text = `
databases:
  - name: lineage
    url: mysql://monitor:s3cret@db:3306/
    reserve: { absolute: 4 }
  - name: shop
    urlEnv: SHOP_URL
  - name: billing
    urlFile: /secrets/billing
sizingTable:
  - { name: tiny, cpu: 500m, memory: 512Mi, workers: 1, poolSize: 1, maxOverflow: 1 }
`;
    const cfg = await loadConfig(
      text,
      "config.yaml",
      { SHOP_URL: "mysql://u:p@shop/" },
      async () => "mysql://b:q@billing/\n",
    );
    expect(cfg.databases.map((d) => [d.name, d.url])).toEqual([
      ["lineage", "mysql://monitor:s3cret@db:3306/"],
      ["shop", "mysql://u:p@shop/"],
      ["billing", "mysql://b:q@billing/"],
    ]);
    expect(cfg.databases[0]?.reserve).toEqual({ absolute: 4, percent: 0 });
    expect(cfg.policy.sizingTable).toEqual([
      { name: "tiny", cpuMillis: 500, memoryBytes: 512 * 1024 ** 2, workers: 1, poolSize: 1, maxOverflow: 1 },
    ]);
  });

  it("reads the global pause: true pauses, absent or false does not, anything else is refused", async () => {
    const doc = (extra: string) => `databases:\n  - name: a\n    url: mysql://m:p@h/\n${extra}`;
    expect((await loadConfig(doc("paused: true\n"), "c.yaml", {})).paused).toBe(true);
    expect((await loadConfig(doc("paused: false\n"), "c.yaml", {})).paused).toBeUndefined();
    expect((await loadConfig(doc(""), "c.yaml", {})).paused).toBeUndefined();
    await expect(loadConfig(doc('paused: "yes"\n'), "c.yaml", {})).rejects.toThrow(/^c\.yaml: paused: /);
  });

  it("names the field of a bad document and never echoes a URL", async () => {
    const bad = "databases:\n  - name: x\n    url: mysql://u:topsecret@h/\n    urlEnv: Y\n";
    const err = await loadConfig(bad, "cfg.yaml", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err)).toContain("cfg.yaml: databases.0: set exactly one of url, urlFile, urlEnv");
    expect(String(err)).not.toContain("topsecret");
    await expect(loadConfig("databases:\n  - name: x\n    urlEnv: NOPE\n", "c", {})).rejects.toThrow(
      "c: database x: env var NOPE is not set",
    );
  });
});

const probe = (over: Partial<ProbeResult> = {}): ProbeResult => ({
  target: "monitor@db:3306",
  version: "10.11",
  account: { user: "monitor", host: "%" },
  maxConnections: 100,
  maxUserConnections: 0,
  threadsConnected: 12,
  maxUsedConnections: 20,
  connectionErrorsMaxConnections: 0,
  abortedConnects: 0,
  visibility: "processlist",
  connectionsByUser: { app: 8, cron: 3 },
  accountLimits: [
    { user: "app", host: "%", maxUserConnections: 30 },
    { user: "app", host: "10.%", maxUserConnections: 20 },
  ],
  accountLimitsReadable: true,
  warnings: [],
  ...over,
});

describe("databaseSnapshotFromProbe", () => {
  it("counts users no managed workload uses as other clients, at their highest in the window", () => {
    const samples = [
      { at: 1_000, byUser: { app: 2, cron: 9 } },
      { at: 5_000, byUser: { app: 8, cron: 3 } },
    ];
    const s = databaseSnapshotFromProbe({ name: "db" }, probe(), new Set(["app"]), samples, 6_000, 10_000);
    expect(s).toEqual({
      name: "db",
      maxConnections: 100,
      maxUserConnections: 0,
      unmanaged: 9,
      unattributed: [9],
      accounts: { app: { maxUserConnections: 20 } },
    });
    // Out of the window, the dip shows.
    expect(
      databaseSnapshotFromProbe({ name: "db" }, probe(), new Set(["app"]), samples, 12_000, 10_000).unmanaged,
    ).toBe(3);
  });

  it("leaves other clients unknown without PROCESS, so the planner assumes and warns", () => {
    const s = databaseSnapshotFromProbe({ name: "db" }, probe({ visibility: "own-account-only" }), new Set(["app"]));
    expect(s.unmanaged).toBeUndefined();
  });

  it("reads restart limits, change windows and their time zone; a bad window or zone is one clear line", async () => {
    const doc = (extra: string) =>
      `databases:\n  - name: a\n    url: mysql://m:p@h/\n  - name: b\n    url: mysql://m:p@h/\n    changeWindows: ["Sun 01:00-02:00 UTC"]\n${extra}`;
    const cfg = await loadConfig(
      doc(
        'maxConcurrentRestarts: 2\nmaxRestartsPerHour: 6\nchangeWindows: ["Sat 02:00-04:00"]\ntimeZone: Europe/Berlin\n',
      ),
      "c.yaml",
      {},
    );
    expect(cfg.restarts).toEqual({ maxConcurrent: 2, maxPerHour: 6 });
    expect(cfg.databases[0]?.changeWindows).toEqual([
      { text: "Sat 02:00-04:00", days: [6], start: 120, length: 120, timeZone: "Europe/Berlin" },
    ]);
    // A database's own list replaces the global one.
    expect(cfg.databases[1]?.changeWindows?.map((w) => [w.text, w.timeZone])).toEqual([["Sun 01:00-02:00 UTC", "UTC"]]);
    expect((await loadConfig(doc(""), "c.yaml", {})).restarts).toBeUndefined();
    await expect(loadConfig(doc('changeWindows: ["Sat 2-4"]\n'), "c.yaml", {})).rejects.toThrow(
      /^c\.yaml: changeWindows: change window "Sat 2-4": "2-4" is not HH:MM-HH:MM/,
    );
    await expect(loadConfig(doc("timeZone: Mars/Base\n"), "c.yaml", {})).rejects.toThrow(
      'c.yaml: timeZone: "Mars/Base" is not an IANA time zone',
    );
    await expect(loadConfig(doc("maxConcurrentRestarts: 0\n"), "c.yaml", {})).rejects.toThrow(ConfigError);
  });

  it("reads webhooks: the URL from a file, an env var or inline; errors name the key, never the URL", async () => {
    const doc = (hooks: string) =>
      `databases:\n  - name: a\n    url: mysql://m:p@h/\nnotifications:\n  webhooks:\n${hooks}`;
    const cfg = await loadConfig(
      doc(
        "    - { name: slack, urlEnv: SLACK_URL, format: slack, events: [Applied, Infeasible] }\n" +
          "    - { name: generic, urlFile: /secrets/hook }\n",
      ),
      "c.yaml",
      { SLACK_URL: "https://hooks.slack.example/services/T0/B0/secret" },
      async () => "http://receiver:8080/secret-path\n",
    );
    expect(cfg.webhooks).toEqual([
      {
        name: "slack",
        url: "https://hooks.slack.example/services/T0/B0/secret",
        format: "slack",
        events: ["Applied", "Infeasible"],
      },
      { name: "generic", url: "http://receiver:8080/secret-path", format: "generic" },
    ]);
    await expect(loadConfig(doc("    - { name: x, url: ftp://secret-host/x }\n"), "c.yaml", {})).rejects.toThrow(
      "c.yaml: webhook x: the URL must start with http:// or https://",
    );
    const err = await loadConfig(
      doc("    - { name: x, url: https://h/secret-token, format: email }\n"),
      "c.yaml",
      {},
    ).catch((e: Error) => e.message);
    expect(err).toMatch(/format/);
    expect(err).not.toContain("secret-token");
    await expect(
      loadConfig(doc("    - { name: x, url: https://h/a, events: [Rebooted] }\n"), "c.yaml", {}),
    ).rejects.toThrow(/events/);
  });
});
