// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are compose/shell `${VAR}` syntax, on purpose
// docker-compose files read from real temp directories (STYLE 10).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { interpolate, parseEnvFile } from "../../src/sources/dotenv.js";
import { formatSourceFinding } from "../../src/sources/findings.js";
import { loadSources } from "../../src/sources/load.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pooltuner-compose-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(entries: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(entries)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}
const load = (paths: string[], environment: Record<string, string> = {}) =>
  loadSources(
    paths.map((p) => join(dir, p)),
    { environment },
  );

describe("compose files", () => {
  it("reads the seed's service: labels (map), replicas, env_file, limits, project from name:", async () => {
    await files({
      "docker-compose.yml": `
name: Lineage
services:
  db:
    image: mariadb:10.11
  app:
    image: app
    command: gunicorn -c gunicorn.conf.py app:app
    env_file: app.env
    deploy:
      replicas: 2
      resources:
        limits: { cpus: "0.5", memory: 512M }
    labels:
      io.pooltuner.enabled: "true"
      io.pooltuner.database: lineage
      io.pooltuner.pool-size-env: LINEAGE_DB_POOL_SIZE
      io.pooltuner.max-overflow-env: LINEAGE_DB_MAX_OVERFLOW
`,
      "app.env": `# the seed's .env
GUNICORN_WORKERS=4
LINEAGE_DB_POOL_SIZE=2
export LINEAGE_DB_MAX_OVERFLOW="3"
DATABASE_URL=mysql+pymysql://lineage:pw@db:3306/lineage
`,
    });
    const r = await load(["docker-compose.yml"]);
    expect(r.errors).toEqual([]);
    expect(r.files).toEqual([{ file: join(dir, "docker-compose.yml"), kind: "compose" }]);
    expect(r.workloads).toHaveLength(1);
    const w = r.workloads[0];
    expect(w?.workload).toEqual({
      id: "compose:lineage/app",
      kind: "ComposeService",
      database: "lineage",
      account: "lineage",
      replicas: 2,
      rollout: { type: "StopFirst" },
      workers: 4,
      resources: { cpuMillis: 500, memoryBytes: 512 * 2 ** 20 },
      weight: 1,
      current: { poolSize: 2, maxOverflow: 3 },
      writes: {
        kind: "pool-overflow",
        profile: "sqlalchemy",
        poolSizeEnv: "LINEAGE_DB_POOL_SIZE",
        maxOverflowEnv: "LINEAGE_DB_MAX_OVERFLOW",
      },
    });
    expect(w?.workersFrom).toBe("env GUNICORN_WORKERS");
    expect(w?.accountFrom).toBe("user in env DATABASE_URL");
  });

  it("list-form labels and environment, scale, cpus/mem_limit, --workers in the command, project from the folder", async () => {
    await files({
      "My Project/compose.yaml": `
services:
  api:
    image: api
    scale: 3
    cpus: 2
    mem_limit: 1g
    command: ["gunicorn", "--workers", "6", "api:app"]
    environment:
      - DB_POOL_SIZE=1
      - DB_MAX_OVERFLOW=0
    labels:
      - io.pooltuner.enabled=true
      - io.pooltuner.weight=2
`,
    });
    const r = await load(["My Project/compose.yaml"]);
    expect(r.errors).toEqual([]);
    expect(r.workloads[0]?.workload).toMatchObject({
      id: "compose:myproject/api",
      replicas: 3,
      workers: 6,
      weight: 2,
      resources: { cpuMillis: 2000, memoryBytes: 2 ** 30 },
      current: { poolSize: 1, maxOverflow: 0 },
    });
    expect(r.workloads[0]?.workload.database).toBeUndefined();
  });

  it("interpolates ${VAR} and ${VAR:-default} from .env, the shell winning; environment overrides env_file", async () => {
    await files({
      "docker-compose.yml": `
services:
  app:
    image: app
    env_file: [common.env, { path: optional.env, required: false }]
    environment:
      DB_POOL_SIZE: \${POOL}
      DB_MAX_OVERFLOW: \${OVERFLOW:-2}
      WEB_CONCURRENCY: \${WORKERS}
    deploy:
      replicas: \${REPLICAS:-1}
    labels:
      io.pooltuner.enabled: "\${MANAGED}"
`,
      ".env": "POOL=3\nWORKERS=2\nMANAGED=true\nREPLICAS=5\n",
      "common.env": "DB_POOL_SIZE=9\nDB_MAX_OVERFLOW=9\n",
    });
    const r = await load(["docker-compose.yml"], { WORKERS: "7" });
    expect(r.errors).toEqual([]);
    // compose interpolates `deploy.replicas: ${REPLICAS}` into the string "5"
    expect(r.workloads[0]?.workload).toMatchObject({
      replicas: 5,
      workers: 7,
      current: { poolSize: 3, maxOverflow: 2 },
    });
  });

  it("warns for unset variables and fails for ${VAR:?}", async () => {
    await files({
      "docker-compose.yml": `
services:
  app:
    image: app
    environment:
      DB_POOL_SIZE: "\${UNSET_POOL}1"
      WEB_CONCURRENCY: "\${WORKERS:?set WORKERS}"
    labels: { io.pooltuner.enabled: "true" }
`,
    });
    const r = await load(["docker-compose.yml"]);
    expect(r.warnings.map(formatSourceFinding)).toContainEqual(
      expect.stringMatching(
        /service app: environment\.DB_POOL_SIZE: variable UNSET_POOL is not set; using an empty string$/,
      ),
    );
    expect(r.errors.map(formatSourceFinding)).toEqual([
      expect.stringMatching(
        /docker-compose\.yml: service app: environment\.WEB_CONCURRENCY: required variable WORKERS is missing a value: set WORKERS$/,
      ),
      // ... so the worker count is not known either: never assumed
      expect.stringMatching(/service app: io\.pooltuner\.workers: worker processes per container unknown/),
    ]);
  });

  it("a bad value is one line naming the file, the service and the field", async () => {
    await files({
      "docker-compose.yml": `
services:
  app:
    image: app
    deploy:
      replicas: two
      resources: { limits: { memory: lots } }
    environment: { DB_POOL_SIZE: "2.5", GUNICORN_WORKERS: "4" }
    labels: { io.pooltuner.enabled: "true", io.pooltuner.update-mode: sometimes }
`,
    });
    const r = await load(["docker-compose.yml"]);
    const lines = r.errors.map(formatSourceFinding);
    const file = join(dir, "docker-compose.yml");
    expect(lines.sort()).toEqual(
      [
        `${file}: service app: io.pooltuner.update-mode=<a 9-character value, not shown>: must be "auto" or "off"`,
        `${file}: service app: deploy.replicas: must be a whole number from 0 to 100000, got <a 3-character value, not shown>`,
        `${file}: service app: deploy.resources.limits.memory: <a 4-character value, not shown> is not a size (examples: 512m, 1.5g, 2gb, 1073741824)`,
        `${file}: service app: env DB_POOL_SIZE="2.5": must be a whole number from -1 to 100000 (SQLAlchemy pool_size)`,
      ].sort(),
    );
    for (const l of lines) expect(l).not.toContain("\n");
  });

  it("a missing env_file is an error; services without the opt-in label are not workloads", async () => {
    await files({
      "docker-compose.yml": `
services:
  app:
    image: app
    env_file: missing.env
    labels: { io.pooltuner.enabled: "true", io.pooltuner.workers: "2" }
  worker:
    image: app
    env_file: also-missing.env
`,
    });
    const r = await load(["docker-compose.yml"]);
    expect(r.workloads.map((w) => w.workload.id)).toEqual([`compose:${dir.split("/").pop()?.toLowerCase()}/app`]);
    expect(r.errors.map(formatSourceFinding)).toEqual([
      expect.stringMatching(/service app: env_file: .*missing\.env does not exist$/),
    ]);
  });

  it("YAML anchors and merge keys work", async () => {
    await files({
      "docker-compose.yml": `
x-app: &app
  image: app
  environment: { GUNICORN_WORKERS: "3", DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "1" }
  labels: { io.pooltuner.enabled: "true" }
services:
  a: { <<: *app }
  b:
    <<: *app
    deploy: { replicas: 2 }
`,
    });
    const r = await load(["docker-compose.yml"]);
    expect(r.errors).toEqual([]);
    expect(r.workloads.map((w) => [w.workload.id.split("/")[1], w.workload.replicas, w.workload.workers])).toEqual([
      ["a", 1, 3],
      ["b", 2, 3],
    ]);
  });

  it("max-replicas label: carried to the snapshot; a bad value is one error naming the label", async () => {
    await files({
      "docker-compose.yml": `
services:
  app:
    image: app
    command: gunicorn --workers 2 app:app
    labels: { io.pooltuner.enabled: "true", io.pooltuner.max-replicas: "4" }
  stopped:
    image: app
    command: gunicorn --workers 2 app:app
    deploy: { replicas: 0 }
    labels: { io.pooltuner.enabled: "true", io.pooltuner.max-replicas: 3 }
  bad:
    image: app
    command: gunicorn --workers 2 app:app
    labels: { io.pooltuner.enabled: "true", io.pooltuner.max-replicas: "a few" }
`,
    });
    const r = await load(["docker-compose.yml"]);
    const byName = Object.fromEntries(r.workloads.map((w) => [w.workload.id.split("/")[1], w.workload]));
    expect(byName.app).toMatchObject({ replicas: 1, maxReplicas: 4, workers: 2 });
    expect(byName.stopped).toMatchObject({ replicas: 0, maxReplicas: 3 });
    expect(byName.bad?.maxReplicas).toBeUndefined();
    expect(r.errors.map(formatSourceFinding)).toEqual([
      `${join(dir, "docker-compose.yml")}: service bad: io.pooltuner.max-replicas=<a 5-character value, not shown>: must be a whole number of replicas from 0 to 100000: the most the workload is scaled to by hand`,
    ]);
  });

  it("no worker count (the seed's gunicorn -c gunicorn.conf.py alone): unknown, one error naming the label", async () => {
    await files({
      "docker-compose.yml": `
services:
  app:
    image: app
    command: gunicorn -c gunicorn.conf.py --threads 4 app:app
    environment: { DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "3" }
    labels: { io.pooltuner.enabled: "true" }
  api:
    image: api
    command: uvicorn api:app --host 0.0.0.0 --workers 3
    labels: { io.pooltuner.enabled: "true" }
`,
    });
    const r = await load(["docker-compose.yml"]);
    const byName = Object.fromEntries(r.workloads.map((w) => [w.workload.id.split("/")[1], w.workload]));
    expect(byName.app?.workers).toBe("unknown");
    expect(byName.api?.workers).toBe(3);
    expect(r.errors.map(formatSourceFinding)).toEqual([
      `${join(dir, "docker-compose.yml")}: service app: io.pooltuner.workers: worker processes per container unknown: no --workers/-w in the command or GUNICORN_CMD_ARGS, no GUNICORN_WORKERS or WEB_CONCURRENCY (Gunicorn may also read them from -c FILE, --config or ./gunicorn.conf.py, which cannot be seen from here); the workload is not planned and not changed until you set io.pooltuner.workers to the worker processes per container (or io.pooltuner.workers-env to the variable that holds them)`,
    ]);
  });

  it("start-first update order adds a surge container", async () => {
    await files({
      "docker-compose.yml": `
services:
  app:
    image: app
    deploy: { update_config: { order: start-first } }
    labels: { io.pooltuner.enabled: "true", io.pooltuner.workers: "2" }
`,
    });
    const r = await load(["docker-compose.yml"]);
    expect(r.workloads[0]?.workload.rollout).toEqual({ type: "StartFirst" });
  });
});

