// The compose spec's merge rules (docs.docker.com/reference/compose-file/merge/, compose-go override/merge.go and
// uncity.go), each with a base file and an override file as YAML, and the expected model written out by hand.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { mergeCompose, resolveLocalExtends, withProfiles } from "../../src/sources/compose-merge.js";
import { formatSourceFinding } from "../../src/sources/findings.js";
import { loadSources } from "../../src/sources/load.js";

type Json = Record<string, unknown>;
const merged = (base: string, override: string): unknown => {
  const r = mergeCompose(parse(base) as Json, parse(override) as Json);
  if (!r.ok) throw new Error(r.message);
  return r.value;
};
const web = (value: unknown): unknown => ((value as Json).services as Json).web;

describe("merge rules", () => {
  it("mappings: missing keys added, conflicting scalars taken from the override", () => {
    expect(web(merged("services: {web: {image: a, user: x}}", "services: {web: {image: b, init: true}}"))).toEqual({
      image: "b",
      user: "x",
      init: true,
    });
  });

  it("nested mappings merge key by key (deploy.resources.limits)", () => {
    const m = merged(
      "services: {web: {deploy: {replicas: 2, resources: {limits: {cpus: '0.5', memory: 512M}}}}}",
      "services: {web: {deploy: {resources: {limits: {memory: 1G}}}}}",
    );
    expect(web(m)).toEqual({ deploy: { replicas: 2, resources: { limits: { cpus: "0.5", memory: "1G" } } } });
  });

  it("plain sequences append, dropping entries equal to one already there (dns)", () => {
    expect(web(merged("services: {web: {dns: [1.1.1.1]}}", "services: {web: {dns: [8.8.8.8, 1.1.1.1]}}"))).toEqual({
      dns: ["1.1.1.1", "8.8.8.8"],
    });
  });

  it("command, entrypoint and healthcheck.test are replaced, not appended", () => {
    const m = merged(
      "services: {web: {command: [echo, foo], entrypoint: [sh, -c], healthcheck: {test: [CMD, a], interval: 5s}}}",
      "services: {web: {command: [echo, bar], entrypoint: [bash], healthcheck: {test: [CMD, b]}}}",
    );
    expect(web(m)).toEqual({
      command: ["echo", "bar"],
      entrypoint: ["bash"],
      healthcheck: { test: ["CMD", "b"], interval: "5s" },
    });
  });

  it("environment: map over list and list over map merge by key, the override winning; KEY alone stays KEY", () => {
    const m = merged(
      "services: {web: {environment: [POOL=2, WORKERS=4, FROM_SHELL]}}",
      "services: {web: {environment: {POOL: 5, OVERFLOW: '1'}}}",
    );
    expect(web(m)).toEqual({ environment: ["POOL=5", "WORKERS=4", "FROM_SHELL", "OVERFLOW=1"] });
  });

  it("labels merge by key the same way", () => {
    const m = merged(
      "services: {web: {labels: {io.pooltuner.enabled: 'false', a: '1'}}}",
      "services: {web: {labels: [io.pooltuner.enabled=true]}}",
    );
    expect(web(m)).toEqual({ labels: ["a=1", "io.pooltuner.enabled=true"] });
  });

  it("env_file: appended, unique by path (the later entry, e.g. required: false, replaces the earlier)", () => {
    const m = merged(
      "services: {web: {env_file: [app.env, local.env]}}",
      "services: {web: {env_file: [{path: local.env, required: false}, extra.env]}}",
    );
    expect(web(m)).toEqual({ env_file: ["app.env", { path: "local.env", required: false }, "extra.env"] });
  });

  it("env_file as one string merges like a one-entry list", () => {
    expect(web(merged("services: {web: {env_file: a.env}}", "services: {web: {env_file: b.env}}"))).toEqual({
      env_file: ["a.env", "b.env"],
    });
  });

  it("ports: unique by ip, published port, target and protocol", () => {
    const m = merged(
      "services: {web: {ports: ['8080:80', '127.0.0.1:9090:90', '53:53/udp']}}",
      "services: {web: {ports: ['8080:80', '53:53/tcp', {target: 80, published: '8081'}]}}",
    );
    expect(web(m)).toEqual({
      ports: ["8080:80", "127.0.0.1:9090:90", "53:53/udp", "53:53/tcp", { target: 80, published: "8081" }],
    });
  });

  it("volumes: unique by target, the override's mount replacing the base's at the same target", () => {
    const m = merged(
      "services: {web: {volumes: ['./src:/app', 'data:/var/lib/data', /tmp/anon]}}",
      "services: {web: {volumes: ['./other:/app:ro', {type: volume, source: logs, target: /logs}]}}",
    );
    expect(web(m)).toEqual({
      volumes: [
        "./other:/app:ro",
        "data:/var/lib/data",
        "/tmp/anon",
        { type: "volume", source: "logs", target: "/logs" },
      ],
    });
  });

  it("secrets and configs: unique by target (default /run/secrets/<source> and /<source>)", () => {
    const m = merged(
      "services: {web: {secrets: [db_pw], configs: [app]}}",
      "services: {web: {secrets: [{source: other, target: db_pw}], configs: [{source: app, target: /app}]}}",
    );
    expect(web(m)).toEqual({
      secrets: [{ source: "other", target: "db_pw" }],
      configs: [{ source: "app", target: "/app" }],
    });
  });

  it("depends_on and networks: a list and a map merge as maps", () => {
    const m = merged(
      "services: {web: {depends_on: [db], networks: [front]}}",
      "services: {web: {depends_on: {cache: {condition: service_healthy}}, networks: {back: {aliases: [w]}}}}",
    );
    expect(web(m)).toEqual({
      depends_on: { db: null, cache: { condition: "service_healthy" } },
      networks: { front: null, back: { aliases: ["w"] } },
    });
  });

  it("build: a string is build.context", () => {
    expect(
      web(merged("services: {web: {build: ./app}}", "services: {web: {build: {dockerfile: Dockerfile.dev}}}")),
    ).toEqual({
      build: { context: "./app", dockerfile: "Dockerfile.dev" },
    });
  });

  it("logging: options merge for the same driver, a new driver replaces them", () => {
    const same = merged(
      "services: {web: {logging: {driver: json-file, options: {max-size: 1m}}}}",
      "services: {web: {logging: {options: {max-file: '3'}}}}",
    );
    expect(web(same)).toEqual({ logging: { driver: "json-file", options: { "max-size": "1m", "max-file": "3" } } });
    const other = merged(
      "services: {web: {logging: {driver: json-file, options: {max-size: 1m}}}}",
      "services: {web: {logging: {driver: syslog}}}",
    );
    expect(web(other)).toEqual({ logging: { driver: "syslog" } });
  });

  it("new services and top-level keys are added; a null override keeps the base", () => {
    const m = merged(
      "name: shop\nservices: {web: {image: a}}",
      "services: {worker: {image: w}, web: null}\nvolumes: {v: {}}",
    );
    expect(m).toEqual({ name: "shop", services: { web: { image: "a" }, worker: { image: "w" } }, volumes: { v: {} } });
  });

  it("a map cannot be overridden with a list: an error naming the path", () => {
    const r = mergeCompose(parse("services: {web: {deploy: {replicas: 1}}}"), parse("services: {web: {deploy: [x]}}"));
    expect(r).toEqual({ ok: false, message: "services.web.deploy: cannot override a map with a list" });
  });

  it("neither input is changed", () => {
    const base = parse("services: {web: {environment: {A: '1'}}}") as Json;
    const over = parse("services: {web: {environment: {A: '2'}}}") as Json;
    mergeCompose(base, over);
    expect(base).toEqual({ services: { web: { environment: { A: "1" } } } });
    expect(over).toEqual({ services: { web: { environment: { A: "2" } } } });
  });
});

