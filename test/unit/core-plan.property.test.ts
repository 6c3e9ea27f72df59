// The invariant of DESIGN §3, held over random snapshots:
// for every feasible plan, Σ peak ≤ usable for every server and Σ over an account ≤ its limit,
// each process gets ≥ 1, and no two runs on the same Snapshot differ.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DatabaseSnapshot,
  DEFAULT_POLICY,
  type IntOrPercent,
  type Plan,
  type Policy,
  plan,
  type Rollout,
  type Snapshot,
  type WorkloadSnapshot,
} from "../../src/core/index.js";

const DB_NAMES = ["alpha", "beta", "gamma", "delta"];
const ACCOUNTS = ["app", "batch", "web"];

const intOrPercent: fc.Arbitrary<IntOrPercent> = fc.oneof(
  fc.record({ kind: fc.constant("int" as const), value: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant("percent" as const), value: fc.integer({ min: 0, max: 100 }) }),
);

const rollout: fc.Arbitrary<Rollout> = fc.oneof(
  fc
    .record({
      type: fc.constant("RollingUpdate" as const),
      maxSurge: intOrPercent,
      maxUnavailable: intOrPercent,
      oldPodsLinger: fc.boolean(),
    })
    // Kubernetes rejects both 0: no pod could ever be replaced.
    .filter((r) => r.maxSurge.value > 0 || r.maxUnavailable.value > 0),
  fc.constant({ type: "Recreate" as const }),
  fc.constant({ type: "Ordered" as const }),
  fc.constant({ type: "StopFirst" as const }),
  fc.constant({ type: "StartFirst" as const }),
);

const database = (name: string): fc.Arbitrary<DatabaseSnapshot> =>
  fc.record(
    {
      name: fc.constant(name),
      maxConnections: fc.integer({ min: 0, max: 600 }),
      maxUserConnections: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 120 })),
      unmanaged: fc.integer({ min: 0, max: 60 }),
      accounts: fc.dictionary(
        fc.constantFrom(...ACCOUNTS),
        fc.record(
          {
            maxUserConnections: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 150 })),
            unmanaged: fc.integer({ min: 0, max: 10 }),
          },
          { requiredKeys: ["maxUserConnections"] },
        ),
      ),
      reserve: fc.record({ absolute: fc.integer({ min: 0, max: 10 }), percent: fc.integer({ min: 0, max: 30 }) }),
    },
    { requiredKeys: ["name", "maxConnections"] },
  );

const workload = (i: number): fc.Arbitrary<WorkloadSnapshot> =>
  fc.record(
    {
      id: fc.constant(`w${String(i).padStart(3, "0")}`),
      kind: fc.constantFrom("Deployment" as const, "StatefulSet" as const, "ComposeService" as const),
      database: fc.constantFrom(...DB_NAMES),
      account: fc.constantFrom(...ACCOUNTS),
      replicas: fc.integer({ min: 0, max: 12 }),
      hpa: fc.record({ minReplicas: fc.integer({ min: 1, max: 3 }), maxReplicas: fc.integer({ min: 0, max: 20 }) }),
      rollout,
      terminatingPods: fc.integer({ min: 0, max: 3 }),
      workers: fc.integer({ min: 1, max: 12 }),
      resources: fc.record(
        { cpuMillis: fc.integer({ min: 100, max: 16000 }), memoryBytes: fc.integer({ min: 2 ** 26, max: 2 ** 34 }) },
        { requiredKeys: [] },
      ),
      weight: fc.double({ min: 0.25, max: 8, noNaN: true }),
      current: fc.record(
        { poolSize: fc.integer({ min: -1, max: 10 }), maxOverflow: fc.integer({ min: -2, max: 10 }) },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ["id", "kind", "database", "replicas", "rollout", "workers"] },
  );

const snapshot: fc.Arbitrary<Snapshot> = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 40 }))
  .chain(([nDb, nW]) =>
    fc.record({
      databases: fc.tuple(...DB_NAMES.slice(0, nDb).map(database)),
      workloads: nW === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: nW }, (_, i) => workload(i))),
    }),
  );

/** Bounds recomputed independently of the planner, from the inputs alone. */
function accountCapacity(db: DatabaseSnapshot, account: string): number | undefined {
  const own = db.accounts?.[account]?.maxUserConnections ?? 0;
  const limit = own > 0 ? own : (db.maxUserConnections ?? 0);
  return limit > 0 ? limit - (db.accounts?.[account]?.unmanaged ?? 0) : undefined;
}

