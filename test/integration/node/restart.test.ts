// Scenario 5 of issue 14 on real pods: once the controller has applied its plan, restarting the controller, the
// kubelet or the API server changes nothing: the same Deployment generation and template, the same pods (uids), the same containers
// (ids) with no restart, and no write from the controller.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import { clusterDir, clusterProcess, revive } from "../../support/cluster-process.js";
import { NODE_SH } from "../../support/node.global.js";
import {
  type Cluster,
  cluster,
  createNamespace,
  eventually2,
  getDeployment,
  mergePatch,
  runController,
  statusOf,
} from "../controller/harness.js";
import {
  deploySeedApp,
  type NodeDatabase,
  nodeDatabase,
  podsOf,
  poolOf,
  poolsServed,
  reconcileCount,
  rolledOutOnNode,
} from "./support.js";

let c: Cluster;
let db: NodeDatabase;
let ns: string;
let port: number;
const running: RunningController[] = [];
let touches = 0;

beforeAll(async () => {
  c = await cluster();
  db = await nodeDatabase("node-restart", 20);
  ns = await createNamespace(c, "restart");
  port = await deploySeedApp(c, ns, db.appUrl);
});

afterAll(async () => {
  for (const r of running) await r.stop();
  if (ns) await c.core.deleteNamespace({ name: ns }).catch(() => undefined);
  await db?.db.stop();
});

async function start(): Promise<RunningController> {
  const ctl = await runController(c, { databases: [{ name: "lineage", url: db.monitorUrl }], namespaces: [ns] });
  running.push(ctl);
  return ctl;
}

/** Everything a restart must leave as it is. */
async function snapshot() {
  const d = await getDeployment(c, ns, "lineage");
  const pods = (await podsOf(c, ns, "lineage"))
    .map((p) => ({
      uid: p.metadata?.uid,
      deleting: Boolean(p.metadata?.deletionTimestamp),
      containers: (p.status?.containerStatuses ?? []).map((s) => ({ id: s.containerID, restarts: s.restartCount })),
    }))
    .sort((a, b) => String(a.uid).localeCompare(String(b.uid)));
  // A Deployment's generation also counts annotation changes: the test's own touches are taken out.
  return { generation: (d.metadata?.generation ?? 0) - touches, template: JSON.stringify(d.spec?.template), pods };
}

const reconciles = (ctl: RunningController) => reconcileCount(ctl, "lineage");

/**
 * Makes the controller look again `n` times: an annotation of no meaning to it changes on the Deployment (a watch
 * event, so a reconcile of its database), and each time the reconcile count must go up before the next.
 */
async function reconciledAgain(ctl: RunningController, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const from = await reconciles(ctl);
    await c.apps.patchNamespacedDeployment(
      {
        name: "lineage",
        namespace: ns,
        body: { metadata: { annotations: { "test.pooltuner.io/touch": `${Date.now()}` } } },
      },
      mergePatch,
    );
    touches++;
    await eventually2("one more reconcile", async () => ((await reconciles(ctl)) > from ? true : undefined));
    await ctl.idle();
  }
}

