import { describe, expect, it } from "vitest";
import type { ProbeResult } from "../../src/mysql/probe.js";
import { ConfigError, loadConfig } from "../../src/runtime/config.js";
import { databaseSnapshotFromProbe } from "../../src/runtime/database-monitor.js";

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
});
