// Benchmark of manifests/admission-policy.yaml on the real test-bed API server: how long pooltuner's own patch (one
// pool env value) takes with and without the ValidatingAdmissionPolicy, for pod specs from small to very large
// (containers x env vars per container), and whether CEL's cost limits are ever hit (a denial would fail the run).
//
//   npx tsx bench/admission-policy.ts [--samples 15]
//
// The patch is sent as the manifests' ServiceAccount (the policy matches only it); "without" is the same request after
// the policy's binding is deleted. Numbers are printed, not asserted.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
} from "@kubernetes/client-node";
import { adminKubeConfig, applyManifest, serviceAccountKubeConfig, startKubeCluster } from "../test/support/cluster.js";

const REPO = join(import.meta.dirname, "..");
const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
const i = process.argv.indexOf("--samples");
const SAMPLES = i >= 0 ? Number(process.argv[i + 1]) : 15;
const SIZES: [containers: number, env: number][] = [
  [1, 10],
  [20, 150],
  [40, 300],
];

function deployment(name: string, containers: number, env: number): V1Deployment {
  return {
    metadata: {
      name,
      annotations: { "pooltuner.io/enabled": "true", "pooltuner.io/database": "main", "pooltuner.io/container": "c0" },
    },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: Array.from({ length: containers }, (_, c) => ({
            name: `c${c}`,
            image: "pooltuner.invalid/app:1",
            env: [
              ...(c === 0 ? [{ name: "DB_POOL_SIZE", value: "2" }] : []),
              ...Array.from({ length: env }, (_, j) => ({ name: `VAR_${j}`, value: `value-${c}-${j}-`.repeat(3) })),
            ],
          })),
        },
      },
    },
  };
}

function quantiles(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return `p50 ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms`;
}

async function main(): Promise<void> {
  const cluster = await startKubeCluster("bench-vap", 300_000);
  try {
    const admin = adminKubeConfig(cluster.kubeconfigPath);
    for (const f of ["namespace", "rbac", "admission-policy"]) {
      await applyManifest(admin, { path: join(REPO, `manifests/${f}.yaml`) }, "pooltuner");
    }
    const ns = `bench-vap-${randomBytes(3).toString("hex")}`;
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    const adminApps = admin.makeApiClient(AppsV1Api);
    const apps = (await serviceAccountKubeConfig(admin, { namespace: "pooltuner", name: "pooltuner" })).makeApiClient(
      AppsV1Api,
    );
    const patch = (name: string, body: object) =>
      apps.patchNamespacedDeployment({ name, namespace: ns, body, fieldManager: "pooltuner" }, strategic);
    const image = (name: string) =>
      patch(name, {
        spec: { template: { spec: { containers: [{ name: "c0", image: `x.invalid/y:${Date.now()}` }] } } },
      });
    for (const [c, e] of SIZES) {
      await adminApps.createNamespacedDeployment({ namespace: ns, body: deployment(`d-${c}-${e}`, c, e) });
    }
    // In force: an image change by the ServiceAccount is denied.
    for (;;) {
      const denied = await image(`d-${SIZES[0]?.[0]}-${SIZES[0]?.[1]}`).then(
        () => false,
        () => true,
      );
      if (denied) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const measure = async (name: string) => {
      const xs: number[] = [];
      for (let s = 0; s < SAMPLES; s++) {
        const t = performance.now();
        await patch(name, {
          spec: {
            template: { spec: { containers: [{ name: "c0", env: [{ name: "DB_POOL_SIZE", value: String(s % 2) }] }] } },
          },
        });
        xs.push(performance.now() - t);
      }
      return xs;
    };
    const withPolicy = new Map<string, number[]>();
    for (const [c, e] of SIZES) withPolicy.set(`${c}x${e}`, await measure(`d-${c}-${e}`));
    await admin
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteValidatingAdmissionPolicyBinding({ name: "pooltuner-controller" });
    for (;;) {
      const allowed = await image(`d-${SIZES[0]?.[0]}-${SIZES[0]?.[1]}`).then(
        () => true,
        () => false,
      );
      if (allowed) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const [c, e] of SIZES) {
      const d = await adminApps.readNamespacedDeployment({ name: `d-${c}-${e}`, namespace: ns });
      const bytes = JSON.stringify(d).length;
      const without = await measure(`d-${c}-${e}`);
      console.log(
        `${c} containers x ${e} env (${Math.round(bytes / 1024)} KiB): with the policy ${quantiles(withPolicy.get(`${c}x${e}`) ?? [])}; without ${quantiles(without)} (${SAMPLES} patches each)`,
      );
    }
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
