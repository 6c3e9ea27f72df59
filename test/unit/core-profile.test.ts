// src/core/profile.ts: how a cap becomes env values and words, for both shapes of a profile.
import { describe, expect, it } from "vitest";
import {
  type CapWriting,
  changeText,
  DEFAULT_POLICY,
  envText,
  envValues,
  plan,
  type SizingRow,
  settingsText,
  splitFor,
  tableCap,
} from "../../src/core/index.js";

const pair: CapWriting = { kind: "pool-overflow", profile: "sqlalchemy", poolSizeEnv: "P", maxOverflowEnv: "O" };
const single: CapWriting = {
  kind: "single",
  profile: "hikari",
  env: "MAX",
  assumed: 10,
  atMost: [{ name: "IDLE", current: 4 }, { name: "UNSET" }],
};
const row: SizingRow = { name: "r", cpuMillis: 1000, memoryBytes: 1, workers: 4, poolSize: 1, maxOverflow: 2 };

describe("profile shapes", () => {
  it("splits a cap by the row's ratio for the pair, keeps it whole for one number", () => {
    expect(splitFor(pair, 6, row)).toEqual({ poolSize: 2, maxOverflow: 4 });
    expect(splitFor(single, 6, row)).toEqual({ poolSize: 6, maxOverflow: 0 });
  });

  it("writes the pair under its two names; one number once, lowering only atMost values set above it", () => {
    expect(envValues(pair, { poolSize: 2, maxOverflow: 4 })).toEqual([
      { name: "P", value: "2" },
      { name: "O", value: "4" },
    ]);
    expect(envValues(single, { poolSize: 6, maxOverflow: 0 })).toEqual([{ name: "MAX", value: "6" }]);
    expect(envValues(single, { poolSize: 4, maxOverflow: 0 })).toEqual([{ name: "MAX", value: "4" }]);
    expect(envValues(single, { poolSize: 3, maxOverflow: 0 })).toEqual([
      { name: "MAX", value: "3" },
      { name: "IDLE", value: "3" },
    ]);
    expect(envText(envValues(pair, { poolSize: 1, maxOverflow: 2 }))).toBe("P=1 O=2");
  });

  it("reads the table's cap per process, or per container (workers x cap) when the profile says so", () => {
    expect(tableCap(pair, row)).toBe(3);
    expect(tableCap(single, row)).toBe(3);
    expect(tableCap({ ...single, tableCap: "container" }, row)).toBe(12);
    expect(tableCap({ ...single, tableCap: "process" }, row)).toBe(3);
  });

  it("says settings and changes in the profile's words", () => {
    expect(settingsText(pair, { poolSize: 1, maxOverflow: 2 })).toBe("1+2");
    expect(settingsText(single, { poolSize: 6, maxOverflow: 0 })).toBe("MAX=6");
    expect(changeText(pair, { poolSize: 2, maxOverflow: 3 }, { poolSize: 1, maxOverflow: 1 })).toBe(
      "pool_size+max_overflow 2+3 -> 1+1",
    );
    expect(changeText(single, { poolSize: 20, maxOverflow: 0 }, { poolSize: 6, maxOverflow: 0 })).toBe("MAX 20 -> 6");
  });

  it("a single number of 0 or less is taken as unbounded, its overflow ignored, with the profile's words", () => {
    const w = (current: { poolSize: number; maxOverflow?: number }) => ({
      id: "w",
      kind: "Deployment" as const,
      database: "db",
      replicas: 1,
      rollout: { type: "Recreate" as const },
      workers: 2,
      writes: single,
      current,
    });
    const p = plan(
      { databases: [{ name: "db", maxConnections: 100, unmanaged: 0 }], workloads: [w({ poolSize: 0 })] },
      DEFAULT_POLICY,
    );
    expect(p.workloads[0]?.current).toEqual({
      settings: { poolSize: 0, maxOverflow: 0 },
      assumed: false,
      unbounded: true,
      peak: null,
    });
    expect(p.findings.find((f) => f.kind === "unbounded-current")?.message).toBe(
      "w: MAX=0 is taken as unbounded (a cap of 0 or less may let each process open any number of connections)",
    );
    // A stray overflow value does not count for a one-number profile: 2 processes x 5.
    const q = plan(
      {
        databases: [{ name: "db", maxConnections: 100, unmanaged: 0 }],
        workloads: [w({ poolSize: 5, maxOverflow: 7 })],
      },
      DEFAULT_POLICY,
    );
    expect(q.workloads[0]?.current.peak).toBe(10);
    expect(q.workloads[0]?.current.assumed).toBe(false);
  });

  it("words the surge advice in the profile's terms", () => {
    // 1 replica + 1 surge pod x 2 workers = 4 processes on usable 10 - 2 = 8: cap 2; without the surge 2 processes: 3.
    const p = plan(
      {
        databases: [{ name: "db", maxConnections: 10, unmanaged: 0 }],
        workloads: [
          {
            id: "w",
            kind: "Deployment",
            database: "db",
            replicas: 1,
            rollout: { type: "RollingUpdate", maxSurge: { kind: "int", value: 1 } },
            workers: 2,
            writes: { kind: "single", profile: "rails", env: "RAILS_MAX_THREADS", assumed: 5 },
            current: { poolSize: 5 },
          },
        ],
      },
      DEFAULT_POLICY,
    );
    expect(p.workloads[0]?.recommended?.env).toEqual([{ name: "RAILS_MAX_THREADS", value: "2" }]);
    expect(p.findings.find((f) => f.kind === "surge-cost")?.message).toContain(
      "each process would get RAILS_MAX_THREADS=3 instead of RAILS_MAX_THREADS=2",
    );
  });
});