describe("file detection", () => {
  it("tells compose from manifests by content, skips other YAML in folders, rejects it when named", async () => {
    await files({
      "stack/ops.yml":
        "services:\n  app:\n    image: x\n    labels: { io.pooltuner.enabled: 'true', io.pooltuner.workers: '1' }\n",
      "stack/k8s.txt.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\ndata: {}\n",
      "stack/values.yaml": "replicaCount: 2\n",
      "stack/chart/templates/d.yaml":
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  labels: {{ toYaml . }}\n",
      "stack/.hidden/x.yaml": "services: {",
      "stack/README.md": "# not yaml",
    });
    const r = await load(["stack"]);
    expect(r.errors).toEqual([]);
    expect(r.files.map((f) => [f.file.slice(dir.length + 1), f.kind])).toEqual([
      ["stack/k8s.txt.yaml", "kubernetes"],
      ["stack/ops.yml", "compose"],
    ]);
    expect(r.skipped.map((f) => f.slice(dir.length + 1)).sort()).toEqual([
      "stack/chart/templates/d.yaml",
      "stack/values.yaml",
    ]);

    const named = await load(["stack/values.yaml"]);
    expect(named.errors.map(formatSourceFinding)).toEqual([
      expect.stringMatching(/values\.yaml: neither a docker-compose file .* nor Kubernetes manifests/),
    ]);
  });

  it("invalid YAML names the file and line; a missing path is an error", async () => {
    await files({ "bad.yml": "services:\n  app:\n    image: [x\n" });
    const r = await load(["bad.yml", "nope.yml"]);
    const lines = r.errors.map(formatSourceFinding);
    expect(lines).toHaveLength(2);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/bad\.yml:4: invalid YAML: /),
        expect.stringMatching(/nope\.yml: no such file or folder$/),
      ]),
    );
  });

  it("the same workload twice is an error naming both files", async () => {
    const compose =
      "name: p\nservices:\n  app:\n    image: x\n    labels: { io.pooltuner.enabled: 'true', io.pooltuner.workers: '1' }\n";
    await files({ "a/docker-compose.yml": compose, "b/docker-compose.yml": compose });
    const r = await load(["a/docker-compose.yml", "b/docker-compose.yml"]);
    expect(r.workloads).toHaveLength(1);
    expect(r.errors.map(formatSourceFinding)).toEqual([
      expect.stringMatching(
        /b\/docker-compose\.yml: service app: compose:p\/app is also defined in .*a\/docker-compose\.yml/,
      ),
    ]);
  });
});

