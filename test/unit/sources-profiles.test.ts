// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are shell `${VAR}` syntax, on purpose
// Application profiles: how each one counts processes (from env and command) and which env values it writes.
// Expectations are worked out by hand from the profile's rule and the seed table (small row: 2 workers, 1+2).
import { describe, expect, it } from "vitest";
import { type DatabaseSnapshot, DEFAULT_POLICY, plan } from "../../src/core/index.js";
import { ConfigError, loadConfig } from "../../src/runtime/config.js";
import { parseWorkloadOptions } from "../../src/sources/annotations.js";
import { readKubeWorkload } from "../../src/sources/manifests.js";
import type { EnvValue } from "../../src/sources/workers.js";
import { type BuiltWorkload, buildWorkload } from "../../src/sources/workload.js";

const OBJ = "Deployment shop/app";

function build(
  annotations: Record<string, string>,
  env: Record<string, string>,
  command: string[] = [],
  extra: { unreadable?: string[]; profiles?: Parameters<typeof buildWorkload>[0]["profiles"] } = {},
): BuiltWorkload {
  const parsed = parseWorkloadOptions({ "pooltuner.io/enabled": "true", ...prefixed(annotations) }, "kubernetes", OBJ);
  expect(parsed.errors).toEqual([]);
  const view = new Map<string, EnvValue>(Object.entries(env).map(([k, v]) => [k, { kind: "value", value: v }]));
  for (const name of extra.unreadable ?? []) view.set(name, { kind: "unreadable", from: "secretKeyRef app/db" });
  return buildWorkload({
    id: "kube:shop/Deployment/app",
    kind: "Deployment",
    object: OBJ,
    prefix: "pooltuner.io/",
    options: parsed.options,
    instances: [{ env: view, command }],
    replicas: 2,
    rollout: { type: "Recreate" },
    ...(extra.profiles ? { profiles: extra.profiles } : {}),
  });
}

const prefixed = (m: Record<string, string>) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [`pooltuner.io/${k}`, v]));

/** A database with room to spare: everyone gets the table's cap. */
const roomy: DatabaseSnapshot = { name: "db", maxConnections: 1000, unmanaged: 0 };

/** Plans the built workload alone against `db`; returns its recommendation. */
function recommend(b: BuiltWorkload, db: DatabaseSnapshot = roomy) {
  const p = plan({ databases: [db], workloads: [{ ...b.workload, database: db.name }] }, DEFAULT_POLICY);
  return { w: p.workloads[0], p };
}

const messages = (b: BuiltWorkload) => b.errors.map((e) => `${e.field}: ${e.message}`);

describe("profile sqlalchemy (the default)", () => {
  it("is today's behaviour: Gunicorn workers, pool_size + max_overflow under the pool env names", () => {
    const b = build({}, { GUNICORN_WORKERS: "4", DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "3" });
    expect(b.profile.name).toBe("sqlalchemy");
    expect(b.workload.workers).toBe(4);
    expect(b.workload.current).toEqual({ poolSize: 2, maxOverflow: 3 });
    // 2 pods x 4 workers = 8 processes; small row 1+2.
    const { w } = recommend(b);
    expect(w?.recommended?.env).toEqual([
      { name: "DB_POOL_SIZE", value: "1" },
      { name: "DB_MAX_OVERFLOW", value: "2" },
    ]);
    expect(w?.recommended?.peak).toBe(8 * 3);
  });
});