describe("profiles and extends", () => {
  const data = parse(`
services:
  web: {image: a}
  debug: {image: b, profiles: [debug]}
  both: {image: c, profiles: [debug, ops]}
`) as Json;
  it("a service without profiles always runs; one with profiles only when one is active; * activates all", () => {
    expect(Object.keys(withProfiles(data, []).data.services as Json)).toEqual(["web"]);
    expect(withProfiles(data, []).disabled).toEqual(["debug", "both"]);
    expect(Object.keys(withProfiles(data, ["ops"]).data.services as Json)).toEqual(["web", "both"]);
    expect(Object.keys(withProfiles(data, ["*"]).data.services as Json)).toEqual(["web", "debug", "both"]);
  });

  it("extends in the same file: the base under the local service, chains followed, the local one winning", () => {
    const r = resolveLocalExtends(
      parse(`
services:
  base: {image: app, environment: {POOL: '2', WORKERS: '4'}, labels: [io.pooltuner.enabled=true]}
  mid: {extends: base, environment: {POOL: '3'}}
  web: {extends: {service: mid}, command: [gunicorn]}
`) as Json,
    );
    expect(r.problems).toEqual([]);
    expect((r.data.services as Json).web).toEqual({
      image: "app",
      environment: ["POOL=3", "WORKERS=4"],
      labels: ["io.pooltuner.enabled=true"],
      command: ["gunicorn"],
    });
  });

  it("extends: a cycle or a missing service is a problem, not a hang", () => {
    const r = resolveLocalExtends(parse("services: {a: {extends: b}, b: {extends: a}, c: {extends: nope}}") as Json);
    expect(r.problems.map((p) => p.service).sort()).toEqual(["a", "c"]);
  });
});

