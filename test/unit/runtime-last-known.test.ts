// Last known limits (issue 14): what a process that cannot get into a full server plans its decreases from.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_POLICY, plan } from "../../src/core/index.js";
import { LastKnownFile, lastKnownSnapshot } from "../../src/runtime/last-known.js";

const at = Date.UTC(2026, 0, 1);
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("lastKnownSnapshot", () => {
  it("plans against the lowest budget recorded for the database, with the lowest max_connections", () => {
    const known = lastKnownSnapshot("main", [
      { database: "main", maxConnections: 40, usable: 30, at, from: "a" },
      { database: "main", maxConnections: 20, usable: 17, at, from: "b" },
      { database: "other", maxConnections: 5, usable: 1, at, from: "c" },
      undefined,
    ]);
    expect(known?.limits).toMatchObject({ maxConnections: 20, usable: 17, from: "b" });
    // The planner's usable comes out as the recorded 17 whatever reserve the configuration says now:
    // 3 pods x 4 workers = 12 processes; 12 x 2 = 24 > 17, so 1 per process (peak 12).
    const p = plan(
      {
        databases: [known?.snapshot ?? { name: "main", maxConnections: 0 }],
        workloads: [
          {
            id: "kube:shop/Deployment/web",
            kind: "Deployment",
            database: "main",
            replicas: 2,
            rollout: { type: "RollingUpdate" },
            workers: 4,
            current: { poolSize: 2, maxOverflow: 3 },
          },
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.databases[0]).toMatchObject({ limit: 20, usable: 17 });
    expect(p.workloads[0]?.recommended).toMatchObject({ cap: 1, peak: 12 });
  });

  it("nothing recorded for this database: nothing to plan from", () => {
    expect(lastKnownSnapshot("main", [undefined])).toBeUndefined();
    expect(lastKnownSnapshot("main", [{ database: "x", maxConnections: 9, usable: 5, at, from: "x" }])).toBeUndefined();
  });
});

describe("LastKnownFile", () => {
  it("keeps the limits across processes, writes only when they change, and shrugs off a broken file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pooltuner-lastknown-"));
    dirs.push(dir);
    const path = join(dir, ".pooltuner", "last-limits.json");
    await new LastKnownFile(path).remember({ database: "main", maxConnections: 20, usable: 17, at });
    const written = await readFile(path, "utf8");
    expect(JSON.parse(written)).toEqual({
      v: 1,
      databases: { main: { maxConnections: 20, usable: 17, at: "2026-01-01T00:00:00.000Z" } },
    });

    // A fresh process (a new instance) reads what the earlier one kept.
    const fresh = new LastKnownFile(path);
    expect(await fresh.read("main")).toEqual({
      database: "main",
      maxConnections: 20,
      usable: 17,
      at,
      from: `file ${path}`,
    });
    expect(await fresh.read("other")).toBeUndefined();

    // Same numbers later: no write (the file is byte-for-byte the same, its time included).
    await fresh.remember({ database: "main", maxConnections: 20, usable: 17, at: at + 60_000 });
    expect(await readFile(path, "utf8")).toBe(written);

    await writeFile(path, "{not json");
    expect(await new LastKnownFile(path).read("main")).toBeUndefined();
  });
});
