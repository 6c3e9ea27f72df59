// `-o patch` round trip: the patches pooltuner prints, applied by the real tools a GitOps repository uses
// (kubectl's built-in kustomize; an edited env file for compose), leave nothing to change on a re-plan.
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { testBedBinary } from "../../support/testbed-bin.js";
import { REPO, runCli } from "./run-cli.js";

const run = promisify(execFile);
const EXAMPLE = join(REPO, "examples/lineage");
let kubectl: string;
let dir: string;

beforeAll(async () => {
  kubectl = await testBedBinary("kubectl");
  dir = await mkdtemp(join(tmpdir(), "pooltuner-patch-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface JsonPlan {
  readonly plan: { readonly workloads: readonly { id: string; change: string; processes: number }[] };
}

async function replan(paths: string[], flags: string[]): Promise<JsonPlan> {
  const r = await runCli(["plan", ...paths, ...flags, "-o", "json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as JsonPlan;
}

function envOf(doc: unknown, container: string): Map<string, unknown> {
  const spec = (doc as { spec: { template: { spec: { containers: { name: string; env?: unknown[] }[] } } } }).spec;
  const c = spec.template.spec.containers.find((x) => x.name === container);
  return new Map((c?.env ?? []).map((e) => [(e as { name: string }).name, e]));
}

describe("plan -o patch round trip", () => {
  it("kustomize applies the patch to the example manifests; the re-plan has nothing left to change", async () => {
    const flags = ["--max-connections", "20", "--unmanaged", "2"];
    const k = join(dir, "kube");
    await run("mkdir", ["-p", k]);
    for (const f of ["namespace.yaml", "mariadb.yaml", "app.yaml"]) {
      await copyFile(join(EXAMPLE, "kubernetes", f), join(k, f));
    }
    const before = await replan([k], flags);
    expect(before.plan.workloads.map((w) => w.change)).toEqual(["decrease"]);

    const patched = await runCli(["plan", k, ...flags, "-o", "patch"]);
    expect(patched.code, patched.stderr).toBe(0);
    expect(patched.stdout).toContain(`# file: ${join(k, "app.yaml")}`);
    await writeFile(join(k, "pooltuner-patch.yaml"), patched.stdout);
    await writeFile(
      join(k, "kustomization.yaml"),
      "resources:\n- namespace.yaml\n- mariadb.yaml\n- app.yaml\npatches:\n- path: pooltuner-patch.yaml\n",
    );
    const { stdout: rendered } = await run(kubectl, ["kustomize", k]);
    const out = join(dir, "rendered.yaml");
    await writeFile(out, rendered);

    // Independently: 2 replicas, HPA max 3, maxSurge 1 -> 4 pods x 4 workers = 16 processes; usable 20 - 2 - 2 = 16,
    // so the only safe cap is 1 per process, written as 1 + 0. The other env entries are kept as they were.
    const app = parseAllDocuments(rendered)
      .map((d) => d.toJS())
      .find((d) => d?.kind === "Deployment" && d.metadata.name === "lineage-app");
    const env = envOf(app, "app");
    expect(env.get("LINEAGE_DB_POOL_SIZE")).toEqual({ name: "LINEAGE_DB_POOL_SIZE", value: "1" });
    expect(env.get("LINEAGE_DB_MAX_OVERFLOW")).toEqual({ name: "LINEAGE_DB_MAX_OVERFLOW", value: "0" });
    expect(env.get("GUNICORN_WORKERS")).toEqual({ name: "GUNICORN_WORKERS", value: "4" });
    expect(env.get("DATABASE_URL")).toHaveProperty("valueFrom.secretKeyRef.name", "lineage-db");

    const after = await replan([out], flags);
    expect(after.plan.workloads.map((w) => [w.id, w.change])).toEqual([
      ["kube:lineage/Deployment/lineage-app", "none"],
    ]);
    // The pull-request job: plan what is deployed now (rendered with the committed patch), overwrite the patch file.
    // The same values come out, so the file is a fixed point and the rendering does not change.
    const again = await runCli(["plan", out, ...flags, "-o", "patch"]);
    expect(again.code, again.stderr).toBe(0);
    const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS());
    expect(docs(again.stdout)).toEqual(docs(patched.stdout));
    expect(again.stdout).toContain("# Deployment lineage/lineage-app: no change, pool_size 1 + max_overflow 0");
    await writeFile(join(k, "pooltuner-patch.yaml"), again.stdout);
    expect((await run(kubectl, ["kustomize", k])).stdout).toBe(rendered);
  });

  it("one document per planned workload in one file; a variable from a ConfigMap is named, not patched", async () => {
    const k = join(dir, "several");
    await run("mkdir", ["-p", k]);
    const workload = (kind: string, name: string, env: string) => `apiVersion: apps/v1
kind: ${kind}
metadata:
  name: ${name}
  namespace: shop
  annotations:
    pooltuner.io/enabled: "true"
    pooltuner.io/database: main
    pooltuner.io/workers: "2"
spec:
  replicas: 2
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: web
          image: web
${env}
`;
    await writeFile(
      join(k, "apps.yaml"),
      [
        workload("Deployment", "api", "          env:\n            - { name: DB_POOL_SIZE, value: '5' }"),
        workload("StatefulSet", "worker", ""),
        workload(
          "Deployment",
          "cm",
          "          env:\n            - name: DB_POOL_SIZE\n              valueFrom: { configMapKeyRef: { name: cm-pool, key: size } }",
        ),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm-pool, namespace: shop }\ndata: { size: '5' }\n",
      ].join("---\n"),
    );
    const flags = ["--max-connections", "40", "--unmanaged", "0", "--reserve", "0"];
    const patched = await runCli(["plan", k, ...flags, "-o", "patch"]);
    expect(patched.code, patched.stderr).toBe(0);
    const docs = parseAllDocuments(patched.stdout)
      .map((d) => d.toJS())
      .filter((d) => d !== null);
    expect(docs.map((d) => `${d.kind}/${d.metadata.namespace}/${d.metadata.name}`).sort()).toEqual([
      "Deployment/shop/api",
      "Deployment/shop/cm",
      "StatefulSet/shop/worker",
    ]);
    // The ConfigMap-fed variable is left to the ConfigMap; only max overflow is patched there.
    expect([
      ...envOf(
        docs.find((d) => d.metadata.name === "cm"),
        "web",
      ).keys(),
    ]).toEqual(["DB_MAX_OVERFLOW"]);
    expect(patched.stdout).toMatch(/# DB_POOL_SIZE comes from ConfigMap cm-pool key size: set it to "\d+" there/);

    await writeFile(join(k, "patch.yaml"), patched.stdout);
    await writeFile(join(k, "kustomization.yaml"), "resources:\n- apps.yaml\npatches:\n- path: patch.yaml\n");
    const { stdout: rendered } = await run(kubectl, ["kustomize", k]);
    const out = join(dir, "several-rendered.yaml");
    await writeFile(out, rendered);
    const after = await replan([out], flags);
    // Independently: 3 workloads x 2 replicas (+1 surge for the Deployments) x 2 workers = 6 + 4 + 6 = 16 processes
    // share 40 connections. The two fully patched ones are settled; the ConfigMap one still waits for its ConfigMap.
    expect(after.plan.workloads.map((w) => w.processes).reduce((a, b) => a + b)).toBe(16);
    const changes = Object.fromEntries(after.plan.workloads.map((w) => [w.id, w.change]));
    expect(changes["kube:shop/Deployment/api"]).toBe("none");
    expect(changes["kube:shop/StatefulSet/worker"]).toBe("none");
  });

  it("compose: the KEY=VALUE lines written into the service's env file leave nothing to change", async () => {
    const c = join(dir, "compose");
    await run("mkdir", ["-p", c]);
    for (const f of ["docker-compose.yml", "lineage.env"]) await copyFile(join(EXAMPLE, f), join(c, f));
    const flags = ["--max-connections", "20", "--unmanaged", "2"];
    const patched = await runCli(["plan", join(c, "docker-compose.yml"), ...flags, "-o", "patch"]);
    expect(patched.code, patched.stderr).toBe(0);
    expect(patched.stdout).toContain("# LINEAGE_DB_POOL_SIZE is set now in env_file lineage.env");
    const lines = patched.stdout.split("\n").filter((l) => /^[A-Z_]+=/.test(l));
    // Independently: 2 containers x 4 workers = 8 processes, stop-first (no surge); usable 20 - 2 - 2 = 16 -> cap 2.
    expect(lines).toEqual(["LINEAGE_DB_POOL_SIZE=1", "LINEAGE_DB_MAX_OVERFLOW=1"]);

    // What a person does with them: replace those keys in the env file the comment names.
    const envFile = join(c, "lineage.env");
    const keys = new Map(lines.map((l) => l.split("=") as [string, string]));
    const edited = (await readFile(envFile, "utf8"))
      .split("\n")
      .map((l) => {
        const key = l.split("=")[0] as string;
        return keys.has(key) ? `${key}=${keys.get(key)}` : l;
      })
      .join("\n");
    await writeFile(envFile, edited);
    const after = await replan([join(c, "docker-compose.yml")], flags);
    expect(after.plan.workloads.map((w) => [w.id, w.change])).toEqual([["compose:lineage/app", "none"]]);
  });

  it("compose: the whole output as the env file listed last (.pooltuner/app.env) is a fixed point", async () => {
    const c = join(dir, "compose-last");
    await run("mkdir", ["-p", join(c, ".pooltuner")]);
    for (const f of ["docker-compose.yml", "lineage.env"]) await copyFile(join(EXAMPLE, f), join(c, f));
    const flags = ["--max-connections", "20", "--unmanaged", "2"];
    const compose = join(c, "docker-compose.yml");
    const first = await runCli(["plan", compose, ...flags, "-o", "patch"]);
    expect(first.code, first.stderr).toBe(0);
    // The file the example lists after lineage.env (`required: false`): comments and all, as printed.
    await writeFile(join(c, ".pooltuner/app.env"), first.stdout);
    const after = await replan([compose], flags);
    expect(after.plan.workloads.map((w) => [w.id, w.change])).toEqual([["compose:lineage/app", "none"]]);
    const second = await runCli(["plan", compose, ...flags, "-o", "patch"]);
    const settings = (text: string) => text.split("\n").filter((l) => /^[A-Z_]+=/.test(l));
    expect(settings(second.stdout)).toEqual(["LINEAGE_DB_POOL_SIZE=1", "LINEAGE_DB_MAX_OVERFLOW=1"]);
    expect(second.stdout).toContain("# LINEAGE_DB_POOL_SIZE is set now in env_file .pooltuner/app.env");
  });
});
