// `pooltuner plan --kube`: what the controller would do, read-only. It reads the live workloads through the same
// mapping as the controller, so against the same database it recommends exactly what the controller's status
// annotation says; and it writes nothing to the cluster.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import {
  type Cluster,
  cluster,
  createApp,
  createHpa,
  createNamespace,
  type Database,
  database,
  eventually2,
  getDeployment,
  REPO,
  rolledOut,
  runController,
  seedApp,
  statusOf,
} from "./harness.js";

const run = promisify(execFile);
let c: Cluster;
let db: Database;
let ns: string;
let controller: RunningController;

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-plan-kube", 40);
  await db.db.query("SELECT 1");
  ns = await createNamespace(c, "plan-kube");
  await createApp(c, seedApp("api", ns, "main"));
  await createHpa(c, ns, "api", 2, 4);
  await createApp(c, seedApp("worker", ns, "main", { replicas: 1 }));
  await rolledOut(c, ns, "api");
  await rolledOut(c, ns, "worker");
  // Recommend-only, so both sides see the same unchanged workloads.
  controller = await runController(c, {
    databases: [{ name: "main", url: db.monitorUrl }],
    namespaces: [ns],
    updateMode: "off",
  });
});

afterAll(async () => {
  await controller?.stop();
  await db?.db.stop();
});

async function planKube(...args: string[]) {
  try {
    const { stdout } = await run(
      join(REPO, "node_modules/.bin/tsx"),
      [join(REPO, "src/cli/main.ts"), "plan", "--kube", "--kubeconfig", inject("kube").kubeconfigPath, ...args],
      { cwd: REPO, env: { ...process.env, KUBECONFIG: "" } },
    );
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("pooltuner plan --kube", () => {
  it("recommends what the controller recommends, and writes nothing", async () => {
    const statuses = await eventually2("controller status on both", async () => {
      const s = await Promise.all(["api", "worker"].map(async (n) => statusOf(await getDeployment(c, ns, n))));
      return s.every((x) => x !== undefined) ? s : undefined;
    });
    const before = await Promise.all(["api", "worker"].map((n) => getDeployment(c, ns, n)));

    const out = await planKube("--namespace", ns, "--mysql-url", `main=${db.monitorUrl}`, "-o", "json");
    expect(out.code).toBe(0);
    expect(out.stdout).not.toContain(db.monitorUrl);
    const report = JSON.parse(out.stdout) as {
      plan: {
        workloads: { id: string; plannedReplicas: number; recommended: { poolSize: number; maxOverflow: number } }[];
      };
    };
    const byId = new Map(report.plan.workloads.map((w) => [w.id, w]));
    expect([...byId.keys()].sort()).toEqual([`kube:${ns}/Deployment/api`, `kube:${ns}/Deployment/worker`]);
    expect(byId.get(`kube:${ns}/Deployment/api`)?.plannedReplicas).toBe(4);
    for (const [i, name] of ["api", "worker"].entries()) {
      const rec = (statuses[i] as { recommended: { poolSize: number; maxOverflow: number } }).recommended;
      expect(byId.get(`kube:${ns}/Deployment/${name}`)?.recommended).toMatchObject({
        poolSize: rec.poolSize,
        maxOverflow: rec.maxOverflow,
      });
    }
    const after = await Promise.all(["api", "worker"].map((n) => getDeployment(c, ns, n)));
    for (const [i, d] of after.entries()) {
      expect(d.metadata?.resourceVersion).toBe(before[i]?.metadata?.resourceVersion);
    }
  });

  it("prints the table offline too, and says so when the cluster cannot be read", async () => {
    const table = await planKube("--namespace", ns, "--max-connections", "main=40");
    expect(table.stdout).toContain(`kube:${ns}/Deployment/api`);
    expect(table.stdout).toContain("RECOMMENDED");
    const bad = await run(
      join(REPO, "node_modules/.bin/tsx"),
      [join(REPO, "src/cli/main.ts"), "plan", "--kube", "--kubeconfig", "/nonexistent", "--max-connections", "40"],
      { cwd: REPO },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain("cannot load the kubeconfig");
  });
});