describe("profile django", () => {
  it("counts Gunicorn workers and takes the cap from --threads $VAR, which it writes", () => {
    const b = build({ profile: "django" }, { APP_THREADS: "8" }, [
      "gunicorn",
      "--workers",
      "3",
      "--threads",
      "$APP_THREADS",
      "site.wsgi",
    ]);
    expect(b.errors).toEqual([]);
    expect(b.workload.workers).toBe(3);
    expect(b.workload.current).toEqual({ poolSize: 8, maxOverflow: 0 });
    // Current peak: 2 pods x 3 workers x 8 threads = 48. The small row's cap 3 is 3 threads per worker.
    const { w } = recommend(b);
    expect(w?.current.peak).toBe(48);
    expect(w?.recommended?.env).toEqual([{ name: "APP_THREADS", value: "3" }]);
    expect(w?.recommended?.peak).toBe(2 * 3 * 3);
    expect(w?.change).toBe("decrease");
  });

  it("reads GUNICORN_THREADS (or cap-env) when no --threads is given, and a ${VAR:-N} default", () => {
    const plain = build({ profile: "django" }, { GUNICORN_THREADS: "4", WEB_CONCURRENCY: "2" }, ["gunicorn", "a:b"]);
    expect(plain.errors).toEqual([]);
    expect(plain.workload.current).toEqual({ poolSize: 4, maxOverflow: 0 });
    expect(plain.workload.writes).toMatchObject({ kind: "single", env: "GUNICORN_THREADS" });
    const named = build({ profile: "django", "cap-env": "THREADS" }, { THREADS: "6", WEB_CONCURRENCY: "2" });
    expect(named.workload.current?.poolSize).toBe(6);
    expect(named.workload.writes).toMatchObject({ env: "THREADS" });
    const defaulted = build({ profile: "django" }, {}, ["gunicorn", "-w", "2", "--threads=${T:-5}", "a:b"]);
    expect(defaulted.workload.current?.poolSize).toBe(5);
    expect(defaulted.workload.writes).toMatchObject({ env: "T" });
  });

  it("refuses to write threads fixed in the command or GUNICORN_CMD_ARGS, but still counts them", () => {
    const fixed = build({ profile: "django" }, {}, ["gunicorn", "-w", "2", "--threads", "4", "a:b"]);
    expect(fixed.workload.workers).toBe(2);
    expect(fixed.workload.current?.poolSize).toBe(4);
    expect(messages(fixed).join("\n")).toMatch(/threads are fixed in the command, so they are not pooltuner's to set/);
    const cmdArgs = build({ profile: "django" }, { GUNICORN_CMD_ARGS: "--workers 2 --threads 3" });
    expect(cmdArgs.workload.workers).toBe(2);
    expect(cmdArgs.workload.current?.poolSize).toBe(3);
    expect(messages(cmdArgs).join("\n")).toMatch(/fixed in GUNICORN_CMD_ARGS/);
  });

  it("does not plan a workload whose threads cannot be seen", () => {
    const b = build({ profile: "django" }, { WEB_CONCURRENCY: "2" }, ["gunicorn", "a:b"]);
    expect(b.workload.workers).toBe("unknown");
    expect(messages(b).join("\n")).toMatch(/threads per worker unknown.*GUNICORN_THREADS is not set/);
  });
});

describe("profile hikari", () => {
  it("counts one JVM per pod and writes maximumPoolSize; the table's cap is per container", () => {
    const b = build(
      { profile: "hikari" },
      { SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: "20", SPRING_DATASOURCE_HIKARI_MINIMUMIDLE: "15" },
      ["java", "-jar", "app.jar"],
    );
    expect(b.errors).toEqual([]);
    expect(b.workload.workers).toBe(1);
    expect(b.workload.current).toEqual({ poolSize: 20, maxOverflow: 0 });
    // Small row: 2 workers x (1+2) = 6 per container. minimumIdle 15 > 6 comes down with it.
    const { w } = recommend(b);
    expect(w?.desiredCap).toBe(6);
    expect(w?.current.peak).toBe(2 * 20);
    expect(w?.recommended?.env).toEqual([
      { name: "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE", value: "6" },
      { name: "SPRING_DATASOURCE_HIKARI_MINIMUMIDLE", value: "6" },
    ]);
  });

  it("leaves a lower or unset minimumIdle alone, and assumes Hikari's default 10 when unset", () => {
    const low = build(
      { profile: "hikari" },
      { SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: "20", SPRING_DATASOURCE_HIKARI_MINIMUMIDLE: "2" },
    );
    expect(recommend(low).w?.recommended?.env).toEqual([
      { name: "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE", value: "6" },
    ]);
    const unset = build({ profile: "hikari" }, {});
    const { w, p } = recommend(unset);
    expect(w?.current).toMatchObject({ assumed: true, peak: 2 * 10 });
    expect(p.findings.map((f) => f.message)).toContain(
      "kube:shop/Deployment/app: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE not set; assuming 10 per process (the hikari profile's default)",
    );
  });

  it("shrinks the JVM's pool on a tight server: 2 pods on usable 10 get 5 each", () => {
    const b = build({ profile: "hikari" }, { SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: "10" });
    // max_connections 12, reserve max(2, 5 % of 12 = 1) = 2, no other clients: usable 10.
    const { w } = recommend(b, { name: "db", maxConnections: 12, unmanaged: 0 });
    expect(w?.recommended?.env).toEqual([{ name: "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE", value: "5" }]);
    expect(w?.change).toBe("decrease");
  });
});

describe("profile rails", () => {
  it("counts Puma workers from WEB_CONCURRENCY (0 is single mode: 1) and writes RAILS_MAX_THREADS", () => {
    const b = build({ profile: "rails" }, { WEB_CONCURRENCY: "3", RAILS_MAX_THREADS: "5" }, ["bin/rails", "server"]);
    expect(b.errors).toEqual([]);
    expect(b.workload.workers).toBe(3);
    expect(b.workload.current).toEqual({ poolSize: 5, maxOverflow: 0 });
    expect(recommend(b).w?.recommended?.env).toEqual([{ name: "RAILS_MAX_THREADS", value: "3" }]);
    expect(build({ profile: "rails" }, { WEB_CONCURRENCY: "0" }).workload.workers).toBe(1);
  });

  it("reads puma -w over WEB_CONCURRENCY, writes DB_POOL when cap-env says so, and knows nothing else", () => {
    const b = build({ profile: "rails", "cap-env": "DB_POOL" }, { WEB_CONCURRENCY: "3", DB_POOL: "10" }, [
      "bundle",
      "exec",
      "puma",
      "-w",
      "4",
    ]);
    expect(b.workload.workers).toBe(4);
    expect(b.workload.current?.poolSize).toBe(10);
    expect(recommend(b).w?.recommended?.env).toEqual([{ name: "DB_POOL", value: "3" }]);
    const none = build({ profile: "rails" }, {}, ["bundle", "exec", "puma"]);
    expect(none.workload.workers).toBe("unknown");
    expect(messages(none).join("\n")).toMatch(/Puma workers per container unknown/);
  });
});

describe("profile node", () => {
  it("counts PM2 instances (-i N) or WEB_CONCURRENCY and writes DB_POOL_MAX", () => {
    const pm2 = build({ profile: "node" }, { DB_POOL_MAX: "10" }, ["pm2-runtime", "start", "app.js", "-i", "4"]);
    expect(pm2.errors).toEqual([]);
    expect(pm2.workload.workers).toBe(4);
    expect(pm2.workload.current?.poolSize).toBe(10);
    expect(recommend(pm2).w?.recommended?.env).toEqual([{ name: "DB_POOL_MAX", value: "3" }]);
    expect(build({ profile: "node" }, { WEB_CONCURRENCY: "2" }, ["node", "server.js"]).workload.workers).toBe(2);
  });

  it("does not guess: -i max and a bare node are unknown; workers and cap-env are the configurable names", () => {
    const max = build({ profile: "node" }, {}, ["pm2-runtime", "app.js", "-i", "max"]);
    expect(max.workload.workers).toBe("unknown");
    expect(messages(max).join("\n")).toMatch(/one process per CPU/);
    expect(build({ profile: "node" }, {}, ["node", "server.js"]).workload.workers).toBe("unknown");
    const named = build(
      { profile: "node", "workers-env": "CLUSTER_WORKERS", "cap-env": "PG_POOL_MAX" },
      { CLUSTER_WORKERS: "3", PG_POOL_MAX: "20" },
      ["node", "server.js"],
    );
    expect(named.workload.workers).toBe(3);
    expect(named.workload.current?.poolSize).toBe(20);
    expect(recommend(named).w?.recommended?.env).toEqual([{ name: "PG_POOL_MAX", value: "3" }]);
  });
});

describe("profile celery", () => {
  it("counts prefork children from -c/--concurrency and writes SQLAlchemy's pair", () => {
    const b = build({ profile: "celery" }, { DB_POOL_SIZE: "5", DB_MAX_OVERFLOW: "10" }, [
      "celery",
      "-A",
      "proj",
      "worker",
      "-c",
      "8",
    ]);
    expect(b.errors).toEqual([]);
    expect(b.workload.workers).toBe(8);
    // 2 pods x 8 children x (5+10) = 240 now; the small row's 1+2 each.
    const { w } = recommend(b);
    expect(w?.current.peak).toBe(240);
    expect(w?.recommended?.env).toEqual([
      { name: "DB_POOL_SIZE", value: "1" },
      { name: "DB_MAX_OVERFLOW", value: "2" },
    ]);
    expect(build({ profile: "celery" }, {}, ["celery", "worker", "--concurrency=4"]).workload.workers).toBe(4);
  });

  it("runs threads/gevent/eventlet/solo pools in one process, and does not guess the CPU count", () => {
    expect(build({ profile: "celery" }, {}, ["celery", "worker", "-P", "gevent", "-c", "100"]).workload.workers).toBe(
      1,
    );
    const none = build({ profile: "celery" }, {}, ["celery", "-A", "proj", "worker"]);
    expect(none.workload.workers).toBe("unknown");
    expect(messages(none).join("\n")).toMatch(/Celery concurrency unknown/);
  });
});

describe("profile selection", () => {
  it("an unknown profile is an error and the workload is not planned", () => {
    const b = build({ profile: "spring" }, { GUNICORN_WORKERS: "2" });
    expect(b.workload.workers).toBe("unknown");
    expect(messages(b)).toEqual([
      "pooltuner.io/profile: unknown profile; known: sqlalchemy, django, hikari, rails, node, celery (custom ones come from the configuration file's profiles, or plan/check --profiles); the workload is not planned and not changed",
    ]);
  });

  it("a bad profile value is refused by the annotation parser", () => {
    const r = parseWorkloadOptions({ "io.pooltuner.profile": "Spring Boot" }, "docker", "service a/b");
    expect(r.errors.map((e) => e.field)).toEqual(["io.pooltuner.profile"]);
  });

  it("custom profiles from the configuration: one env var, a container-wide table cap and a default", async () => {
    const cfg = await loadConfig(
      `databases:
  - { name: a, url: "mysql://m:p@h/" }
profiles:
  - { name: go-sql, processes: one, capEnv: DB_MAX_OPEN_CONNS, default: 50, tableCap: container }
  - { name: py-pair, processes: gunicorn, pair: true }
`,
      "c.yaml",
      {},
    );
    expect([...(cfg.profiles?.keys() ?? [])]).toEqual([
      "sqlalchemy",
      "django",
      "hikari",
      "rails",
      "node",
      "celery",
      "go-sql",
      "py-pair",
    ]);
    const b = build({ profile: "go-sql" }, {}, ["/app"], { profiles: cfg.profiles });
    expect(b.workload.workers).toBe(1);
    const { w } = recommend(b);
    // Unset: 50 assumed; the small row's container total 2 x 3 = 6.
    expect(w?.current.peak).toBe(2 * 50);
    expect(w?.recommended?.env).toEqual([{ name: "DB_MAX_OPEN_CONNS", value: "6" }]);
  });

  it("refuses a custom profile that takes a built-in name or mixes the two shapes", async () => {
    const doc = (p: string) => `databases:\n  - { name: a, url: "mysql://m:p@h/" }\nprofiles:\n  - ${p}\n`;
    await expect(
      loadConfig(doc("{ name: rails, processes: puma, capEnv: X, default: 5 }"), "c.yaml", {}),
    ).rejects.toThrow("c.yaml: profiles: rails is defined twice (or is a built-in profile)");
    await expect(loadConfig(doc("{ name: x, processes: one, pair: true, capEnv: X }"), "c.yaml", {})).rejects.toThrow(
      ConfigError,
    );
    await expect(loadConfig(doc("{ name: x, processes: one, capEnv: X }"), "c.yaml", {})).rejects.toThrow(
      /default is required with capEnv/,
    );
    await expect(loadConfig(doc("{ name: x, processes: threads, pair: true }"), "c.yaml", {})).rejects.toThrow(
      /processes/,
    );
  });
});

describe("the core refuses a writing it cannot use", () => {
  it("names the workload and the field", () => {
    const base = {
      id: "w",
      kind: "Deployment",
      database: "db",
      replicas: 1,
      rollout: { type: "Recreate" },
      workers: 1,
    } as const;
    expect(() =>
      plan(
        {
          databases: [roomy],
          workloads: [
            {
              ...base,
              id: "a",
              writes: { kind: "pool-overflow", profile: "x", poolSizeEnv: "P", maxOverflowEnv: "P" },
            },
            { ...base, id: "b", writes: { kind: "single", profile: "y", env: "N", assumed: 0 } },
          ],
        },
        DEFAULT_POLICY,
      ),
    ).toThrow(
      "invalid snapshot: workload a: pool_size and max_overflow need two different env vars; workload b: the y profile's assumed cap must be an integer >= 1",
    );
  });
});

describe("django on Kubernetes", () => {
  it("takes --threads $(VAR) in args as the env var's to set (Kubernetes resolves it from env)", () => {
    const d = (args: string[]) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "site",
        namespace: "shop",
        annotations: { "pooltuner.io/enabled": "true", "pooltuner.io/profile": "django" },
      },
      spec: {
        replicas: 2,
        template: {
          spec: {
            containers: [
              {
                name: "web",
                command: ["gunicorn"],
                args,
                env: [{ name: "GUNICORN_THREADS", value: "4" }],
              },
            ],
          },
        },
      },
    });
    const viaVar = readKubeWorkload(d(["-w", "2", "--threads", "$(GUNICORN_THREADS)", "site.wsgi"]), []);
    expect(viaVar.errors).toEqual([]);
    expect(viaVar.loaded?.workload.current).toEqual({ poolSize: 4, maxOverflow: 0 });
    expect(viaVar.loaded?.workload.writes).toMatchObject({ kind: "single", env: "GUNICORN_THREADS" });
    const literal = readKubeWorkload(d(["-w", "2", "--threads", "4", "site.wsgi"]), []);
    expect(literal.errors.map((e) => e.message).join("\n")).toMatch(/not pooltuner's to set/);
  });
});