describe("compose projects on disk (override file, profiles, unsupported features, guards)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pooltuner-compose-merge-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (entries: Record<string, string>) => {
    for (const [name, text] of Object.entries(entries)) {
      await mkdir(join(dir, name, ".."), { recursive: true });
      await writeFile(join(dir, name), text);
    }
  };
  const BASE = `
name: shop
services:
  web:
    image: app
    command: gunicorn -w 4 app:app
    environment: {DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "1"}
    deploy: {replicas: 2}
    labels: {io.pooltuner.enabled: "true"}
  ops:
    image: app
    profiles: [ops]
    command: gunicorn -w 2 app:app
    labels: {io.pooltuner.enabled: "true"}
`;
  const current = (w: { workload: { current?: unknown } }) => w.workload.current;

  it("docker-compose.override.yml beside docker-compose.yml is merged, and not read again on its own", async () => {
    await write({
      "docker-compose.yml": BASE,
      "docker-compose.override.yml":
        "services:\n  web:\n    deploy: {replicas: 3}\n    environment: [DB_POOL_SIZE=7]\n",
    });
    for (const paths of [[join(dir, "docker-compose.yml")], [dir], [join(dir, "docker-compose.override.yml")]]) {
      const r = await loadSources(paths, { environment: {} });
      expect(r.errors.map(formatSourceFinding)).toEqual([]);
      expect(r.workloads.map((w) => [w.workload.id, w.workload.replicas])).toEqual([["compose:shop/web", 3]]);
      expect(current(r.workloads[0] as never)).toEqual({ poolSize: 7, maxOverflow: 1 });
      expect(r.files.map((f) => f.file)).toEqual([
        join(dir, "docker-compose.yml"),
        join(dir, "docker-compose.override.yml"),
      ]);
    }
  });

  it("compose.yaml takes compose.override.yml; a file with another name is read on its own (as docker compose -f)", async () => {
    await write({
      "compose.yaml": BASE,
      "compose.override.yml": "services: {web: {deploy: {replicas: 5}}}\n",
      "staging.yml": BASE.replace("name: shop", "name: staging"),
    });
    const r = await loadSources([join(dir, "compose.yaml"), join(dir, "staging.yml")], { environment: {} });
    expect(r.workloads.map((w) => [w.workload.id, w.workload.replicas])).toEqual([
      ["compose:shop/web", 5],
      ["compose:staging/web", 2],
    ]);
  });

  it("profiles: a service of an inactive profile is not planned; --compose-profile activates it", async () => {
    await write({ "compose.yaml": BASE });
    const off = await loadSources([join(dir, "compose.yaml")], { environment: {} });
    expect(off.workloads.map((w) => w.workload.id)).toEqual(["compose:shop/web"]);
    const on = await loadSources([join(dir, "compose.yaml")], { environment: {}, composeProfiles: ["ops"] });
    expect(on.workloads.map((w) => w.workload.id)).toEqual(["compose:shop/web", "compose:shop/ops"]);
  });

  it("extends is applied within each file before the files are merged (an override of the base is not inherited)", async () => {
    await write({
      "compose.yaml": `${BASE}  copy:\n    extends: web\n`,
      "compose.override.yml": "services:\n  web:\n    deploy: {replicas: 4}\n",
    });
    const r = await loadSources([join(dir, "compose.yaml")], { environment: {} });
    expect(r.workloads.map((w) => [w.workload.id, w.workload.replicas])).toEqual([
      ["compose:shop/web", 4],
      ["compose:shop/copy", 2],
    ]);
  });

  it("!reset and !override tags: a warning says they are read as plain values", async () => {
    await write({ "compose.yaml": BASE, "compose.override.yml": "services:\n  web:\n    labels: !reset {}\n" });
    const r = await loadSources([join(dir, "compose.yaml")], { environment: {} });
    expect(r.warnings.map(formatSourceFinding)).toContainEqual(
      expect.stringMatching(
        /compose.override.yml: the !reset and !override tags are not supported without a compose CLI/,
      ),
    );
  });

  it("include and extends from another file: a warning says what is not read", async () => {
    await write({
      "compose.yaml": `${BASE}  other:\n    extends: {file: common.yml, service: base}\ninclude:\n  - db/compose.yaml\n`,
    });
    const r = await loadSources([join(dir, "compose.yaml")], { environment: {} });
    expect(r.errors).toEqual([]);
    expect(r.warnings.map(formatSourceFinding).filter((w) => w.includes("not supported"))).toEqual([
      expect.stringMatching(
        /include.*not supported without a compose CLI: the services of db\/compose.yaml are not read/,
      ),
      expect.stringMatching(/service other.*extends.file.*not supported without a compose CLI: common.yml is not read/),
    ]);
  });

  it("an override file that is a FIFO, too large, or a symlink out of the project folder is refused in one line", async () => {
    await write({
      "a/compose.yaml": BASE,
      "b/compose.yaml": BASE,
      "c/compose.yaml": BASE,
      "outside.yml": "services: {}\n",
    });
    execFileSync("mkfifo", [join(dir, "a", "compose.override.yml")]);
    await writeFile(join(dir, "b", "compose.override.yml"), `# ${"x".repeat(2000)}\nservices: {}\n`);
    await symlink(join(dir, "outside.yml"), join(dir, "c", "compose.override.yml"));
    const r = await loadSources(
      [join(dir, "a", "compose.yaml"), join(dir, "b", "compose.yaml"), join(dir, "c", "compose.yaml")],
      {
        environment: {},
        maxFileBytes: 1024,
      },
    );
    expect(r.errors.map(formatSourceFinding)).toEqual([
      `${join(dir, "a", "compose.override.yml")}: is a named pipe (FIFO), not a regular file`,
      expect.stringContaining(`${join(dir, "b", "compose.override.yml")}: is 2 KiB, more than the 1 KiB allowed`),
      expect.stringContaining(
        `${join(dir, "c", "compose.override.yml")}: resolves (through a symlink) outside the project folder`,
      ),
    ]);
  });

  it("a compose CLI, when given, supplies the merged model; included files are checked with the guards first", async () => {
    await write({ "compose.yaml": `${BASE}include:\n  - ../elsewhere/compose.yaml\n  - https://example.com/x.yaml\n` });
    let called = 0;
    const r = await loadSources([join(dir, "compose.yaml")], {
      environment: {},
      composeCli: {
        available: async () => true,
        config: async () => {
          called++;
          return { ok: true, data: {} };
        },
      },
    });
    expect(called).toBe(0);
    expect(r.errors.map(formatSourceFinding)).toEqual([
      expect.stringContaining("../elsewhere/compose.yaml is outside the project folder"),
      expect.stringContaining("https://example.com/x.yaml: a remote include is refused"),
    ]);
  });

  it("env files of the CLI's model (printed absolute) are read under the guards and named as written", async () => {
    await write({ "compose.yaml": BASE, "app.env": "DB_POOL_SIZE=4\n" });
    const web = parse(BASE).services.web;
    const r = await loadSources([join(dir, "compose.yaml")], {
      environment: {},
      composeCli: {
        available: async () => true,
        config: async () => ({
          ok: true,
          data: {
            name: "shop",
            services: {
              web: { ...web, environment: {}, env_file: [{ path: join(dir, "app.env") }] },
              out: { ...web, environment: {}, env_file: [{ path: "/etc/hostname" }] },
            },
          },
        }),
      },
    });
    expect(r.errors.map(formatSourceFinding)).toEqual([
      expect.stringMatching(/service out.*env_file.*\/etc\/hostname is outside the project folder .*: refused/),
    ]);
    const planned = await loadSources([join(dir, "compose.yaml")], {
      environment: {},
      composeCli: {
        available: async () => true,
        config: async () => ({
          ok: true,
          data: {
            name: "shop",
            services: { web: { ...web, environment: {}, env_file: [{ path: join(dir, "app.env") }] } },
          },
        }),
      },
    });
    expect(planned.workloads[0]?.patchTarget?.envOrigin).toEqual({ DB_POOL_SIZE: "env_file app.env" });
  });

  it("the CLI's model is what is planned (files, projectDir and profiles passed as given)", async () => {
    await write({ "compose.yaml": BASE, "compose.override.yaml": "services: {}\n" });
    const seen: unknown[] = [];
    const r = await loadSources([join(dir, "compose.yaml")], {
      environment: {},
      composeProfiles: ["ops"],
      composeCli: {
        available: async () => true,
        config: async (input) => {
          seen.push(input);
          return { ok: true, data: { name: "fromcli", services: { web: parse(BASE).services.web } } };
        },
      },
    });
    expect(seen).toEqual([
      { files: [join(dir, "compose.yaml"), join(dir, "compose.override.yaml")], projectDir: dir, profiles: ["ops"] },
    ]);
    expect(r.workloads.map((w) => w.workload.id)).toEqual(["compose:fromcli/web"]);
  });
});
