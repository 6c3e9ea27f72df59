// One workload that cannot be changed must not hold back the others: a ValidatingAdmissionPolicy (a real admission
// denial, no webhook server needed) refuses every update of one Deployment; the other workload on the same database
// still gets its decrease. And the controller's memory belongs to an object, not a name: the refused Deployment,
// deleted and created again under the same name, is a new workload with no failure to wait out.
import { AdmissionregistrationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import { isApiError } from "../../support/cluster.js";
import {
  type Cluster,
  cluster,
  createApp,
  createNamespace,
  type Database,
  database,
  eventsFor,
  eventually2,
  getDeployment,
  mergePatch,
  poolOf,
  rolledOut,
  runController,
  seedApp,
} from "./harness.js";

let c: Cluster;
let db: Database;
const running: RunningController[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-isolation", 60);
});

afterAll(async () => {
  for (const r of running) await r.stop();
  for (const f of cleanups) await f().catch(() => undefined);
  await db?.db.stop();
});

/** Denies every UPDATE (a patch is one) of the Deployment `name` in `namespace`. */
async function denyUpdatesOf(namespace: string, name: string): Promise<{ removeBinding: () => Promise<void> }> {
  const admission = c.admin.makeApiClient(AdmissionregistrationV1Api);
  const policy = `deny-${namespace}`;
  await admission.createValidatingAdmissionPolicy({
    body: {
      metadata: { name: policy },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
          resourceRules: [
            { apiGroups: ["apps"], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["deployments"] },
          ],
        },
        validations: [
          { expression: `object.metadata.name != "${name}"`, message: `updates of ${name} are frozen (test policy)` },
        ],
      },
    },
  });
  cleanups.push(() => admission.deleteValidatingAdmissionPolicy({ name: policy }));
  const removeBinding = async () => {
    await admission.deleteValidatingAdmissionPolicyBinding({ name: policy }).catch((e: unknown) => {
      if (!isApiError(e, 404)) throw e;
    });
  };
  await admission.createValidatingAdmissionPolicyBinding({
    body: { metadata: { name: policy }, spec: { policyName: policy, validationActions: ["Deny"] } },
  });
  cleanups.push(removeBinding);
  // The policy is enforced once the API server has loaded it: a dry-run patch as admin is refused.
  await eventually2("the admission policy refuses updates", async () => {
    try {
      await c.apps.patchNamespacedDeployment(
        { name, namespace, dryRun: "All", body: { metadata: { annotations: { probe: String(Date.now()) } } } },
        mergePatch,
      );
      return undefined;
    } catch (e) {
      if (isApiError(e, 422) || isApiError(e, 403)) return true;
      throw e;
    }
  });
  return { removeBinding };
}

describe("per-workload failures", () => {
  it("a Deployment whose patches are refused gets a Warning; the next decrease on its database still goes", async () => {
    const ns = await createNamespace(c, "isolation");
    // frozen: (2 + 1 surge) pods x 8 workers = 24 processes; web: 3 x 4 = 12; both at 2+3.
    // usable about 60 - 3 - (a few monitor/test connections) = 55..57. Everyone at 1 = 36; web at 2 = 48 fits,
    // frozen at 2 (72) or web at 3 (60) does not: web 1+1, frozen 1+0. Frozen's excess (120 - 24) is the
    // largest, so it is picked first, and refused.
    await createApp(c, seedApp("frozen", ns, "main", { env: envWith(8) }));
    await createApp(c, seedApp("web", ns, "main"));
    await rolledOut(c, ns, "frozen");
    await rolledOut(c, ns, "web");
    const { removeBinding } = await denyUpdatesOf(ns, "frozen");

    const ctl = await runController(c, { databases: [{ name: "main", url: db.monitorUrl }], namespaces: [ns] });
    running.push(ctl);
    const d = await eventually2(
      "web decreased although frozen is refused",
      async () => {
        const x = await getDeployment(c, ns, "web");
        return poolOf(x).maxOverflow === 1 ? x : undefined;
      },
      60_000,
    );
    expect(poolOf(d)).toEqual({ poolSize: 1, maxOverflow: 1 });
    const frozen = await getDeployment(c, ns, "frozen");
    expect(poolOf(frozen)).toEqual({ poolSize: 2, maxOverflow: 3 });
    const warnings = await eventually2("a PatchRefused warning on frozen", async () => {
      const ev = (await eventsFor(c, ns, "frozen")).filter((e) => e.reason === "PatchRefused");
      return ev.length > 0 ? ev : undefined;
    });
    expect(warnings[0]?.type).toBe("Warning");
    expect(warnings[0]?.message).toContain("frozen (test policy)");

    // Deleted and created again under the same name (the policy lifted): a new object, with no failure of the old
    // one to wait out (the backoff is 5 minutes here) — decreased at once.
    await removeBinding();
    await eventually2("the admission policy lifted", async () => {
      const body = { metadata: { annotations: { probe: String(Date.now()) } } };
      await c.apps.patchNamespacedDeployment({ name: "frozen", namespace: ns, dryRun: "All", body }, mergePatch);
      return true;
    });
    await c.apps.deleteNamespacedDeployment({ name: "frozen", namespace: ns });
    await eventually2("frozen gone", async () => {
      try {
        await getDeployment(c, ns, "frozen");
        return undefined;
      } catch (e) {
        return isApiError(e, 404) ? true : undefined;
      }
    });
    await createApp(c, seedApp("frozen", ns, "main", { env: envWith(8) }));
    const again = await eventually2(
      "the recreated frozen decreased",
      async () => {
        const x = await getDeployment(c, ns, "frozen");
        return poolOf(x).maxOverflow === 0 ? x : undefined;
      },
      60_000,
    );
    expect(poolOf(again)).toEqual({ poolSize: 1, maxOverflow: 0 });
    await ctl.stop();
  });
});

describe("memory under churn", () => {
  it("remembers nothing of workloads once they are deleted, however many came and went", async () => {
    const ns = await createNamespace(c, "churn");
    await db.setMaxConnections(60);
    const ctl = await runController(c, { databases: [{ name: "main", url: db.monitorUrl }], namespaces: [ns] });
    running.push(ctl);
    const names = Array.from({ length: 4 }, (_, i) => `churn-${i}`);
    for (let round = 0; round < 3; round++) {
      // Each one is written to ((1 + 1 surge) pods x 4 workers at 2+3 is 40 each; 4 x 8 processes share about 55), then
      // deleted.
      for (const name of names) await createApp(c, seedApp(name, ns, "main", { replicas: 1 }));
      for (const name of names) {
        await eventually2(`${name} written`, async () => {
          const x = await getDeployment(c, ns, name);
          return poolOf(x).maxOverflow < 3 ? true : undefined;
        });
      }
      expect(ctl.reconciler.remembered()).toBeGreaterThan(0);
      for (const name of names) await c.apps.deleteNamespacedDeployment({ name, namespace: ns });
      // Once a pass has seen them gone, nothing of them is left.
      await eventually2(`round ${round}: nothing remembered`, async () =>
        ctl.reconciler.remembered() === 0 ? true : undefined,
      );
    }
    await ctl.stop();
  });
});

function envWith(workers: number) {
  return [
    { name: "GUNICORN_WORKERS", value: String(workers) },
    { name: "DB_POOL_SIZE", value: "2" },
    { name: "DB_MAX_OVERFLOW", value: "3" },
  ];
}
