// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are compose/shell `${VAR}` syntax, on purpose
import { describe, expect, it } from "vitest";
import { DEFAULT_OPTIONS, PREFIX, parseWorkloadOptions } from "../../src/sources/annotations.js";
import {
  parseComposeBytes,
  parseComposeCpus,
  parseCpuMillis,
  parseIntOrPercent,
  parseMemoryBytes,
} from "../../src/sources/quantity.js";
import { detectWorkers, type EnvValue, splitArgs } from "../../src/sources/workers.js";

const K = PREFIX.kubernetes;
const D = PREFIX.docker;
const OBJ = "Deployment shop/web";

describe("parseWorkloadOptions", () => {
  it("reads every key, Kubernetes and Docker alike", () => {
    for (const [flavor, p] of [
      ["kubernetes", K],
      ["docker", D],
    ] as const) {
      const r = parseWorkloadOptions(
        {
          [`${p}enabled`]: "true",
          [`${p}database`]: "lineage-mysql",
          [`${p}pool-size-env`]: "LINEAGE_DB_POOL_SIZE",
          [`${p}max-overflow-env`]: "LINEAGE_DB_MAX_OVERFLOW",
          [`${p}workers-env`]: "GUNICORN_WORKERS",
          [`${p}max-replicas`]: "6",
          [`${p}weight`]: "2.5",
          [`${p}update-mode`]: "off",
          [`${p}account`]: "lineage",
          [`${p}paused`]: "True",
          [`${p}profile`]: "Celery",
          [`${p}cap-env`]: "DB_POOL",
          "app.kubernetes.io/name": "ignored",
        },
        flavor,
        OBJ,
      );
      expect(r.errors).toEqual([]);
      expect(r.warnings).toEqual([]);
      expect(r.present).toBe(true);
      expect(r.options).toEqual({
        enabled: true,
        database: "lineage-mysql",
        poolSizeEnv: "LINEAGE_DB_POOL_SIZE",
        maxOverflowEnv: "LINEAGE_DB_MAX_OVERFLOW",
        workersEnv: "GUNICORN_WORKERS",
        maxReplicas: 6,
        weight: 2.5,
        updateMode: "off",
        account: "lineage",
        paused: true,
        profile: "celery",
        capEnv: "DB_POOL",
      });
    }
  });

  it("paused: only true or false, default false", () => {
    expect(parseWorkloadOptions({ "pooltuner.io/paused": "false" }, "kubernetes", OBJ).options.paused).toBe(false);
    const bad = parseWorkloadOptions({ "io.pooltuner.paused": "yes" }, "docker", OBJ);
    expect(bad.options.paused).toBe(false);
    expect(bad.errors).toEqual([
      { object: OBJ, field: "io.pooltuner.paused", value: "yes", message: 'must be "true" or "false"' },
    ]);
  });

  it("change-window: one or more windows separated by ';', a zone given or UTC; a bad one is one finding", () => {
    const ok = parseWorkloadOptions(
      { "pooltuner.io/change-window": "Sat 02:00-04:00 Europe/Berlin; Sun 01:00-02:00" },
      "kubernetes",
      OBJ,
    );
    expect(ok.errors).toEqual([]);
    expect(ok.options.changeWindows?.map((w) => [w.days, w.start, w.length, w.timeZone])).toEqual([
      [[6], 120, 120, "Europe/Berlin"],
      [[0], 60, 60, "UTC"],
    ]);
    expect(parseWorkloadOptions({}, "docker", OBJ).options.changeWindows).toBeUndefined();
    const bad = parseWorkloadOptions({ "io.pooltuner.change-window": "weekends" }, "docker", OBJ);
    expect(bad.options.changeWindows).toBeUndefined();
    expect(bad.errors).toEqual([
      {
        object: OBJ,
        field: "io.pooltuner.change-window",
        value: "weekends",
        message: expect.stringMatching(/^must be change windows: .* separate several with ";"/),
      },
    ]);
  });

  it("helm-values: a dotted path into the chart's values; a bad one is one finding; ignored for Docker", () => {
    const ok = parseWorkloadOptions({ "pooltuner.io/helm-values": "web.extra-env" }, "kubernetes", OBJ);
    expect(ok.errors).toEqual([]);
    expect(ok.options.helmValues).toEqual(["web", "extra-env"]);
    expect(parseWorkloadOptions({ "pooltuner.io/helm-values": "env" }, "kubernetes", OBJ).options.helmValues).toEqual([
      "env",
    ]);
    for (const path of ["web..env", ".env", "web.env.", "web.env[0]", "web env", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q"]) {
      const bad = parseWorkloadOptions({ "pooltuner.io/helm-values": path }, "kubernetes", OBJ);
      expect(bad.options.helmValues, path).toBeUndefined();
      expect(bad.errors, path).toEqual([
        {
          object: OBJ,
          field: "pooltuner.io/helm-values",
          value: path,
          message: expect.stringMatching(/^must be a dotted path into the chart's values, such as web.env/),
        },
      ]);
    }
    const docker = parseWorkloadOptions({ "io.pooltuner.helm-values": "web.env" }, "docker", OBJ);
    expect(docker.warnings.map((w) => [w.field, w.message])).toContainEqual([
      "io.pooltuner.helm-values",
      expect.stringMatching(/^ignored for Docker/),
    ]);
  });

  it("defaults: not enabled, DB_POOL_SIZE / DB_MAX_OVERFLOW, weight 1, update-mode auto", () => {
    const r = parseWorkloadOptions(undefined, "kubernetes", OBJ);
    expect(r.options).toEqual(DEFAULT_OPTIONS);
    expect(r.options).toMatchObject({ enabled: false, poolSizeEnv: "DB_POOL_SIZE", maxOverflowEnv: "DB_MAX_OVERFLOW" });
    expect(r.present).toBe(false);
    expect(r.errors).toEqual([]);
  });

  it("accepts unquoted YAML booleans and numbers", () => {
    const r = parseWorkloadOptions(
      { [`${K}enabled`]: true, [`${K}workers`]: 4, [`${K}weight`]: 3, [`${K}max-replicas`]: 0 },
      "kubernetes",
      OBJ,
    );
    expect(r.errors).toEqual([]);
    expect(r.options).toMatchObject({ enabled: true, workers: 4, weight: 3, maxReplicas: 0 });
  });

  const bad: [string, unknown, RegExp][] = [
    ["enabled", "yes", /must be "true" or "false"/],
    ["database", "my db", /database name/],
    ["container", "Web_1", /container name/],
    ["pool-size-env", "1POOL", /environment variable name/],
    ["max-overflow-env", "MAX-OVERFLOW", /environment variable name/],
    ["workers-env", "$WORKERS", /environment variable name/],
    ["workers", "0", /whole number of worker processes from 1/],
    ["workers", "4.5", /whole number of worker processes from 1/],
    ["workers", "four", /whole number of worker processes from 1/],
    ["max-replicas", "-1", /whole number of replicas from 0 to 100000/],
    ["max-replicas", "2.5", /whole number of replicas from 0 to 100000/],
    ["max-replicas", "many", /whole number of replicas from 0 to 100000/],
    ["max-replicas", "100001", /whole number of replicas from 0 to 100000/],
    ["max-replicas", "1e3", /whole number of replicas from 0 to 100000/],
    ["weight", "0", /number > 0/],
    ["weight", "-1", /number > 0/],
    ["weight", "heavy", /number > 0/],
    ["update-mode", "recreate", /"auto" or "off"/],
    ["account", "two words", /database user name/],
    ["database", "", /is empty/],
    ["workers", { n: 4 }, /must be a string/],
  ];
  for (const [key, value, message] of bad) {
    it(`${key}=${JSON.stringify(value)} -> one error naming the object and the field`, () => {
      const r = parseWorkloadOptions({ [`${K}enabled`]: "true", [`${K}${key}`]: value }, "kubernetes", OBJ);
      expect(r.errors).toHaveLength(1);
      const e = r.errors[0];
      expect(e?.object).toBe(OBJ);
      expect(e?.field).toBe(`${K}${key}`);
      expect(e?.message).toMatch(message);
      if (typeof value === "string") expect(e?.value).toBe(value);
    });
  }

  it("several bad keys give one error each, and good keys still apply", () => {
    const r = parseWorkloadOptions(
      { [`${D}enabled`]: "true", [`${D}weight`]: "x", [`${D}workers`]: "0", [`${D}database`]: "ok" },
      "docker",
      "service web",
    );
    expect(r.errors.map((e) => e.field).sort()).toEqual([`${D}weight`, `${D}workers`]);
    expect(r.options.database).toBe("ok");
  });

  it("pool-size-env and max-overflow-env must differ", () => {
    const r = parseWorkloadOptions(
      { [`${K}enabled`]: "true", [`${K}pool-size-env`]: "POOL", [`${K}max-overflow-env`]: "POOL" },
      "kubernetes",
      OBJ,
    );
    expect(r.errors).toEqual([
      expect.objectContaining({ field: `${K}max-overflow-env`, message: expect.stringMatching(/must differ/) }),
    ]);
  });

  it("warns on unknown keys with a hint, on workers + workers-env, and on keys without enabled", () => {
    const r = parseWorkloadOptions(
      { [`${K}wokers`]: "4", [`${K}workers`]: "2", [`${K}workers-env`]: "W" },
      "kubernetes",
      OBJ,
    );
    expect(r.errors).toEqual([]);
    const messages = r.warnings.map((w) => `${w.field}: ${w.message}`);
    expect(messages).toContainEqual(
      expect.stringMatching(/wokers: unknown key.*did you mean pooltuner\.io\/workers\?/),
    );
    expect(messages).toContainEqual(expect.stringMatching(/workers-env: ignored: pooltuner\.io\/workers=2/));
    expect(messages).toContainEqual(expect.stringMatching(/enabled: not set/));
  });

  it("does not report keys pooltuner writes itself, nor keys of the other flavor", () => {
    const r = parseWorkloadOptions(
      { [`${K}enabled`]: "true", [`${K}status`]: "{}", [`${K}applied`]: "1+1", [`${D}weight`]: "x" },
      "kubernetes",
      OBJ,
    );
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it("container is meaningless on Docker labels: a warning", () => {
    const r = parseWorkloadOptions({ [`${D}enabled`]: "true", [`${D}container`]: "web" }, "docker", "service web");
    expect(r.warnings).toEqual([expect.objectContaining({ field: `${D}container` })]);
  });
});

describe("quantities", () => {
  it("CPU to millicores", () => {
    expect(parseCpuMillis("500m")).toEqual({ ok: true, value: 500 });
    expect(parseCpuMillis("2")).toEqual({ ok: true, value: 2000 });
    expect(parseCpuMillis(2)).toEqual({ ok: true, value: 2000 });
    expect(parseCpuMillis("0.1")).toEqual({ ok: true, value: 100 });
    expect(parseCpuMillis("1.5")).toEqual({ ok: true, value: 1500 });
    expect(parseCpuMillis("100u")).toEqual({ ok: true, value: 1 }); // rounds up, as Kubernetes does
    expect(parseCpuMillis("2k")).toEqual({ ok: true, value: 2_000_000 });
  });
  it("memory to bytes", () => {
    expect(parseMemoryBytes("512Mi")).toEqual({ ok: true, value: 512 * 2 ** 20 });
    expect(parseMemoryBytes("2Gi")).toEqual({ ok: true, value: 2 * 2 ** 30 });
    expect(parseMemoryBytes("1G")).toEqual({ ok: true, value: 1e9 });
    expect(parseMemoryBytes("128974848")).toEqual({ ok: true, value: 128974848 });
    expect(parseMemoryBytes("129e6")).toEqual({ ok: true, value: 129e6 });
    expect(parseMemoryBytes("1.5Gi")).toEqual({ ok: true, value: 1.5 * 2 ** 30 });
  });
  it("rejects what Kubernetes rejects", () => {
    for (const bad of ["512MB", "2 Gi", "-1", "abc", "", "1Gib", true]) {
      const r = parseMemoryBytes(bad);
      expect(r.ok, String(bad)).toBe(false);
    }
    const r = parseCpuMillis("two");
    expect(r).toEqual({
      ok: false,
      message: expect.stringMatching(/<a 3-character value, not shown> is not a Kubernetes quantity/),
    });
  });
  it("compose sizes (1024-based, like docker) and cpus", () => {
    expect(parseComposeBytes("512m")).toEqual({ ok: true, value: 512 * 2 ** 20 });
    expect(parseComposeBytes("1gb")).toEqual({ ok: true, value: 2 ** 30 });
    expect(parseComposeBytes("1.5G")).toEqual({ ok: true, value: 1.5 * 2 ** 30 });
    expect(parseComposeBytes("2048k")).toEqual({ ok: true, value: 2 * 2 ** 20 });
    expect(parseComposeBytes(1073741824)).toEqual({ ok: true, value: 2 ** 30 });
    expect(parseComposeBytes("lots").ok).toBe(false);
    expect(parseComposeCpus("0.5")).toEqual({ ok: true, value: 500 });
    expect(parseComposeCpus(2)).toEqual({ ok: true, value: 2000 });
    expect(parseComposeCpus("two").ok).toBe(false);
  });
  it("IntOrString", () => {
    expect(parseIntOrPercent(1)).toEqual({ ok: true, value: { kind: "int", value: 1 } });
    expect(parseIntOrPercent("25%")).toEqual({ ok: true, value: { kind: "percent", value: 25 } });
    expect(parseIntOrPercent(0)).toEqual({ ok: true, value: { kind: "int", value: 0 } });
    for (const bad of ["1", "25", "-1%", 1.5, -1, "x%"]) expect(parseIntOrPercent(bad).ok, String(bad)).toBe(false);
  });
});

describe("detectWorkers", () => {
  const env = (vars: Record<string, string | { unreadable: string }>): Map<string, EnvValue> =>
    new Map(
      Object.entries(vars).map(([k, v]) => [
        k,
        typeof v === "string" ? { kind: "value", value: v } : { kind: "unreadable", from: v.unreadable },
      ]),
    );
  const detect = (
    opts: Partial<typeof DEFAULT_OPTIONS>,
    vars: Record<string, string | { unreadable: string }>,
    cmd: string[] = [],
  ) =>
    detectWorkers({ object: OBJ, prefix: K, options: { ...DEFAULT_OPTIONS, ...opts }, env: env(vars), command: cmd });

  it("follows the documented precedence", () => {
    const all = { GUNICORN_WORKERS: "4", WEB_CONCURRENCY: "3", MY_WORKERS: "5" };
    const cmd = ["gunicorn", "--workers", "6", "app:app"];
    expect(detect({ workers: 7, workersEnv: "MY_WORKERS" }, all, cmd)).toMatchObject({
      workers: 7,
      from: `${K}workers`,
    });
    expect(detect({ workersEnv: "MY_WORKERS" }, all, cmd)).toMatchObject({ workers: 5, from: "env MY_WORKERS" });
    expect(detect({}, all, cmd)).toMatchObject({ workers: 6, from: "--workers in command" });
    expect(detect({}, all)).toMatchObject({ workers: 4, from: "env GUNICORN_WORKERS" });
    expect(detect({}, { WEB_CONCURRENCY: "3" })).toMatchObject({ workers: 3, from: "env WEB_CONCURRENCY" });
    expect(detect({}, { GUNICORN_CMD_ARGS: "-w 8" }, ["gunicorn", "app:app"])).toMatchObject({
      workers: 8,
      from: "-w in env GUNICORN_CMD_ARGS",
    });
  });

  it("nothing explicit: unknown, never 1, with one error naming the key to set and why", () => {
    const none = detect({}, {}, ["gunicorn", "-c", "gunicorn.conf.py", "app:app"]);
    expect(none).toMatchObject({ workers: "unknown", warnings: [] });
    expect(none.errors).toEqual([
      {
        object: OBJ,
        field: `${K}workers`,
        message: expect.stringMatching(
          /worker processes per container unknown.*-c FILE, --config or \.\/gunicorn\.conf\.py.*not planned and not changed until you set pooltuner\.io\/workers .*\(or pooltuner\.io\/workers-env/,
        ),
      },
    ]);
    // The prefix passed in names the Docker label.
    const docker = detectWorkers({
      object: "service app",
      prefix: D,
      options: DEFAULT_OPTIONS,
      env: new Map(),
      command: [],
    });
    expect(docker.workers).toBe("unknown");
    expect(docker.errors[0]?.message).toMatch(/set io\.pooltuner\.workers .*\(or io\.pooltuner\.workers-env/);
    // No command at all (the image's CMD), a plain process, gunicorn with a config file: all unknown.
    for (const cmd of [[], ["python", "app.py"], ["gunicorn", "--config", "conf.py"], ["gunicorn", "app:app"]]) {
      expect(detect({}, {}, cmd).workers, cmd.join(" ")).toBe("unknown");
    }
    // uvicorn reads no config file: without --workers or WEB_CONCURRENCY it runs one process.
    expect(detect({}, {}, ["uvicorn", "app:app"]).workers).toBe(1);
    expect(detect({}, {}, ["python", "-m", "uvicorn", "app:app"]).workers).toBe(1);
    expect(detect({}, { WEB_CONCURRENCY: "3" }, ["uvicorn", "app:app"]).workers).toBe(3);
    // Through gunicorn's uvicorn worker class it is gunicorn's count that matters.
    expect(detect({}, {}, ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app:app"]).workers).toBe("unknown");
  });

  it("--threads do not count: threads share their process's pool", () => {
    expect(detect({}, {}, ["gunicorn", "--threads", "8", "app:app"]).workers).toBe("unknown");
    expect(detect({}, {}, ["gunicorn", "--workers", "2", "--threads", "8", "app:app"]).workers).toBe(2);
  });

  it("reads every spelling of the flag, and $VAR values from the env", () => {
    expect(detect({}, {}, ["gunicorn", "-w", "3"]).workers).toBe(3);
    expect(detect({}, {}, ["gunicorn", "-w3"]).workers).toBe(3);
    expect(detect({}, {}, ["uvicorn", "--workers=5"]).workers).toBe(5);
    expect(detect({}, {}, ["sh", "-c", "exec gunicorn -w 2 app:app"]).workers).toBe(2);
    expect(detect({}, { N: "9" }, ["gunicorn", "--workers", "${N}"]).workers).toBe(9);
    expect(detect({}, {}, ["gunicorn", "--workers", "${N:-4}"]).workers).toBe(4);
    expect(detect({}, { GUNICORN_CMD_ARGS: "--workers 8 --threads 2" }).workers).toBe(8);
    expect(detect({}, {}, ["hypercorn", "-w", "2", "app:app"]).workers).toBe(2);
    expect(detect({}, {}, ["/usr/local/bin/gunicorn", "-w", "3"]).workers).toBe(3);
    // -w is not a worker count for programs other than gunicorn and hypercorn (uvicorn has no -w)
    expect(detect({}, {}, ["celery", "-w", "3"]).workers).toBe("unknown");
    expect(detect({}, {}, ["uvicorn", "app:app", "-w", "3"]).workers).toBe(1);
  });

  it("a bad or unreadable count is unknown, with one error naming the field and the key to set", () => {
    for (const r of [
      detect({ workersEnv: "W" }, { W: "many" }),
      detect({ workersEnv: "W" }, {}),
      detect({ workersEnv: "W" }, { W: { unreadable: "Secret app" } }),
      detect({}, { GUNICORN_WORKERS: { unreadable: "Secret app" } }),
      detect({}, { WEB_CONCURRENCY: "0" }),
      detect({}, {}, ["gunicorn", "--workers", "0"]),
      detect({}, {}, ["gunicorn", "--workers", "$(W)"]),
      // a default behind a variable that cannot be read is not its value
      detect({}, { N: { unreadable: "Secret app" } }, ["gunicorn", "--workers", "${N:-4}"]),
      // GUNICORN_CMD_ARGS could set --workers: unknown, unless the command line (which wins) says
      detect({}, { GUNICORN_CMD_ARGS: { unreadable: "Secret app" }, WEB_CONCURRENCY: "2" }),
    ]) {
      expect(r.workers).toBe("unknown");
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]?.message).toMatch(/not planned and not changed until you set pooltuner\.io\/workers/);
    }
    expect(detect({}, { N: { unreadable: "Secret app" } }, ["gunicorn", "--workers", "${N:-4}"]).errors).toEqual([
      expect.objectContaining({ field: "command", message: expect.stringMatching(/N comes from Secret app/) }),
    ]);
    expect(detect({}, { GUNICORN_CMD_ARGS: { unreadable: "Secret app" } }, ["gunicorn", "-w", "3"])).toMatchObject({
      workers: 3,
      errors: [],
    });
    expect(detect({ workersEnv: "W" }, { W: "many" }).errors).toEqual([
      expect.objectContaining({ object: OBJ, field: "env W", value: "many" }),
    ]);
    expect(detect({ workersEnv: "W" }, {}).errors).toEqual([
      expect.objectContaining({ field: "env W", message: expect.stringMatching(/not set/) }),
    ]);
    expect(detect({}, { GUNICORN_WORKERS: { unreadable: "Secret app" } }).errors).toEqual([
      expect.objectContaining({
        field: "env GUNICORN_WORKERS",
        message: expect.stringMatching(/Secret app.*pooltuner\.io\/workers/),
      }),
    ]);
    expect(detect({}, {}, ["gunicorn", "--workers", "0"]).errors).toEqual([
      expect.objectContaining({ field: "command", value: "0" }),
    ]);
  });

  it("splitArgs handles quotes and escapes", () => {
    expect(splitArgs(`gunicorn -w 4 --bind "0.0.0.0:8000" 'app:create_app()' a\\ b ""`)).toEqual([
      "gunicorn",
      "-w",
      "4",
      "--bind",
      "0.0.0.0:8000",
      "app:create_app()",
      "a b",
      "",
    ]);
  });
});