it("restarting the controller, then the kubelet, then the API server changes nothing and restarts no pod", async () => {
  const first = await start();
  await eventually2("the plan applied", async () => {
    const d = await getDeployment(c, ns, "lineage");
    const s = statusOf(d) as { pending?: boolean } | undefined;
    return poolOf(d).poolSize !== 2 && s?.pending === false ? true : undefined;
  });
  await rolledOutOnNode(c, ns, "lineage");
  await reconciledAgain(first, 2);
  await first.stop();
  const applied = poolOf(await getDeployment(c, ns, "lineage"));
  expect(await poolsServed(port, 8)).toEqual([`${applied.poolSize}+${applied.maxOverflow}`]);
  const settled = await snapshot();
  expect(settled.pods).toHaveLength(2);
  expect(settled.pods.every((p) => !p.deleting && p.containers[0]?.restarts === 0)).toBe(true);

  // The controller restarts: it reads everything back and writes nothing.
  const second = await start();
  await eventually2("the restarted controller planned", async () =>
    second.reconciler.lastReport.get("lineage")?.outcome === "planned" ? true : undefined,
  );
  await reconciledAgain(second, 3);
  expect(second.reconciler.lastReport.get("lineage")?.applied).toEqual([]);
  expect(second.writes()).toBe(0);
  expect(await snapshot()).toEqual(settled);

  // The kubelet restarts under the running controller: the pods and their containers survive it.
  const restartedAt = Date.now();
  await promisify(execFile)("bash", [NODE_SH, "restart-kubelet", inject("node").cluster]);
  await eventually2(
    "the restarted kubelet reported the node and the pods ready again",
    async () => {
      const node = await c.core.readNode({ name: inject("node").name });
      const ready = node.status?.conditions?.find((x) => x.type === "Ready");
      const beat = new Date(ready?.lastHeartbeatTime ?? 0).getTime();
      const d = await getDeployment(c, ns, "lineage");
      return ready?.status === "True" && beat > restartedAt && d.status?.availableReplicas === 2 ? true : undefined;
    },
    120_000,
  );
  console.log(`[node-restart] kubelet restarted; node and pods ready again after ${Date.now() - restartedAt} ms`);
  await reconciledAgain(second, 3);
  expect(second.writes()).toBe(0);
  expect(await snapshot()).toEqual(settled);
  expect(await poolsServed(port, 8)).toEqual([`${applied.poolSize}+${applied.maxOverflow}`]);

  // The API server crashes (SIGKILL) and starts again under the running controller and kubelet. The controller
  // manager and scheduler exit when they cannot renew their leases meanwhile: started again if they did.
  const name = inject("node").cluster;
  const apiServer = clusterProcess(name, "kube-apiserver");
  const others = ["kube-controller-manager", "kube-scheduler"].map((n) => clusterProcess(name, n));
  const downAt = Date.now();
  await apiServer.stop();
  apiServer.start();
  await eventually2(
    "the API server answers again, with the node ready and both pods available",
    async () => {
      revive(others);
      const node = await c.core.readNode({ name: inject("node").name });
      const ready = node.status?.conditions?.find((x) => x.type === "Ready");
      const d = await getDeployment(c, ns, "lineage");
      return ready?.status === "True" && d.status?.availableReplicas === 2 ? true : undefined;
    },
    120_000,
  );
  console.log(`[node-restart] API server killed and started again; answering after ${Date.now() - downAt} ms`);
  // The Metrics API is back as well: metrics-server exits when it cannot reach the API server while it starts, and
  // node.sh's loop starts it again (the HPA test in transitions.test.ts runs on this node after this file).
  const metrics = c.admin.makeApiClient(CustomObjectsApi);
  await eventually2(
    "the Metrics API serves the node's usage again",
    async () => {
      const m = (await metrics
        .getClusterCustomObject({
          group: "metrics.k8s.io",
          version: "v1beta1",
          plural: "nodes",
          name: inject("node").name,
        })
        .catch(() => undefined)) as { usage?: { cpu?: string } } | undefined;
      return m?.usage?.cpu;
    },
    120_000,
  );
  const msLog = join(clusterDir(name), "node/logs/metrics-server.log");
  const msRestarts = (await readFile(msLog, "utf8")).split("metrics-server exited").length - 1;
  console.log(
    `[node-restart] Metrics API serving again ${Date.now() - downAt} ms after the API server was killed ` +
      `(metrics-server started again by node.sh's loop ${msRestarts} time(s) so far)`,
  );
  await reconciledAgain(second, 3);
  revive(others);
  expect(second.writes()).toBe(0);
  expect(await snapshot()).toEqual(settled);
  expect(await poolsServed(port, 8)).toEqual([`${applied.poolSize}+${applied.maxOverflow}`]);
});
