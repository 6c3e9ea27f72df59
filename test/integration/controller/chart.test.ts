// The Helm chart: `helm lint` passes, the rendered chart applies cleanly to the real cluster and its controller
// Deployment becomes available (kwok runs the pods), and the controller authenticated as the chart's own
// ServiceAccount (Role per watched namespace, the chart's Lease) reconciles a workload.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AppsV1Api,
  type KubernetesObject,
  loadAllYaml,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1NetworkPolicy,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import type { WorkloadObject } from "../../../src/kube/objects.js";
import { buildPatch, sendPatch } from "../../../src/kube/patch.js";
import { loadConfig } from "../../../src/runtime/config.js";
import { applyManifest, eventually, serviceAccountKubeConfig } from "../../support/cluster.js";
import { testBedBinary } from "../../support/testbed-bin.js";
import {
  type Cluster,
  cluster,
  converged,
  createApp,
  createNamespace,
  type Database,
  database,
  deploymentOf,
  REPO,
  runController,
  seedApp,
} from "./harness.js";

const run = promisify(execFile);
const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
type Vap = KubernetesObject & {
  spec: {
    validations?: unknown;
    variables?: unknown;
    matchConstraints?: unknown;
    matchConditions?: { name: string; expression: string }[];
  };
};
const CHART = join(REPO, "charts/pooltuner");
// Every option at once (needs CRDs and Secrets: rendered and linted, never installed).
const EVERYTHING = join(REPO, "test/support/chart-everything-values.yaml");
let helm: string;
let c: Cluster;
let db: Database;
let controller: RunningController | undefined;
let releaseNs: string;
let appNs: string;

