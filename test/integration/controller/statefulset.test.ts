// StatefulSets go through the same adapter: replaced pod by pod (no surge, so pods at peak = replicas), patched
// the same way, and their rollout (currentRevision -> updateRevision) is waited for like a Deployment's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import {
  type Cluster,
  cluster,
  createNamespace,
  type Database,
  database,
  deploymentOf,
  eventually2,
  runController,
  seedApp,
} from "./harness.js";

let c: Cluster;
let db: Database;
let ns: string;
let controller: RunningController;

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-sts", 60);
  await db.db.query("SELECT 1");
  ns = await createNamespace(c, "sts");
  const app = deploymentOf(seedApp("queue", ns, "main", { replicas: 3 }));
  await c.apps.createNamespacedStatefulSet({
    namespace: ns,
    body: {
      metadata: app.metadata,
      spec: {
        serviceName: "queue",
        replicas: 3,
        selector: app.spec?.selector as never,
        template: app.spec?.template as never,
      },
    },
  });
  controller = await runController(c, { databases: [{ name: "main", url: db.monitorUrl }], namespaces: [ns] });
});

afterAll(async () => {
  await controller?.stop();
  await db?.db.stop();
});

describe("StatefulSet", () => {
  it("is planned without surge, patched, and rolled pod by pod", async () => {
    const s = await eventually2("StatefulSet patched and rolled", async () => {
      const x = await c.apps.readNamespacedStatefulSet({ name: "queue", namespace: ns });
      const env = Object.fromEntries((x.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
      const st = x.status;
      // The StatefulSet's status can say "rolled" a moment before the last replaced pod is listed again.
      const listed = (await c.core.listNamespacedPod({ namespace: ns, labelSelector: "app=queue" })).items;
      return env.DB_POOL_SIZE === "1" &&
        st?.updateRevision === st?.currentRevision &&
        st?.updatedReplicas === 3 &&
        st?.readyReplicas === 3 &&
        listed.length === 3 &&
        listed.every(
          (p) =>
            !p.metadata?.deletionTimestamp &&
            p.spec?.containers[0]?.env?.find((e) => e.name === "DB_MAX_OVERFLOW")?.value === "2",
        )
        ? x
        : undefined;
    });
    const status = JSON.parse(s.metadata?.annotations?.["pooltuner.io/status"] as string) as {
      plan: { podsPeak: number; processes: number };
      applied: { from: unknown };
    };
    // 3 pods (no surge) x 4 workers = 12 processes; 12 x 3 = 36 fits 56, so the table's 1 + 2.
    expect(status.plan.podsPeak).toBe(3);
    expect(status.plan.processes).toBe(12);
    expect(status.applied.from).toEqual({ poolSize: 2, maxOverflow: 3 });
    // Every pod was replaced with the new values (checked above, in one listing: a second listing could catch the
    // StatefulSet controller between deleting a pod and creating it again).
  });
});