describe("env files and interpolation", () => {
  it("parses quotes, comments, export and bare keys", () => {
    const r = parseEnvFile(
      [
        "# comment",
        "",
        "A=1",
        "export B = two words # trailing comment",
        "C='single ${A} #kept'",
        'D="double ${A}\\n"',
        "E=${A}${B:-x}",
        "F",
        "G=",
        "not a line",
      ].join("\n"),
      (n) => (n === "F" ? "from-shell" : undefined),
    );
    expect(Object.fromEntries(r.vars)).toEqual({
      A: "1",
      B: "two words",
      C: "single ${A} #kept",
      D: "double 1\n",
      E: "1two words",
      F: "from-shell",
      G: "",
    });
    expect(r.errors).toEqual([{ line: 10, message: "is not KEY=VALUE (content not shown)" }]);
  });

  it("interpolation forms", () => {
    const env: Record<string, string> = { SET: "v", EMPTY: "" };
    const lookup = (n: string) => env[n];
    const v = (s: string) => interpolate(s, lookup).value;
    expect(v("$SET-${SET}-$$SET")).toBe("v-v-$SET");
    expect(v("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}")).toBe("d||d");
    expect(v("${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}")).toBe("alt||alt");
    expect(v("${UNSET:-${SET}x}")).toBe("vx");
    expect(interpolate("${UNSET}", lookup).missing).toEqual(["UNSET"]);
    expect(interpolate("${UNSET:?need it}", lookup).errors).toEqual([
      "required variable UNSET is missing a value: need it",
    ]);
    expect(interpolate("${1BAD}", lookup).errors).toHaveLength(1);
  });
});