beforeAll(async () => {
  helm = await testBedBinary("helm");
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
    for (const args of [[], ["--strict", "--values", EVERYTHING]]) {
      const { stdout } = await run(helm, ["lint", CHART, ...args]);
      expect(stdout).toContain("0 chart(s) failed");
    }
  });

  it("refuses values that do not fit values.schema.json: a typo'd key, an unknown mode, a wrong type", async () => {
    const refused = async (args: string[]) =>
      run(helm, ["template", "t", CHART, ...args]).then(
        () => "rendered",
        (e: { stderr?: string }) => e.stderr ?? "",
      );
    expect(await refused(["--set", "replicaCont=2"])).toContain("additional properties 'replicaCont' not allowed");
    expect(await refused(["--set", "updateMode=sometimes"])).toContain("value must be one of 'auto', 'off'");
    expect(await refused(["--set-string", "replicaCount=two"])).toContain("/replicaCount");
    expect(await refused(["--set", "logFormat=xml"])).toContain("/logFormat");
  });

  it("renders extraArgs, extraEnv, priorityClassName, hostNetwork, dnsPolicy and topologySpreadConstraints", async () => {
    const out = await template("t", "pooltuner", [
      "--values",
      EVERYTHING,
      "--set",
      "extraArgs={--kube-request-timeout=20s}",
      "--set",
      "extraEnv[0].name=FOO",
      "--set-string",
      "extraEnv[0].value=bar",
      "--set",
      "priorityClassName=high",
      "--set",
      "hostNetwork=true",
      "--set",
      "dnsPolicy=ClusterFirstWithHostNet",
      "--set",
      "topologySpreadConstraints[0].maxSkew=1",
      "--set",
      "topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
      "--set",
      "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
    ]);
    const d = (loadAllYaml(out) as KubernetesObject[]).find((o) => o.kind === "Deployment") as V1Deployment;
    const pod = d.spec?.template.spec;
    const c = pod?.containers[0];
    expect(c?.args).toContain("--kube-request-timeout=20s");
    expect(c?.env).toContainEqual({ name: "FOO", value: "bar" });
    expect(pod?.priorityClassName).toBe("high");
    expect(pod?.hostNetwork).toBe(true);
    expect(pod?.dnsPolicy).toBe("ClusterFirstWithHostNet");
    expect(pod?.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule" },
    ]);
    // Off by default: none of them in the defaults' rendering.
    const plain = (loadAllYaml(await template("t", "pooltuner", ["--values", EVERYTHING])) as KubernetesObject[]).find(
      (o) => o.kind === "Deployment",
    ) as V1Deployment;
    expect(plain.spec?.template.spec?.hostNetwork).toBeUndefined();
    expect(plain.spec?.template.spec?.priorityClassName).toBeUndefined();
  });

  it("renders the optional ServiceMonitor, PDB and NetworkPolicy, and refuses to render without a database", async () => {
    const out = await template("t", "pooltuner", ["--values", EVERYTHING]);
    const objs = loadAllYaml(out) as KubernetesObject[];
    const kinds = objs.map((o) => o.kind);
    expect(kinds).toEqual(
      expect.arrayContaining([
        "ServiceMonitor",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
      ]),
    );
    // The only cluster-wide rule is reading Namespaces (their pooltuner.io/paused annotation).
    expect(objs.filter((o) => o.kind === "ClusterRole").map((o) => o.metadata?.name)).toEqual([
      "t-pooltuner-namespaces",
    ]);
    await expect(template("t", "pooltuner", [])).rejects.toThrow(/define at least one database/);
  });

  it("renders the PrometheusRule, the dashboard ConfigMap and a config with restart limits, windows and webhooks", async () => {
    type Obj = KubernetesObject & {
      stringData?: Record<string, string>;
      data?: Record<string, string>;
      spec?: { groups?: { rules: { alert: string; expr: string }[] }[] };
    };
    const objs = loadAllYaml(await template("t", "pooltuner", ["--values", EVERYTHING])) as Obj[];
    const rule = objs.find((o) => o.kind === "PrometheusRule");
    expect(rule?.spec?.groups?.[0]?.rules.map((r) => r.alert)).toEqual([
      "PooltunerCanExceed",
      "PooltunerInfeasible",
      "PooltunerDatabaseUnreachable",
      "PooltunerRolloutStuck",
      "PooltunerNoLeader",
      "PooltunerPausedDecreaseNeeded",
    ]);
    expect(rule?.spec?.groups?.[0]?.rules.every((r) => r.expr.includes('job="t-pooltuner-metrics"'))).toBe(true);
    const dashboard = objs.find((o) => o.kind === "ConfigMap" && o.metadata?.name === "t-pooltuner-dashboard");
    expect(dashboard?.metadata?.labels?.grafana_dashboard).toBe("1");
    const json = JSON.parse(dashboard?.data?.["pooltuner.json"] ?? "{}") as { uid: string; panels: unknown[] };
    expect(json.uid).toBe("pooltuner");
    expect(json.panels.length).toBeGreaterThan(5);
    const secret = objs.find((o) => o.kind === "Secret")?.stringData?.["config.yaml"] as string;
    const read = async (path: string) =>
      path === "/etc/pooltuner/webhooks/ops-slack/url" ? "https://hooks.example/T/B/x\n" : "mysql://m:p@orders/\n";
    const config = await loadConfig(secret, "chart secret", {}, read);
    expect(config.restarts).toEqual({ maxConcurrent: 2, maxPerHour: 6 });
    expect(config.databases[0]?.changeWindows?.map((w) => [w.text, w.timeZone])).toEqual([
      ["Sat 02:00-04:00", "Europe/Berlin"],
      ["Mon-Fri 22:00-06:00", "Europe/Berlin"],
    ]);
    expect(config.webhooks).toEqual([
      { name: "ops-slack", url: "https://hooks.example/T/B/x", format: "slack", events: ["Applied", "Infeasible"] },
    ]);
    // The webhook's Secret is mounted where its urlFile points.
    const deployment = objs.find((o) => o.kind === "Deployment") as KubernetesObject & {
      spec: { template: { spec: { containers: { volumeMounts: { name: string; mountPath: string }[] }[] } } };
    };
    expect(deployment.spec.template.spec.containers[0]?.volumeMounts).toContainEqual({
      name: "hook-ops-slack",
      mountPath: "/etc/pooltuner/webhooks/ops-slack",
      readOnly: true,
    });
  });

  it('tenancy: Roles in the databases\' namespaces by default, a ClusterRole only for "*", none serving nothing', async () => {
    const db = (i: number, name: string, ns?: string) => [
      "--set",
      `databases[${i}].name=${name}`,
      "--set-string",
      `databases[${i}].url=mysql://m:p@${name}/`,
      ...(ns ? ["--set", `databases[${i}].namespaces=${ns}`] : []),
    ];
    const rendered = async (args: string[]) => {
      const objs = loadAllYaml(await template("t", "pooltuner", args)) as (KubernetesObject & {
        stringData?: Record<string, string>;
        spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } };
      })[];
      const roles = objs.filter((o) => o.kind === "Role" && !o.metadata?.name?.endsWith("leader-election"));
      const args_ = objs.find((o) => o.kind === "Deployment")?.spec?.template?.spec?.containers?.[0]?.args ?? [];
      const secret = objs.find((o) => o.kind === "Secret")?.stringData?.["config.yaml"] as string;
      return {
        // The Namespace reader is always there (a pause on a namespace); the workloads' rules are the question here.
        kinds: objs.filter((o) => !o.metadata?.name?.endsWith("-namespaces")).map((o) => o.kind),
        roleNamespaces: roles.map((r) => r.metadata?.namespace).sort(),
        watched: args_.filter((a) => a.startsWith("--namespace=")).sort(),
        config: await loadConfig(secret, "chart secret", {}),
      };
    };
    const listed = await rendered([...db(0, "a", "{team-a,team-b}"), ...db(1, "b", "{team-b,team-c}")]);
    expect(listed.kinds).not.toContain("ClusterRole");
    expect(listed.roleNamespaces).toEqual(["team-a", "team-b", "team-c"]);
    expect(listed.watched).toEqual(["--namespace=team-a", "--namespace=team-b", "--namespace=team-c"]);
    expect(listed.config.databases.map((d) => d.namespaces)).toEqual([
      ["team-a", "team-b"],
      ["team-b", "team-c"],
    ]);
    const any = await rendered([...db(0, "a", "{team-a}"), ...db(1, "b", "{*}")]);
    expect(any.kinds).toContain("ClusterRole");
    expect(any.roleNamespaces).toEqual([]);
    expect(any.watched).toEqual([]);
    // A database that would serve no namespace is refused, naming the value to set.
    await expect(template("t", "pooltuner", db(0, "a"))).rejects.toThrow(
      /databases\[a\]\.namespaces: list the namespaces/,
    );
    // With watchNamespaces it serves those (the controller's default), so it renders.
    const watched = await rendered([...db(0, "a"), "--set", "watchNamespaces={team-x}"]);
    expect(watched.roleNamespaces).toEqual(["team-x"]);
    expect(watched.config.databases[0]?.namespaces).toBeUndefined();
  });

  it("the admission policy is the same CEL in the chart and in manifests/, bound to the release's ServiceAccount", async () => {
    const chart = (loadAllYaml(await template("pt", "ops", ["--values", EVERYTHING])) as Vap[]).find(
      (o) => o.kind === "ValidatingAdmissionPolicy",
    );
    const plain = (loadAllYaml(await readFile(join(REPO, "manifests/admission-policy.yaml"), "utf8")) as Vap[]).find(
      (o) => o.kind === "ValidatingAdmissionPolicy",
    );
    expect(chart?.spec.validations).toEqual(plain?.spec.validations);
    expect(chart?.spec.variables).toEqual(plain?.spec.variables);
    expect(chart?.spec.matchConstraints).toEqual(plain?.spec.matchConstraints);
    expect(chart?.spec.matchConditions).toEqual([
      {
        name: "pooltuner-serviceaccount",
        expression: "request.userInfo.username == 'system:serviceaccount:ops:pt-pooltuner'",
      },
    ]);
    expect(plain?.spec.matchConditions?.[0]?.expression).toBe(
      "request.userInfo.username == 'system:serviceaccount:pooltuner:pooltuner'",
    );
  });

  it("applies cleanly, runs, and its ServiceAccount has exactly what the controller needs", async () => {
    releaseNs = await createNamespace(c, "chart");
    appNs = await createNamespace(c, "chart-app");
    const rendered = await template("pt", releaseNs, [
      // The `helm test` Pod is a hook: helm creates it only on `helm test`, so it is not applied here.
      "--skip-tests",
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
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "PodDisruptionBudget",
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
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

  it("admission policy: as the chart's ServiceAccount, only the pool env values, the status annotation and the surge change", async () => {
    // The controller above converged its workload through the policy; stop it so only this test writes now.
    await controller?.stop();
    controller = undefined;
    const asChart = (
      await serviceAccountKubeConfig(c.admin, { namespace: releaseNs, name: "pt-pooltuner" })
    ).makeApiClient(AppsV1Api);
    const patch = async (name: string, body: object, apps = asChart) => {
      try {
        await apps.patchNamespacedDeployment({ name, namespace: appNs, body, fieldManager: "pooltuner" }, strategic);
        return "allowed";
      } catch (err) {
        const text = String((err as { body?: unknown }).body ?? err);
        if (!text.includes("ValidatingAdmissionPolicy")) throw err;
        return text;
      }
    };
    const container = (patchOf: Record<string, unknown>, name = "web") => ({
      spec: { template: { spec: { containers: [{ name, ...patchOf }] } } },
    });
    const env = (name: string, value: string) => container({ env: [{ name, value }] });
    await createApp(c, seedApp("guarded", appNs, "main"));
    await createApp(c, { ...seedApp("plain", appNs, "main"), annotations: {} });
    // Opted in by the label alone, and a label overruled by an annotation saying "false".
    const labelled = (name: string, annotations: Record<string, string>) => {
      const d = deploymentOf({ ...seedApp(name, appNs, "main"), annotations });
      d.metadata = { ...d.metadata, labels: { "pooltuner.io/enabled": "true" } };
      return c.apps.createNamespacedDeployment({ namespace: appNs, body: d });
    };
    await labelled("labelled", { "pooltuner.io/database": "main" });
    await labelled("overruled", { "pooltuner.io/enabled": "false" });
    // The policy takes effect once the API server has compiled it: wait for a first denial on the plain workload.
    await eventually(
      "the admission policy in force",
      async () =>
        (await patch("plain", container({ image: `pooltuner.invalid/x:${Date.now()}` }))) !== "allowed"
          ? true
          : undefined,
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    expect(await patch("guarded", env("DB_POOL_SIZE", "1"))).toBe("allowed");
    expect(await patch("labelled", env("DB_POOL_SIZE", "1"))).toBe("allowed");
    expect(await patch("guarded", env("DB_MAX_OVERFLOW", "0"))).toBe("allowed");
    expect(await patch("guarded", { metadata: { annotations: { "pooltuner.io/status": "{}" } } })).toBe("allowed");
    // A safety decrease's strategy (src/kube/strategy.ts), and the person's put back after it.
    const surge = (maxSurge: number | string, maxUnavailable: number | string) => ({
      spec: { strategy: { rollingUpdate: { maxSurge, maxUnavailable } } },
    });
    expect(await patch("guarded", surge(0, 1))).toBe("allowed");
    expect(
      (await c.apps.readNamespacedDeployment({ name: "guarded", namespace: appNs })).spec?.strategy?.rollingUpdate,
    ).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(await patch("guarded", surge("25%", "25%"))).toBe("allowed");
    const guarded = await c.apps.readNamespacedDeployment({ name: "guarded", namespace: appNs });
    expect(guarded.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: "GUNICORN_WORKERS", value: "4" },
      { name: "DB_POOL_SIZE", value: "1" },
      { name: "DB_MAX_OVERFLOW", value: "0" },
    ]);

    const denied: [string, string, object][] = [
      ["plain", "only workloads opted in", env("DB_POOL_SIZE", "1")],
      ["overruled", "only workloads opted in", env("DB_POOL_SIZE", "1")],
      ["guarded", "only the pool env values", container({ image: "evil.invalid/miner:1" })],
      ["guarded", "only the pool env values (whole numbers)", env("DB_POOL_SIZE", "1 --evil")],
      ["guarded", "only the pool env values (whole numbers)", env("GUNICORN_WORKERS", "64")],
      ["guarded", "only the pool env values (whole numbers)", env("LD_PRELOAD", "1")],
      [
        "guarded",
        "nothing else of the workload or pod spec",
        { spec: { template: { spec: { serviceAccountName: "admin" } } } },
      ],
      ["guarded", "nothing else of the workload or pod spec", { spec: { replicas: 9 } }],
      [
        "guarded",
        "nothing else of the workload or pod spec",
        { spec: { template: { metadata: { labels: { x: "y" } } } } },
      ],
      [
        "guarded",
        "only its pooltuner.io/status annotation",
        { metadata: { annotations: { "pooltuner.io/weight": "9" } } },
      ],
      [
        "guarded",
        "only its pooltuner.io/status annotation",
        { metadata: { annotations: { "pooltuner.io/enabled": null } } },
      ],
      ["guarded", "labels", { metadata: { labels: { team: "other" } } }],
      [
        "guarded",
        "only maxSurge and maxUnavailable",
        { spec: { strategy: { type: "Recreate", rollingUpdate: null } } },
      ],
    ];
    for (const [name, words, body] of denied) expect(await patch(name, body), JSON.stringify(body)).toContain(words);
    // Nothing of the above got through.
    const after = await c.apps.readNamespacedDeployment({ name: "guarded", namespace: appNs });
    expect(after.metadata?.generation).toBe(guarded.metadata?.generation);
    // Anyone else is not matched: an admin still changes the image.
    expect(await patch("guarded", container({ image: "pooltuner.invalid/app:2" }), c.apps)).toBe("allowed");

    // The controller's own patch (src/kube/patch.ts) on a workload whose pool container is not the first and whose
    // pool size came from a ConfigMap: the literal value replaces the valueFrom, and the policy lets it through.
    const second = deploymentOf(
      seedApp("second", appNs, "main", {
        containers: ["sidecar", "app"],
        annotations: { "pooltuner.io/container": "app" },
      }),
    );
    const [sidecar, app] = second.spec?.template.spec?.containers ?? [];
    if (!sidecar || !app) throw new Error("two containers expected");
    app.env = [
      { name: "GUNICORN_WORKERS", value: "4" },
      { name: "DB_POOL_SIZE", valueFrom: { configMapKeyRef: { name: "pool", key: "size" } } },
      { name: "DB_MAX_OVERFLOW", value: "3" },
    ];
    sidecar.env = [{ name: "DB_POOL_SIZE", value: "9" }];
    await c.apps.createNamespacedDeployment({ namespace: appNs, body: second });
    const writes = [
      { name: "DB_POOL_SIZE", value: "1" },
      { name: "DB_MAX_OVERFLOW", value: "1" },
    ];
    // As the controller does: built from the object as read, guarded by its resourceVersion, re-read on a conflict
    // (the Deployment controller writes the new object's status and revision meanwhile).
    await eventually(
      "the controller's patch sent",
      async () => {
        const stored = await c.apps.readNamespacedDeployment({ name: "second", namespace: appNs });
        const real = buildPatch(stored as WorkloadObject, "app", writes, undefined);
        expect(real.envChanges.map((e) => e.from)).toEqual(["(valueFrom)", "3"]);
        return await sendPatch(asChart, "Deployment", appNs, "second", real.body ?? {});
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    const patched = await c.apps.readNamespacedDeployment({ name: "second", namespace: appNs });
    expect(patched.spec?.template.spec?.containers.map((x) => x.env)).toEqual([
      [{ name: "DB_POOL_SIZE", value: "9" }],
      [
        { name: "GUNICORN_WORKERS", value: "4" },
        { name: "DB_POOL_SIZE", value: "1" },
        { name: "DB_MAX_OVERFLOW", value: "1" },
      ],
    ]);
    // The same names in the container it does not manage are not its to change.
    expect(await patch("second", container({ env: [{ name: "DB_POOL_SIZE", value: "1" }] }, "sidecar"))).toContain(
      "only the pool env values",
    );

    // A big pod spec (20 containers x 150 env vars, 376 KiB) stays within CEL's cost limits.
    const big = deploymentOf(
      seedApp("big", appNs, "main", { containers: Array.from({ length: 20 }, (_, i) => `c${i}`) }),
    );
    for (const [i, ctr] of (big.spec?.template.spec?.containers ?? []).entries()) {
      ctr.env = [
        ...(i === 0 ? (ctr.env ?? []) : []),
        ...Array.from({ length: 150 }, (_, j) => ({ name: `VAR_${j}`, value: `value-${i}-${j}`.repeat(4) })),
      ];
    }
    await c.apps.createNamespacedDeployment({ namespace: appNs, body: big });
    // Timings are in bench/admission-policy.ts; here: allowed, not refused for CEL cost.
    expect(await patch("big", container({ env: [{ name: "DB_POOL_SIZE", value: "1" }] }, "c0"))).toBe("allowed");
    expect(await patch("big", container({ image: "evil.invalid/x:1" }, "c19"))).toContain("only the pool env values");
    expect(await patch("big", container({ env: [{ name: "VAR_3", value: "x" }] }, "c7"))).toContain(
      "only the pool env values",
    );
  });

  it("NOTES say what each database serves, and how to label a release namespace that has no Pod Security level", async () => {
    const notes = async (namespace: string) => {
      const { stdout } = await run(helm, [
        "install",
        "notes",
        CHART,
        "--namespace",
        namespace,
        "--dry-run=server",
        "--kubeconfig",
        inject("kube").kubeconfigPath,
        "--set",
        "databases[0].name=main,databases[0].namespaces={team-a,team-b},databases[0].maxWeight=3",
        "--set-string",
        "databases[0].url=mysql://m:p@db/",
      ]);
      return stdout.slice(stdout.indexOf("NOTES:"));
    };
    // The watched namespaces must exist at install time (templates/checks.yaml), dry runs included.
    for (const name of ["team-a", "team-b"]) {
      await c.core.createNamespace({ body: { metadata: { name } } }).catch((e: { code?: number }) => {
        if (e.code !== 409) throw e;
      });
    }
    const bare = await createNamespace(c, "chart-notes");
    const before = await notes(bare);
    expect(before).toContain("Watching: team-a, team-b (a Role in each).");
    expect(before).toContain("Tenancy: main serves team-a, team-b, weight up to 3.");
    expect(before).toContain(
      `kubectl label namespace ${bare} pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted`,
    );
    await c.core.patchNamespace(
      { name: bare, body: { metadata: { labels: { "pod-security.kubernetes.io/enforce": "restricted" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(await notes(bare)).not.toContain("kubectl label namespace");
  });

  it("manifests/ apply cleanly too: the controller pods pass the restricted Pod Security level", async () => {
    for (const file of ["namespace", "rbac", "admission-policy", "config-secret", "deployment", "example-app"]) {
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

type Obj = KubernetesObject & { spec?: Record<string, unknown> };
const render = async (args: string[], release = "t", namespace = "pooltuner"): Promise<Obj[]> =>
  loadAllYaml(await template(release, namespace, args)) as Obj[];
const ONE_DB = [
  "--set",
  "databases[0].name=main,databases[0].namespaces={shop}",
  "--set-string",
  "databases[0].url=mysql://m:p@db:3306/",
];
const podSpecOf = (objs: Obj[]) =>
  ((objs.find((o) => o.kind === "Deployment") as V1Deployment | undefined)?.spec?.template.spec ?? {}) as NonNullable<
    NonNullable<V1Deployment["spec"]>["template"]["spec"]
  >;
const kubeconfigArgs = () => ["--kubeconfig", inject("kube").kubeconfigPath];
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => "succeeded",
    (e: { stderr?: string; message?: string }) => e.stderr || e.message || String(e),
  );

describe("Helm chart conventions (issue 15)", () => {
  it("fullnameOverride and nameOverride name every object, label and reference", async () => {
    const full = await render([
      ...ONE_DB,
      "--set",
      "fullnameOverride=ops-tuner",
      "--set",
      "metrics.networkPolicy.enabled=true,networkPolicy.enabled=true",
    ]);
    // Every object the chart makes is named after the override (none after the release), and the test Pod too.
    const names = full.map((o) => `${o.kind}/${o.metadata?.name}`);
    expect(names.filter((n) => !/\/ops-tuner(-|$)/.test(n))).toEqual([]);
    expect(names).toContain("Pod/ops-tuner-test-readyz");
    const d = full.find((o) => o.kind === "Deployment") as V1Deployment;
    const args = d.spec?.template.spec?.containers[0]?.args ?? [];
    expect(args).toContain("--leader-election-id=ops-tuner");
    expect(args).toContain("--lease-owner-deployment=ops-tuner");
    expect(d.spec?.template.spec?.serviceAccountName).toBe("ops-tuner");
    const leader = full.find((o) => o.kind === "Role" && o.metadata?.name === "ops-tuner-leader-election") as Obj & {
      rules: { resources: string[]; resourceNames?: string[] }[];
    };
    expect(leader.rules.map((r) => [r.resources[0], r.resourceNames ?? []])).toEqual([
      ["leases", []],
      ["leases", ["ops-tuner"]],
      ["deployments", ["ops-tuner"]],
    ]);

    const short = await render([...ONE_DB, "--set", "nameOverride=tuner"], "prod");
    expect(
      short.filter((o) => o.kind !== "ClusterRole" && o.kind !== "ClusterRoleBinding").map((o) => o.metadata?.name),
    ).toContain("prod-tuner");
    const dep = short.find((o) => o.kind === "Deployment") as V1Deployment;
    expect(dep.metadata?.name).toBe("prod-tuner");
    // The selector, the pod labels, the Service and the PDB agree on the new name.
    const selector = dep.spec?.selector.matchLabels;
    expect(selector?.["app.kubernetes.io/name"]).toBe("tuner");
    expect(dep.spec?.template.metadata?.labels).toMatchObject(selector ?? {});
    const service = short.find((o) => o.kind === "Service") as Obj & { spec: { selector: Record<string, string> } };
    expect(service.spec.selector).toEqual(selector);
    const pdb = short.find((o) => o.kind === "PodDisruptionBudget") as Obj & {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.selector.matchLabels).toEqual(selector);
    // Too long or not a DNS label: refused by the schema.
    expect(await failureOf(template("t", "pooltuner", [...ONE_DB, "--set", "nameOverride=Bad_Name"]))).toContain(
      "/nameOverride",
    );
  });

  it("extraVolumes and extraVolumeMounts go into the pod next to the chart's own", async () => {
    const pod = podSpecOf(
      await render([
        ...ONE_DB,
        "--set",
        "extraVolumes[0].name=ca,extraVolumes[0].configMap.name=corp-ca",
        "--set",
        "extraVolumeMounts[0].name=ca,extraVolumeMounts[0].mountPath=/etc/corp-ca,extraVolumeMounts[0].readOnly=true",
      ]),
    );
    expect(pod.volumes?.map((v) => v.name)).toEqual(["config", "ca"]);
    expect(pod.volumes?.[1]).toEqual({ name: "ca", configMap: { name: "corp-ca" } });
    expect(pod.containers[0]?.volumeMounts).toEqual([
      { name: "config", mountPath: "/etc/pooltuner", readOnly: true },
      { name: "ca", mountPath: "/etc/corp-ca", readOnly: true },
    ]);
    expect(await failureOf(template("t", "pooltuner", [...ONE_DB, "--set", "extraVolumeMounts[0].name=ca"]))).toContain(
      "mountPath",
    );
  });

  it("a PodDisruptionBudget by default with the default 2 replicas, none with 1 replica or when disabled", async () => {
    const pdbs = async (args: string[]) =>
      (await render([...ONE_DB, ...args])).filter((o) => o.kind === "PodDisruptionBudget").map((o) => o.spec);
    expect(await pdbs([])).toEqual([
      {
        minAvailable: 1,
        selector: {
          matchLabels: {
            "app.kubernetes.io/name": "pooltuner",
            "app.kubernetes.io/instance": "t",
            "app.kubernetes.io/component": "controller",
          },
        },
      },
    ]);
    expect(await pdbs(["--set", "replicaCount=1"])).toEqual([]);
    expect(await pdbs(["--set", "podDisruptionBudget.enabled=false"])).toEqual([]);
  });

  it("hostNetwork: a required anti-affinity by hostname (merged with the user's affinity) and no surge pod", async () => {
    const pod = podSpecOf(
      await render([
        ...ONE_DB,
        "--set",
        "hostNetwork=true",
        "--set",
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=db-access",
        "--set",
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        "--set",
        "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey=zone",
        "--set",
        "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels.app=other",
      ]),
    );
    expect(pod.hostNetwork).toBe(true);
    expect(pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: "db-access", operator: "Exists" }] },
    ]);
    expect(pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { topologyKey: "zone", labelSelector: { matchLabels: { app: "other" } } },
      {
        topologyKey: "kubernetes.io/hostname",
        labelSelector: {
          matchLabels: {
            "app.kubernetes.io/name": "pooltuner",
            "app.kubernetes.io/instance": "t",
            "app.kubernetes.io/component": "controller",
          },
        },
      },
    ]);
    const d = (await render([...ONE_DB, "--set", "hostNetwork=true"])).find(
      (o) => o.kind === "Deployment",
    ) as V1Deployment;
    expect(d.spec?.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
    // Without hostNetwork: no affinity, the default strategy.
    const plain = (await render(ONE_DB)).find((o) => o.kind === "Deployment") as V1Deployment;
    expect(plain.spec?.template.spec?.affinity).toBeUndefined();
    expect(plain.spec?.strategy).toBeUndefined();
  });

  it("the egress NetworkPolicy: DNS, the API server, the databases' ports (from their URLs too), extra rules", async () => {
    type Np = Obj & { spec: { policyTypes: string[]; egress: { to?: unknown[]; ports?: unknown[] }[] } };
    const egress = async (args: string[], run = render) =>
      (
        await run([
          ...ONE_DB,
          "--set-string",
          "databases[1].name=pg,databases[1].url=postgres://u:p@pg.example:6543/db",
          "--set",
          "databases[1].namespaces={shop}",
          "--set",
          "networkPolicy.enabled=true",
          ...args,
        ])
      ).find((o) => o.kind === "NetworkPolicy" && o.metadata?.name === "t-pooltuner-egress") as Np;
    const offline = await egress([]);
    expect(offline.spec.policyTypes).toEqual(["Egress"]);
    expect(offline.spec.egress).toEqual([
      {
        ports: [
          { port: 53, protocol: "UDP" },
          { port: 53, protocol: "TCP" },
        ],
      },
      // helm template has no cluster: the API server's ports to any address.
      {
        ports: [
          { port: 443, protocol: "TCP" },
          { port: 6443, protocol: "TCP" },
        ],
      },
      {
        ports: [
          { port: 3306, protocol: "TCP" },
          { port: 5432, protocol: "TCP" },
          { port: 6543, protocol: "TCP" },
        ],
      },
    ]);
    const given = await egress([
      "--set",
      "networkPolicy.apiServerCidrs={10.1.2.3/32},networkPolicy.dns=false",
      "--set",
      "networkPolicy.databasePeers[0].ipBlock.cidr=10.20.0.0/16",
      "--set",
      "networkPolicy.extraEgress[0].ports[0].port=443",
    ]);
    expect(given.spec.egress).toEqual([
      {
        to: [{ ipBlock: { cidr: "10.1.2.3/32" } }],
        ports: [
          { port: 443, protocol: "TCP" },
          { port: 6443, protocol: "TCP" },
        ],
      },
      {
        to: [{ ipBlock: { cidr: "10.20.0.0/16" } }],
        ports: [
          { port: 3306, protocol: "TCP" },
          { port: 5432, protocol: "TCP" },
          { port: 6543, protocol: "TCP" },
        ],
      },
      { ports: [{ port: 443 }] },
    ]);
    // At install time the chart reads the API server's addresses from the cluster: compare with the EndpointSlice.
    const ns = await createNamespace(c, "chart-np");
    const serverSide = await egress(["--set", `watchNamespaces={${ns}}`], async (args) => {
      const { stdout } = await run(
        helm,
        ["install", "t", CHART, "--namespace", ns, "--dry-run=server", ...kubeconfigArgs(), ...args],
        { maxBuffer: 8 * 1024 * 1024 },
      );
      // The manifests are between "MANIFEST:" and "NOTES:" (the test hook is printed before, under "HOOKS:").
      return loadAllYaml(
        stdout.slice(stdout.indexOf("MANIFEST:") + "MANIFEST:".length, stdout.indexOf("NOTES:")),
      ) as Obj[];
    });
    // The expectation comes from the cluster itself: the API server's own EndpointSlice. Every kube-apiserver
    // publishes default/kubernetes (kwok's advertises 192.0.2.2 and its random secure port): required here, so this
    // proves the lookup path, not the any-address fallback that helm template takes above.
    const { DiscoveryV1Api } = await import("@kubernetes/client-node");
    const slice = await c.admin
      .makeApiClient(DiscoveryV1Api)
      .readNamespacedEndpointSlice({ name: "kubernetes", namespace: "default" });
    const addresses = (slice.endpoints ?? [])
      .flatMap((e) => e.addresses)
      .map((a) => ({ ipBlock: { cidr: a.includes(":") ? `${a}/128` : `${a}/32` } }));
    expect(addresses.length, "the API server's EndpointSlice lists its addresses").toBeGreaterThan(0);
    const ports = [443, 6443, ...(slice.ports ?? []).map((p) => p.port)];
    expect(serverSide.spec.egress[1]).toEqual({
      to: addresses,
      ports: [...new Set(ports)].map((port) => ({ port, protocol: "TCP" })),
    });
  });

  it("the helm test Pod's check: exit 0 once /readyz answers 200, exit 1 when it never does", async () => {
    const { createServer } = await import("node:http");
    const objs = await render([...ONE_DB, "--set", "metrics.networkPolicy.enabled=true"]);
    const testPod = objs.find((o) => o.kind === "Pod") as Obj & {
      metadata: { annotations: Record<string, string> };
      spec: {
        restartPolicy: string;
        containers: {
          image: string;
          command: string[];
          env: { name: string; value: string }[];
          securityContext: unknown;
        }[];
      };
    };
    expect(testPod.metadata.annotations["helm.sh/hook"]).toBe("test");
    const ctr = testPod.spec.containers[0];
    if (!ctr) throw new Error("no container");
    // The controller's own image (no curl in it) and its restricted security context.
    const deployment = objs.find((o) => o.kind === "Deployment") as V1Deployment;
    expect(ctr.image).toBe(deployment.spec?.template.spec?.containers[0]?.image);
    expect(ctr.securityContext).toEqual(deployment.spec?.template.spec?.containers[0]?.securityContext);
    expect(ctr.env).toEqual([{ name: "READYZ_URL", value: "http://t-pooltuner-metrics.pooltuner.svc:9090/readyz" }]);
    // The ingress NetworkPolicy lets this Pod in. (loadAllYaml returns typed objects: a rule's `from` is `_from`.)
    const ingress = objs.find(
      (o) => o.kind === "NetworkPolicy" && o.metadata?.name === "t-pooltuner",
    ) as V1NetworkPolicy;
    expect(ingress.spec?.ingress?.[0]?._from).toContainEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/instance": "t", "app.kubernetes.io/component": "test" } },
    });
    expect(ctr.command[0]).toBe("/usr/local/bin/node");
    // tests.enabled=false: no test Pod, and the ingress policy admits only the listed peers (none here).
    const without = await render([...ONE_DB, "--set", "metrics.networkPolicy.enabled=true,tests.enabled=false"]);
    expect(without.filter((o) => o.kind === "Pod")).toEqual([]);
    expect(
      (without.find((o) => o.kind === "NetworkPolicy") as Obj & { spec: { ingress?: unknown } }).spec.ingress,
    ).toBeFalsy();
    // Run the Pod's script with this Node against a real server: not ready twice, then ready.
    let asked = 0;
    const server = createServer((req, res) => {
      asked++;
      const ready = req.url === "/readyz" && asked > 2;
      res.statusCode = ready ? 200 : 503;
      res.end(ready ? "ok" : "caches not synced");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const script = (url: string, timeoutMs: number) =>
      run(process.execPath, ctr.command.slice(1), {
        env: { READYZ_URL: url, READYZ_TIMEOUT_MS: String(timeoutMs) },
        timeout: 60_000,
      });
    try {
      const ok = await script(`http://127.0.0.1:${port}/readyz`, 30_000);
      expect(ok.stdout).toContain("200 ok");
      expect(asked).toBe(3);
      // Never ready: exits 1 after its deadline, saying what it got.
      const never = await failureOf(script(`http://127.0.0.1:${port}/nope`, 1_000));
      expect(never).toContain("503 caches not synced");
    } finally {
      server.close();
    }
  });

  it("Chart.yaml: kubeVersion, sources and maintainers; an older cluster is refused", async () => {
    const { stdout } = await run(helm, ["show", "chart", CHART]);
    expect(stdout).toMatch(/kubeVersion: ['"]?>=1\.30\.0-0/);
    expect(stdout).toMatch(/sources:\n- https:\/\/github.com\/pooltuner\/pooltuner/);
    expect(stdout).toMatch(/maintainers:\n- name: pooltuner maintainers/);
    expect(await failureOf(template("t", "pooltuner", [...ONE_DB, "--kube-version", "1.29.4"]))).toContain(
      "chart requires kubeVersion: >=1.30.0-0",
    );
  });
});

describe("Helm install and uninstall against the API server", () => {
  const helmRun = (args: string[]) => run(helm, [...args, ...kubeconfigArgs()], { maxBuffer: 8 * 1024 * 1024 });
  const leftOf = async (release: string, namespace: string): Promise<string[]> => {
    const selector = `app.kubernetes.io/instance=${release}`;
    const { RbacAuthorizationV1Api, PolicyV1Api, NetworkingV1Api, CoordinationV1Api } = await import(
      "@kubernetes/client-node"
    );
    const rbac = c.admin.makeApiClient(RbacAuthorizationV1Api);
    const names = (kind: string, list: { items: KubernetesObject[] }) =>
      list.items.map((o) => `${kind}/${o.metadata?.name}`);
    return [
      ...names("Deployment", await c.apps.listNamespacedDeployment({ namespace, labelSelector: selector })),
      ...names("Secret", await c.core.listNamespacedSecret({ namespace, labelSelector: selector })),
      ...names("ServiceAccount", await c.core.listNamespacedServiceAccount({ namespace, labelSelector: selector })),
      ...names("Service", await c.core.listNamespacedService({ namespace, labelSelector: selector })),
      ...names("Role", await rbac.listRoleForAllNamespaces({ labelSelector: selector })),
      ...names("ClusterRole", await rbac.listClusterRole({ labelSelector: selector })),
      ...names(
        "PodDisruptionBudget",
        await c.admin
          .makeApiClient(PolicyV1Api)
          .listNamespacedPodDisruptionBudget({ namespace, labelSelector: selector }),
      ),
      ...names(
        "NetworkPolicy",
        await c.admin
          .makeApiClient(NetworkingV1Api)
          .listNamespacedNetworkPolicy({ namespace, labelSelector: selector }),
      ),
      ...names("Lease", await c.admin.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace })),
    ];
  };

  it("a watched namespace that does not exist: install fails before creating anything; helm template still renders", async () => {
    const ns = await createNamespace(c, "chart-missing");
    const exists = await createNamespace(c, "chart-there");
    const failure = await failureOf(
      helmRun([
        "install",
        "miss",
        CHART,
        "--namespace",
        ns,
        ...ONE_DB,
        "--set",
        `watchNamespaces={${exists},shop-nowhere}`,
      ]),
    );
    expect(failure).toContain(
      "watched namespaces not found: shop-nowhere. Create them first (kubectl create namespace shop-nowhere)",
    );
    // No release, no object.
    expect(await failureOf(helmRun(["status", "miss", "--namespace", ns]))).toContain("release: not found");
    expect(await leftOf("miss", ns)).toEqual([]);
    // The databases' namespaces are checked the same way when they make the watch list.
    expect(
      await failureOf(
        helmRun([
          "install",
          "miss",
          CHART,
          "--namespace",
          ns,
          "--set",
          "databases[0].name=a,databases[0].namespaces={team-nowhere}",
          "--set-string",
          "databases[0].url=mysql://m:p@db/",
        ]),
      ),
    ).toContain("watched namespaces not found: team-nowhere");
    // Without a cluster (helm template) it renders; once the namespace exists, install succeeds.
    expect((await render([...ONE_DB, "--set", "watchNamespaces={shop-nowhere}"])).length).toBeGreaterThan(5);
    await helmRun(["install", "miss", CHART, "--namespace", ns, ...ONE_DB, "--set", `watchNamespaces={${exists}}`]);
    await helmRun(["uninstall", "miss", "--namespace", ns, "--wait"]);
  });

  it("ci/*-values.yaml install as they are (Deployment available) and uninstall leaves nothing", async () => {
    const { readdir } = await import("node:fs/promises");
    const files = (await readdir(join(CHART, "ci"))).filter((f) => f.endsWith("-values.yaml"));
    expect(files.sort()).toEqual(["default-values.yaml", "full-values.yaml"]);
    for (const [i, file] of files.entries()) {
      const ns = await createNamespace(c, `chart-ci${i}`);
      const release = `ci${i}`;
      await helmRun([
        "install",
        release,
        CHART,
        "--namespace",
        ns,
        "--values",
        join(CHART, "ci", file),
        "--wait",
        "--timeout",
        "3m",
      ]);
      const deployments = await c.apps.listNamespacedDeployment({ namespace: ns });
      expect(
        deployments.items.map((d) => [d.metadata?.name, d.status?.availableReplicas]),
        file,
      ).toEqual([[file === "full-values.yaml" ? `${release}-tuner` : `${release}-pooltuner`, 2]]);
      expect((await leftOf(release, ns)).length, file).toBeGreaterThan(5);
      await helmRun(["uninstall", release, "--namespace", ns, "--wait"]);
      expect(await leftOf(release, ns), file).toEqual([]);
    }
  });

  it("uninstall: the Lease is owned by the Deployment and garbage-collected with it; the leader's release at shutdown is not an error", async () => {
    const { CoordinationV1Api } = await import("@kubernetes/client-node");
    const { createLogger } = await import("../../../src/runtime/logger.js");
    const { startController } = await import("../../../src/kube/controller.js");
    const leases = c.admin.makeApiClient(CoordinationV1Api);
    const ns = await createNamespace(c, "chart-uninstall");
    const apps = await createNamespace(c, "chart-uninstall-app");
    await helmRun([
      "install",
      "pu",
      CHART,
      "--namespace",
      ns,
      "--wait",
      "--timeout",
      "3m",
      "--set",
      "databases[0].name=main",
      "--set-string",
      `databases[0].url=${db.monitorUrl}`,
      "--set",
      `watchNamespaces={${apps}}`,
    ]);
    const deployment = await c.apps.readNamespacedDeployment({ name: "pu-pooltuner", namespace: ns });
    const asChart = await serviceAccountKubeConfig(c.admin, { namespace: ns, name: "pu-pooltuner" });
    const args = deployment.spec?.template.spec?.containers[0]?.args ?? [];
    expect(args).toContain("--lease-owner-deployment=pu-pooltuner");
    // The chart's controller as one of the chart's pods would run it: its ServiceAccount, its Lease and owner.
    const lines: { level: number; msg: string; status?: number }[] = [];
    const log = createLogger({
      level: "info",
      name: "chart-uninstall",
      destination: { write: (l: string) => void lines.push(JSON.parse(l)) },
    });
    const running = await startController({
      kubeConfig: asChart,
      config: { ...(await loadConfig(`databases:\n  - name: main\n    url: ${db.monitorUrl}\n`, "test", {})) },
      namespaces: [apps],
      updateMode: "off",
      pollIntervalMs: 1_000,
      damping: { cooldownMs: 2_000, minGain: 1 },
      rolloutTimeoutMs: 60_000,
      rolloutCheckMs: 300,
      debounceMs: 100,
      resyncMs: 60_000,
      unmanagedWindowMs: 3_000,
      leaderElection: {
        enabled: true,
        namespace: ns,
        name: "pu-pooltuner",
        ownerDeployment: "pu-pooltuner",
        // Long enough that it is still leading when stopped after the uninstall (a fresh Lease is won at once).
        leaseDurationMs: 90_000,
        renewDeadlineMs: 80_000,
        retryPeriodMs: 1_000,
      },
      log,
    });
    try {
      await eventually("leading", async () => (running.isLeader() ? true : undefined), { timeoutMs: 30_000 });
      // The owner is read in the background, never on a renewal's path: the next renewal adds it.
      const owned = await eventually(
        "the Lease owned by the Deployment",
        async () => {
          const lease = await leases.readNamespacedLease({ name: "pu-pooltuner", namespace: ns });
          return lease.metadata?.ownerReferences?.length ? lease.metadata.ownerReferences : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(owned).toEqual([
        { apiVersion: "apps/v1", kind: "Deployment", name: "pu-pooltuner", uid: deployment.metadata?.uid },
      ]);
      await helmRun(["uninstall", "pu", "--namespace", ns, "--wait"]);
      // The API server has taken the ServiceAccount's or the Role's removal into account (its caches follow them).
      const chartLeases = asChart.makeApiClient(CoordinationV1Api);
      await eventually(
        "the chart's ServiceAccount refused",
        async () =>
          chartLeases.readNamespacedLease({ name: "pu-pooltuner", namespace: ns }).then(
            () => undefined,
            (e: { code?: number }) => (e.code === 401 || e.code === 403 ? true : undefined),
          ),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      // As the kubelet would after uninstall: SIGTERM, a graceful stop that tries to release the Lease.
      await running.stop();
    }
    // The garbage collector (kube-controller-manager) removes the Lease with its owner Deployment.
    await eventually(
      "the Lease garbage-collected",
      async () =>
        leases.readNamespacedLease({ name: "pu-pooltuner", namespace: ns }).then(
          () => undefined,
          (e: unknown) => ((e as { code?: number }).code === 404 ? true : undefined),
        ),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    // The release at shutdown found the ServiceAccount (401) or the Role (403) gone, or the Lease gone (404): an
    // info line, not a warning or an error.
    const release = lines.filter((l) => /release|lease (already|no longer)/.test(l.msg));
    expect(release.map((l) => [l.level, l.status])).toEqual([[30, expect.any(Number)]]);
    expect([401, 403]).toContain(release[0]?.status);
    expect(lines.filter((l) => l.msg === "could not release the lease")).toEqual([]);
    expect(await leftOf("pu", ns)).toEqual([]);
  });
});
