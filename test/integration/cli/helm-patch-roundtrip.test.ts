// `-o patch` round trip through Helm: the example chart (examples/lineage/helm), whose Deployment takes its pool env
// from a values map and whose StatefulSet from a values list, rendered by the test bed's real `helm template`; the
// values fragment pooltuner prints, given back to `helm template -f`, leaves nothing to change on a re-plan.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { testBedBinary } from "../../support/testbed-bin.js";
import { REPO, runCli } from "./run-cli.js";

const run = promisify(execFile);
const CHART = join(REPO, "examples/lineage/helm");
const VALUES = join(CHART, "values.yaml");
const FLAGS = ["--max-connections", "20", "--unmanaged", "2"];
let helm: string;
let dir: string;

beforeAll(async () => {
  helm = await testBedBinary("helm");
  dir = await mkdtemp(join(tmpdir(), "pooltuner-helm-patch-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `helm template` of the example chart with these extra values files, written to a file for pooltuner. */
async function render(name: string, extra: readonly string[] = []): Promise<{ file: string; text: string }> {
  const args = ["template", "shop", CHART, "--namespace", "lineage", ...extra.flatMap((f) => ["-f", f])];
  const { stdout } = await run(helm, args);
  const file = join(dir, name);
  await writeFile(file, stdout);
  return { file, text: stdout };
}

interface JsonPlan {
  readonly plan: { readonly workloads: readonly { id: string; change: string; processes: number }[] };
}

async function replan(file: string): Promise<JsonPlan> {
  const r = await runCli(["plan", file, ...FLAGS, "-o", "json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as JsonPlan;
}

function envOf(rendered: string, kind: string, name: string): unknown[] {
  const doc = parseAllDocuments(rendered)
    .map((d) => d.toJS())
    .find((d) => d?.kind === kind && d.metadata.name === name);
  return doc.spec.template.spec.containers[0].env;
}

describe("plan -o patch round trip through helm template", () => {
  it("the fragment, given to helm template -f, leaves nothing to change; a second run yields the same fragment", async () => {
    const before = await render("before.yaml");
    const first = await replan(before.file);
    expect(first.plan.workloads.map((w) => [w.id, w.change, w.processes])).toEqual([
      ["kube:lineage/Deployment/shop-web", "decrease", 9],
      ["kube:lineage/StatefulSet/shop-worker", "decrease", 6],
    ]);

    const patched = await runCli(["plan", before.file, ...FLAGS, "-o", "patch", "--helm-values", VALUES]);
    expect(patched.code, patched.stderr).toBe(0);
    expect(patched.stdout).toContain("# Deployment lineage/shop-web (file: ");
    expect(patched.stdout).toContain("# StatefulSet lineage/shop-worker (file: ");
    // Independently (DESIGN §3): web: 2 replicas + maxSurge 1 = 3 pods x 3 workers (GUNICORN_WORKERS) = 9 processes;
    // worker: a StatefulSet (no surge), 2 pods x 3 = 6. Usable 20 - 2 reserve - 2 unmanaged = 16 >= 15: 1 per
    // process fits, and raising either by one would add 6 or 9 more. Cap 1 is pool_size 1 + max_overflow 0.
    // The map gets only the two variables; the list is repeated whole (Helm replaces lists), LOG_LEVEL included.
    expect(parseYaml(patched.stdout)).toEqual({
      web: { env: { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "0" } },
      worker: {
        extraEnv: [
          { name: "LOG_LEVEL", value: "info" },
          { name: "LINEAGE_DB_POOL_SIZE", value: "1" },
          { name: "LINEAGE_DB_MAX_OVERFLOW", value: "0" },
        ],
      },
    });
    const fragment = join(dir, "pooltuner-values.yaml");
    await writeFile(fragment, patched.stdout);

    const after = await render("after.yaml", [fragment]);
    // What the chart renders now: the pool values set, everything else as it was (the Secret reference, the workers).
    const web = new Map(envOf(after.text, "Deployment", "shop-web").map((e) => [(e as { name: string }).name, e]));
    expect(web.get("LINEAGE_DB_POOL_SIZE")).toEqual({ name: "LINEAGE_DB_POOL_SIZE", value: "1" });
    expect(web.get("LINEAGE_DB_MAX_OVERFLOW")).toEqual({ name: "LINEAGE_DB_MAX_OVERFLOW", value: "0" });
    expect(web.get("GUNICORN_WORKERS")).toEqual({ name: "GUNICORN_WORKERS", value: "3" });
    expect(web.get("DATABASE_URL")).toHaveProperty("valueFrom.secretKeyRef.name", "lineage-db");
    expect(envOf(after.text, "StatefulSet", "shop-worker")).toEqual([
      { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "lineage-db", key: "url" } } },
      { name: "LOG_LEVEL", value: "info" },
      { name: "LINEAGE_DB_POOL_SIZE", value: "1" },
      { name: "LINEAGE_DB_MAX_OVERFLOW", value: "0" },
    ]);

    const settled = await replan(after.file);
    expect(settled.plan.workloads.map((w) => [w.id, w.change])).toEqual([
      ["kube:lineage/Deployment/shop-web", "none"],
      ["kube:lineage/StatefulSet/shop-worker", "none"],
    ]);

    // The pull-request job: render what is deployed (chart values + the committed fragment), plan it, overwrite the
    // fragment. The same values come out, so the file is a fixed point and the rendering does not change.
    const again = await runCli([
      "plan",
      after.file,
      ...FLAGS,
      "-o",
      "patch",
      "--helm-values",
      VALUES,
      "--helm-values",
      fragment,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(parseYaml(again.stdout)).toEqual(parseYaml(patched.stdout));
    expect(again.stdout).toContain(
      "# Deployment lineage/shop-web (file: " +
        `${after.file}): no change, pool_size 1 + max_overflow 0 per process (peak 9)`,
    );
    await writeFile(fragment, again.stdout);
    expect((await render("again.yaml", [fragment])).text).toBe(after.text);
  });
});
