// The Helm chart: `helm lint` passes, the rendered chart applies cleanly to the real cluster and its controller
// Deployment becomes available (kwok runs the pods), and the controller authenticated as the chart's own
// ServiceAccount (Role per watched namespace, the chart's Lease) reconciles a workload.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { type KubernetesObject, loadAllYaml } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import { loadConfig } from "../../../src/runtime/config.js";
import { applyManifest, eventually, serviceAccountKubeConfig } from "../../support/cluster.js";
import {
  type Cluster,
  cluster,
  converged,
  createApp,
  createNamespace,
  type Database,
  database,
  REPO,
  runController,
  seedApp,
} from "./harness.js";

const run = promisify(execFile);
const CHART = join(REPO, "charts/pooltuner");
let helm: string;
let c: Cluster;
let db: Database;
let controller: RunningController | undefined;

beforeAll(async () => {
  const { stdout } = await run("bash", [join(REPO, "scripts/testbed/kube.sh"), "bin", "helm"]);
  helm = stdout.trim();
  c = await cluster();
  db = await database("ctl-chart", 60);
});

afterAll(async () => {
  await controller?.stop();
  await db?.db.stop();
});

async function template(release: string, namespace: string, args: string[]): Promise<string> {
  const { stdout } = await run(helm, ["template", release, CHART, "--namespace", namespace, ...args], {
    maxBuffer: 8 * 1024 * 1024,
  });
  return stdout;
}

describe("Helm chart", () => {
  it("passes helm lint, with the defaults and with the CI values", async () => {
    for (const args of [[], ["--strict", "--values", join(CHART, "ci/test-values.yaml")]]) {
      const { stdout } = await run(helm, ["lint", CHART, ...args]);
      expect(stdout).toContain("0 chart(s) failed");
    }
  });

  it("renders the optional ServiceMonitor and PDB, and refuses to render without a database", async () => {
    const out = await template("t", "pooltuner", ["--values", join(CHART, "ci/test-values.yaml")]);
    const kinds = (loadAllYaml(out) as KubernetesObject[]).map((o) => o.kind);
    expect(kinds).toEqual(expect.arrayContaining(["ServiceMonitor", "PodDisruptionBudget", "Role", "RoleBinding"]));
    expect(kinds).not.toContain("ClusterRole");
    await expect(template("t", "pooltuner", [])).rejects.toThrow(/define at least one database/);
  });

  it("applies cleanly, runs, and its ServiceAccount has exactly what the controller needs", async () => {
    const releaseNs = await createNamespace(c, "chart");
    const appNs = await createNamespace(c, "chart-app");
    const rendered = await template("pt", releaseNs, [
      "--set",
      "databases[0].name=main",
      "--set-string",
      `databases[0].url=${db.monitorUrl}`,
      "--set",
      `watchNamespaces={${appNs}}`,
      "--set",
      "podDisruptionBudget.enabled=true",
      "--set",
      "leaderElection.leaseDuration=4s,leaderElection.renewDeadline=3s,leaderElection.retryPeriod=1s",
    ]);
    const applied = await applyManifest(c.admin, { yaml: rendered }, releaseNs);
    expect(applied.map((o) => o.kind).sort()).toEqual(
      [
        "Deployment",
        "PodDisruptionBudget",
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
      ].sort(),
    );
    // kwok runs the two controller pods: the Deployment becomes available like any other.
    await eventually(
      "the chart's controller Deployment available",
      async () => {
        const d = await c.apps.readNamespacedDeployment({ name: "pt-pooltuner", namespace: releaseNs });
        return d.status?.availableReplicas === 2 ? d : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );

    // The controller as the chart's ServiceAccount, with the chart's configuration and Lease.
    const secret = (loadAllYaml(rendered) as (KubernetesObject & { stringData?: Record<string, string> })[]).find(
      (o) => o.kind === "Secret",
    );
    const config = await loadConfig(secret?.stringData?.["config.yaml"] as string, "chart secret", {});
    const kubeConfig = await serviceAccountKubeConfig(c.admin, { namespace: releaseNs, name: "pt-pooltuner" });
    await createApp(c, seedApp("shop", appNs, "main"));
    controller = await runController(
      { ...c, controllerKubeConfig: kubeConfig },
      {
        databases: config.databases.map((d) => ({ name: d.name, url: d.url })),
        namespaces: [appNs],
        leaderElection: {
          enabled: true,
          namespace: releaseNs,
          name: "pt-pooltuner",
          leaseDurationMs: 4_000,
          renewDeadlineMs: 3_000,
          retryPeriodMs: 500,
        },
      },
    );
    const d = await converged(c, appNs, "shop");
    const pool = d.spec?.template.spec?.containers[0]?.env?.filter((e) => e.name.startsWith("DB_"));
    expect(pool).toEqual([
      { name: "DB_POOL_SIZE", value: "1" },
      { name: "DB_MAX_OVERFLOW", value: "2" },
    ]);
    expect(controller.isLeader()).toBe(true);
  });

  it("manifests/ apply cleanly too: the controller pods pass the restricted Pod Security level", async () => {
    for (const file of ["namespace", "rbac", "config-secret", "deployment", "example-app"]) {
      await applyManifest(c.admin, { path: join(REPO, `manifests/${file}.yaml`) }, "pooltuner");
    }
    const ns = await c.core.readNamespace({ name: "pooltuner" });
    expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    await eventually(
      "manifests/ controller Deployment available",
      async () => {
        const d = await c.apps.readNamespacedDeployment({ name: "pooltuner", namespace: "pooltuner" });
        return d.status?.availableReplicas === 2 ? d : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const hpa = await c.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: "web", namespace: "shop" });
    expect(hpa.spec?.maxReplicas).toBe(6);
  });
});