function checkInvariant(s: Snapshot, p: Plan): void {
  for (const d of p.databases) {
    const db = s.databases.find((x) => x.name === d.name) as DatabaseSnapshot;
    expect(d.usable).toBeLessThanOrEqual(db.maxConnections - (db.unmanaged ?? 0)); // never plans into the +1 slot
    if (!d.feasible) continue;
    const mine = p.workloads.filter((w) => w.database === d.name);
    let total = 0;
    const perAccount = new Map<string, number>();
    for (const w of mine) {
      const r = w.recommended;
      expect(r, `${w.id} has a recommendation`).toBeDefined();
      if (!r) continue;
      expect(r.poolSize).toBeGreaterThanOrEqual(1);
      expect(r.maxOverflow).toBeGreaterThanOrEqual(0);
      expect(r.cap).toBe(r.poolSize + r.maxOverflow);
      expect(r.cap).toBeGreaterThanOrEqual(1);
      expect(r.peak).toBe((w.processes ?? 0) * r.cap);
      total += r.peak;
      if (w.account) perAccount.set(w.account, (perAccount.get(w.account) ?? 0) + r.peak);
    }
    expect(total).toBeLessThanOrEqual(d.usable);
    expect(total).toBe(d.allocated);
    for (const [account, sum] of perAccount) {
      const cap = accountCapacity(db, account);
      if (cap !== undefined) expect(sum).toBeLessThanOrEqual(cap);
    }
  }
}

const policy: Policy = DEFAULT_POLICY;
const runs = { numRuns: 400 };

