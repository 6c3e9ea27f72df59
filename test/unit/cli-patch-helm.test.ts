// `-o patch` for workloads annotated `pooltuner.io/helm-values`: a Helm values fragment, through the real CLI spawned
// as a process. The expected values are worked out here from DESIGN §3, not read from pooltuner's own output:
// 2 replicas with the default 25 % surge (rounded up: 1) are 3 pods; 4 workers each make 12 processes; 20
// max_connections - 2 reserve - 2 unmanaged leave 16, so the cap is floor(16 / 12) = 1 per process, written as
// pool_size 1 + max_overflow 0 (pool_size is at least 1, max_overflow the rest).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { runCli } from "../integration/cli/run-cli.js";

const TIGHT = ["--max-connections", "20", "--unmanaged", "2"];
const PASSWORD = "hunter2-s3cret";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pt-helm-patch-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A Deployment as `helm template` would render it: 2 replicas, 4 workers, the given env and annotations. */
function deployment(name: string, annotations: Record<string, string>, env: string, database = "main"): string {
  const lines = Object.entries(annotations).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: shop
  annotations:
    pooltuner.io/enabled: "true"
    pooltuner.io/database: ${database}
    pooltuner.io/workers: "4"
${lines.join("\n")}
spec:
  replicas: 2
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: web
          image: web
          env:
${env}
`;
}

const ENV = `            - { name: DB_POOL_SIZE, value: "5" }
            - { name: DB_MAX_OVERFLOW, value: "10" }
            - { name: DATABASE_URL, value: "mysql://app:${PASSWORD}@db:3306/shop" }`;

async function files(name: string, content: Record<string, string>): Promise<string> {
  const d = join(dir, name);
  await mkdir(d);
  for (const [f, text] of Object.entries(content)) await writeFile(join(d, f), text);
  return d;
}

describe("-o patch with pooltuner.io/helm-values", { timeout: 120_000 }, () => {
  it("map form: only the pool variables at the path, as strings, under a header naming the workload", async () => {
    const d = await files("map", {
      "rendered.yaml": deployment("web", { "pooltuner.io/helm-values": "web.env" }, ENV),
    });
    const r = await runCli(["plan", join(d, "rendered.yaml"), ...TIGHT, "-o", "patch"]);
    expect(r.code, r.stderr).toBe(0);
    expect(parseYaml(r.stdout)).toEqual({ web: { env: { DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "0" } } });
    expect(r.stdout).toMatch(/^# pooltuner: Helm values fragment/);
    expect(r.stdout).toContain(
      `# Deployment shop/web (file: ${join(d, "rendered.yaml")}): decrease pool_size 5 + max_overflow 10 -> pool_size 1 + max_overflow 0 per process`,
    );
    expect(r.stdout).toContain("# values web.env: a map of name: value (merged key by key)");
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(r.stdout).not.toContain("DATABASE_URL");
    // No kustomize document: a single YAML document, no `---`, no kind.
    expect(parseAllDocuments(r.stdout)).toHaveLength(1);
  });

  it("list form (known from --helm-values): the whole list repeated, pool entries set, a missing one appended", async () => {
    const values = `web:
  image: web
  env:
    - name: GUNICORN_WORKERS
      value: "4"
    - name: DB_POOL_SIZE
      value: "5"
    - name: DATABASE_URL
      valueFrom: { secretKeyRef: { name: shop-db, key: url } }
`;
    // Rendered as the chart renders it: the list as it is (here without the overflow variable, so it is appended).
    const env = `            - { name: GUNICORN_WORKERS, value: "4" }
            - { name: DB_POOL_SIZE, value: "5" }
            - name: DATABASE_URL
              valueFrom: { secretKeyRef: { name: shop-db, key: url } }`;
    const d = await files("list", {
      "rendered.yaml": deployment("web", { "pooltuner.io/helm-values": "web.env" }, env),
      "values.yaml": values,
    });
    const r = await runCli([
      "plan",
      join(d, "rendered.yaml"),
      ...TIGHT,
      "-o",
      "patch",
      "--helm-values",
      join(d, "values.yaml"),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(parseYaml(r.stdout)).toEqual({
      web: {
        env: [
          { name: "GUNICORN_WORKERS", value: "4" },
          { name: "DB_POOL_SIZE", value: "1" },
          { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "shop-db", key: "url" } } },
          { name: "DB_MAX_OVERFLOW", value: "0" },
        ],
      },
    });
    expect(r.stdout).toContain(`# values web.env: a list in ${join(d, "values.yaml")}; Helm replaces a list whole`);

    // A map in the values file: the same fragment as without it, said to be a map.
    await writeFile(join(d, "map.yaml"), 'web:\n  env:\n    DB_POOL_SIZE: "5"\n');
    const m = await runCli([
      "plan",
      join(d, "rendered.yaml"),
      ...TIGHT,
      "-o",
      "patch",
      "--helm-values",
      join(d, "map.yaml"),
    ]);
    expect(m.code, m.stderr).toBe(0);
    expect(parseYaml(m.stdout)).toEqual({ web: { env: { DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "0" } } });
    expect(m.stdout).toContain("# values web.env: a map, merged key by key by Helm");
  });

  it("a variable from a ConfigMap is left to it, with a comment; the other one is in the fragment", async () => {
    const env = `            - name: DB_POOL_SIZE
              valueFrom: { configMapKeyRef: { name: web-pool, key: size } }
            - { name: DB_MAX_OVERFLOW, value: "10" }`;
    const d = await files("configmap", {
      "rendered.yaml": [
        deployment("web", { "pooltuner.io/helm-values": "web.env" }, env),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: web-pool, namespace: shop }\ndata: { size: '5' }\n",
      ].join("---\n"),
    });
    const r = await runCli(["plan", join(d, "rendered.yaml"), ...TIGHT, "-o", "patch"]);
    expect(r.code, r.stderr).toBe(0);
    expect(parseYaml(r.stdout)).toEqual({ web: { env: { DB_MAX_OVERFLOW: "0" } } });
    expect(r.stdout).toContain(
      '# DB_POOL_SIZE comes from ConfigMap web-pool key size: set it to "1" there (not in this fragment)',
    );
  });

  it("a workload without the annotation still gets its kustomize patch; both kinds in one run: exit 2", async () => {
    const d = await files("plain", {
      "plain.yaml": deployment("plain", {}, ENV),
      "helm.yaml": deployment("chart", { "pooltuner.io/helm-values": "env" }, ENV),
    });
    const values = join(dir, "plain-values.yaml");
    await writeFile(values, "env: {}\n");
    const plain = await runCli(["plan", join(d, "plain.yaml"), ...TIGHT, "-o", "patch", "--helm-values", values]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toContain(
      "--helm-values: no workload is annotated pooltuner.io/helm-values, so the values are not used",
    );
    const docs = parseAllDocuments(plain.stdout)
      .map((x) => x.toJS())
      .filter((x) => x !== null);
    expect(docs).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "plain", namespace: "shop" },
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: "web",
                  env: [
                    { name: "DB_POOL_SIZE", value: "1" },
                    { name: "DB_MAX_OVERFLOW", value: "0" },
                  ],
                },
              ],
            },
          },
        },
      },
    ]);

    const both = await runCli(["plan", d, ...TIGHT, "-o", "patch"]);
    expect(both.code).toBe(2);
    expect(both.stdout).toBe("");
    expect(both.stderr).toContain(
      "-o patch: Deployment shop/chart takes its env from Helm values (pooltuner.io/helm-values) and Deployment shop/plain does not",
    );
    expect(both.stderr).not.toContain(PASSWORD);
  });

  it("a bad path: not a path (annotation finding), not in the values file, or not a map or list there: exit 2", async () => {
    const d = await files("bad", {
      "syntax.yaml": deployment("web", { "pooltuner.io/helm-values": "web..env" }, ENV),
      "missing.yaml": deployment("web", { "pooltuner.io/helm-values": "web.envs" }, ENV),
      "scalar.yaml": deployment("web", { "pooltuner.io/helm-values": "web.image" }, ENV),
      "values.yaml": "web:\n  image: web\n  env: {}\n",
    });
    const values = ["--helm-values", join(d, "values.yaml")];
    const syntax = await runCli(["plan", join(d, "syntax.yaml"), ...TIGHT, "-o", "patch"]);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain(
      // The rejected value is described, not quoted (the rule for every annotation: it might be a pasted secret).
      `Deployment shop/web: pooltuner.io/helm-values=<a 8-character value, not shown>: must be a dotted path into the chart's values`,
    );

    const missing = await runCli(["plan", join(d, "missing.yaml"), ...TIGHT, "-o", "patch", ...values]);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe("");
    expect(missing.stderr.trim()).toBe(
      `error: Deployment shop/web: pooltuner.io/helm-values "web.envs": ${join(d, "values.yaml")} have no web.envs (web has image, env); name the values path the chart reads the container's env from`,
    );
    expect(missing.stderr).not.toContain(PASSWORD);

    const scalar = await runCli(["plan", join(d, "scalar.yaml"), ...TIGHT, "-o", "patch", ...values]);
    expect(scalar.code).toBe(2);
    expect(scalar.stderr).toContain('pooltuner.io/helm-values "web.image": is a string in');
    // The same annotations with any other output: the path only matters for the fragment.
    expect((await runCli(["plan", join(d, "missing.yaml"), ...TIGHT, ...values])).code).toBe(0);
  });

  it("list form: an entry holding a literal credential is not copied (exit 2, its name only, never its value)", async () => {
    for (const [name, value] of [
      ["DATABASE_URL", `mysql://app:${PASSWORD}@db:3306/shop`],
      ["API_TOKEN", PASSWORD],
    ] as const) {
      const d = await files(`secret-${name}`, {
        "rendered.yaml": deployment("web", { "pooltuner.io/helm-values": "web.env" }, ENV),
        "values.yaml": `web:\n  env:\n    - { name: DB_POOL_SIZE, value: "5" }\n    - { name: ${name}, value: "${value}" }\n`,
      });
      const r = await runCli([
        "plan",
        join(d, "rendered.yaml"),
        ...TIGHT,
        "-o",
        "patch",
        "--helm-values",
        join(d, "values.yaml"),
      ]);
      expect(r.code, name).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(
        `Deployment shop/web: web.env is a list, so the fragment must repeat it, and its entry ${name} holds a literal value that looks like a credential`,
      );
      expect(r.stderr).not.toContain(PASSWORD);
    }
  });

  it("two workloads on one values path that need different values: exit 2 naming both", async () => {
    // `a` on a roomy database gets the table's 1 + 2; `b` on the tight one 1 + 0 (see the header).
    const d = await files("clash", {
      "rendered.yaml": [
        deployment("a", { "pooltuner.io/helm-values": "env" }, ENV, "roomy"),
        deployment("b", { "pooltuner.io/helm-values": "env" }, ENV, "tight"),
      ].join("---\n"),
    });
    const flags = ["--max-connections", "roomy=500", "--unmanaged", "roomy=0"];
    flags.push("--max-connections", "tight=20", "--unmanaged", "tight=2");
    const r = await runCli(["plan", join(d, "rendered.yaml"), ...flags, "-o", "patch"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /-o patch: Deployment shop\/b and Deployment shop\/a take their env from the same Helm values \(env\.DB_(POOL_SIZE|MAX_OVERFLOW)\) but need different values/,
    );
  });
});