describe("plan invariant (property)", () => {
  it("feasible plans fit every server and account bound, with >= 1 connection per process", () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        checkInvariant(s, plan(s, policy));
      }),
      runs,
    );
  });

  it("is deterministic and independent of input order", () => {
    fc.assert(
      fc.property(snapshot, fc.infiniteStream(fc.nat()), (s, rnd) => {
        const shuffle = <T>(xs: readonly T[]): T[] =>
          xs
            .map((x) => ({ x, k: rnd.next().value }))
            .sort((a, b) => a.k - b.k)
            .map((e) => e.x);
        const a = plan(s, policy);
        const b = plan({ databases: shuffle(s.databases), workloads: shuffle(s.workloads) }, policy);
        expect(b).toEqual(a);
        expect(plan(s, policy)).toEqual(a);
      }),
      runs,
    );
  });

  it("a database is infeasible exactly when 1 connection per process does not fit one of its bounds", () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        const p = plan(s, policy);
        for (const d of p.databases) {
          const db = s.databases.find((x) => x.name === d.name) as DatabaseSnapshot;
          const mine = p.workloads.filter((w) => w.database === d.name);
          const bounds: { capacity: number; members: typeof mine }[] = [{ capacity: d.usable, members: mine }];
          for (const a of new Set(mine.map((w) => w.account ?? ""))) {
            const cap = a ? accountCapacity(db, a) : undefined;
            if (cap !== undefined) bounds.push({ capacity: cap, members: mine.filter((w) => w.account === a) });
          }
          // A workload without an account is bounded on its own by the global max_user_connections.
          for (const w of mine.filter((x) => x.account === undefined && (db.maxUserConnections ?? 0) > 0))
            bounds.push({ capacity: db.maxUserConnections as number, members: [w] });
          const overflows = bounds.some((b) => b.members.reduce((n, w) => n + (w.processes ?? 0), 0) > b.capacity);
          expect(d.feasible).toBe(!overflows);
          if (!d.feasible) {
            expect(mine.every((w) => w.recommended === undefined)).toBe(true);
            const f = p.findings.filter((x) => x.kind === "infeasible" && x.database === d.name);
            expect(f.length).toBeGreaterThan(0);
            for (const x of f) if (x.kind === "infeasible") expect(x.missing).toBe(x.needed - x.available);
          }
        }
      }),
      runs,
    );
  });

  it("wastes no budget: a workload below its table cap could not get one more per process", () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        const p = plan(s, policy);
        for (const d of p.databases.filter((x) => x.feasible)) {
          const db = s.databases.find((x) => x.name === d.name) as DatabaseSnapshot;
          const mine = p.workloads.filter((w) => w.database === d.name);
          for (const w of mine) {
            const r = w.recommended;
            if (!r || r.cap >= w.desiredCap || w.processes === 0) continue;
            const serverRoom = d.usable - d.allocated;
            const global = db.maxUserConnections ?? 0;
            const cap = w.account ? accountCapacity(db, w.account) : global > 0 ? global : undefined;
            const acctUsed = mine
              .filter((x) => (w.account === undefined ? x.id === w.id : x.account === w.account))
              .reduce((n, x) => n + (x.recommended?.peak ?? 0), 0);
            const acctRoom = cap === undefined ? Number.POSITIVE_INFINITY : cap - acctUsed;
            expect(Math.min(serverRoom, acctRoom)).toBeLessThan(w.processes ?? 0);
          }
          // Caps never exceed what the sizing table asks for.
          for (const w of mine) expect(w.recommended?.cap ?? 0).toBeLessThanOrEqual(w.desiredCap);
        }
      }),
      runs,
    );
  });

  it("applying a plan and planning again changes nothing (zero writes when nothing changed)", () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        const first = plan(s, policy);
        const applied: Snapshot = {
          ...s,
          workloads: s.workloads.map((w) => {
            const r = first.workloads.find((x) => x.id === w.id)?.recommended;
            return r ? { ...w, current: { poolSize: r.poolSize, maxOverflow: r.maxOverflow } } : w;
          }),
        };
        const second = plan(applied, policy);
        for (const w of second.workloads) {
          if (first.workloads.find((x) => x.id === w.id)?.recommended) expect(w.change).toBe("none");
        }
        // Once applied, the current settings are themselves safe wherever the plan was feasible.
        for (const d of second.databases) if (d.feasible && d.workloads.length > 0) expect(d.currentSafe).toBe(true);
      }),
      runs,
    );
  });

  it("surge advice agrees with planning the snapshot again with maxSurge 0, maxUnavailable 1 for that workload", () => {
    fc.assert(
      fc.property(snapshot, (s) => {
        const p = plan(s, policy);
        for (const w of p.workloads) {
          const replanned = plan(
            {
              ...s,
              workloads: s.workloads.map((x) =>
                x.id === w.id && x.rollout.type === "RollingUpdate"
                  ? {
                      ...x,
                      rollout: {
                        ...x.rollout, // the same pods: lingering old pods stay lingering
                        type: "RollingUpdate" as const,
                        maxSurge: { kind: "int" as const, value: 0 },
                        maxUnavailable: { kind: "int" as const, value: 1 },
                      },
                    }
                  : x,
              ),
            },
            policy,
          );
          const alt = replanned.workloads.find((x) => x.id === w.id)?.recommended;
          const advised = p.findings.some((f) => f.kind === "surge-cost" && f.workload === w.id);
          expect(advised).toBe(w.surgeCost !== undefined);
          if (w.surgeCost) {
            // Said only when the other strategy really gives each process more, and then exactly what it gives.
            expect(alt?.cap).toBe(w.surgeCost.withoutSurge.cap);
            expect(w.surgeCost.withoutSurge.cap).toBeGreaterThan(w.recommended?.cap ?? Number.POSITIVE_INFINITY);
            // The worker lever: exactly what a replan with that many workers per pod gives, and no larger count
            // below today's would raise the cap.
            const withWorkers = (n: number) =>
              plan(
                { ...s, workloads: s.workloads.map((x) => (x.id === w.id ? { ...x, workers: n } : x)) },
                policy,
              ).workloads.find((x) => x.id === w.id)?.recommended?.cap ?? 0;
            const f = w.surgeCost.fewerWorkers;
            const top = (w.workers as number) - 1;
            for (let n = top; n > (f?.workers ?? 0); n--)
              expect(withWorkers(n)).toBeLessThanOrEqual(w.recommended?.cap ?? 0);
            if (f) expect(withWorkers(f.workers)).toBe(f.recommended.cap);
            expect(w.surgeCost.connections).toBe(
              (w.podsPeak - (replanned.workloads.find((x) => x.id === w.id)?.podsPeak ?? 0)) *
                (w.workers as number) *
                (w.recommended?.cap ?? 0),
            );
          } else if (w.recommended && alt && s.workloads.find((x) => x.id === w.id)?.rollout.type === "RollingUpdate") {
            // Nothing said: the surge costs this workload nothing.
            expect(alt.cap).toBeLessThanOrEqual(w.recommended.cap);
          }
        }
      }),
      runs,
    );
  });

  it("lowering max_connections at runtime keeps the invariant and never raises the budget beyond rounding", () => {
    fc.assert(
      fc.property(snapshot, fc.integer({ min: 0, max: 600 }), (s, drop) => {
        const lowered: Snapshot = {
          ...s,
          databases: s.databases.map((d) => ({ ...d, maxConnections: Math.max(0, d.maxConnections - drop) })),
        };
        const before = plan(s, policy);
        const after = plan(lowered, policy);
        checkInvariant(lowered, after);
        for (const d of after.databases) {
          const b = before.databases.find((x) => x.name === d.name);
          // Reserve and assumed other clients are percentages rounded up: each can drop by one more than the
          // limit's share, so usable may rise by at most 2 (seen: 541 -> 540 raised it from 458 to 459).
          expect(d.usable).toBeLessThanOrEqual((b?.usable ?? Number.POSITIVE_INFINITY) + 2);
        }
      }),
      runs,
    );
  });
});
