// A decrease from over budget rolls out without surge (issue 14, item 4; src/kube/strategy.ts), on a real API server
// under manifests/admission-policy.yaml: the strategy goes out in the same patch as the env (every version of the
// Deployment is watched: none carries the new env with the old surge), the person's strategy is put back once the
// rollout is complete (under its own field manager), a strategy a person changed meanwhile stays theirs, and a
// decrease from a safe state keeps the surge.

import { PatchStrategy, setHeaderOptions, type V1Deployment, Watch } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import {
  type Cluster,
  cluster,
  createApp,
  createNamespace,
  type Database,
  database,
  deploymentOf,
  eventsFor,
  eventually2,
  getDeployment,
  poolOf,
  rolledOut,
  runController,
  seedApp,
  statusOf,
} from "./harness.js";

let c: Cluster;
let controller: RunningController | undefined;
const dbs: Database[] = [];

beforeAll(async () => {
  c = await cluster();
});
afterEach(async () => {
  await controller?.stop();
  controller = undefined;
});
afterAll(async () => {
  for (const d of dbs) await d.db.stop();
});

/** Every version of one Deployment the API server sends from now on, in order. */
async function watchVersions(ns: string, name: string): Promise<{ seen: V1Deployment[]; stop: () => void }> {
  const seen: V1Deployment[] = [];
  const req = await new Watch(c.admin).watch(
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    { fieldSelector: `metadata.name=${name}` },
    (_type, obj: V1Deployment) => seen.push(obj),
    () => {},
  );
  return { seen, stop: () => req.abort() };
}

const surgeOf = (d: V1Deployment) => d.spec?.strategy?.rollingUpdate;
const managers = (d: V1Deployment) => (d.metadata?.managedFields ?? []).map((m) => m.manager);

async function setUp(label: string, maxConnections: number, tweak?: (d: V1Deployment) => void) {
  const db = await database(label, maxConnections);
  dbs.push(db);
  await db.db.query("SELECT 1");
  const ns = await createNamespace(c, label);
  const d = deploymentOf(seedApp("web", ns, "main"));
  tweak?.(d);
  await c.apps.createNamespacedDeployment({ namespace: ns, body: d });
  await rolledOut(c, ns, "web");
  const versions = await watchVersions(ns, "web");
  controller = await runController(c, { databases: [{ name: "main", url: db.monitorUrl }], namespaces: [ns] });
  return { ns, versions };
}

describe("a decrease from over budget rolls out without surge", () => {
  it("sets maxSurge 0, maxUnavailable 1 with the env in one patch and puts the person's back after the rollout", async () => {
    // usable = 30 - reserve 2 - other clients (the test's root connection) 1 = 27. Now: (2 + 1 surge) pods x 4
    // workers x (2+3) = 60 > 27: over budget. Planned: 12 processes x 2 = 24 <= 27 -> 1+1 (the small row's split).
    const { ns, versions } = await setUp("surge-drop", 30);
    const restored = await eventually2("the strategy put back", async () => {
      const d = await getDeployment(c, ns, "web");
      return poolOf(d).poolSize === 1 && statusOf(d)?.strategy === undefined && statusOf(d)?.applied ? d : undefined;
    });
    versions.stop();
    const withNewEnv = versions.seen.filter((d) => poolOf(d).maxOverflow !== 3);
    // The first version carrying the new env already had no surge: one patch, not two.
    expect(poolOf(withNewEnv[0] as V1Deployment)).toEqual({ poolSize: 1, maxOverflow: 1 });
    expect(surgeOf(withNewEnv[0] as V1Deployment)).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(versions.seen.filter((d) => poolOf(d).maxOverflow === 3).every((d) => surgeOf(d)?.maxSurge === 1)).toBe(
      true,
    );
    // While the rollout ran, the status recorded what to put back.
    const during = statusOf(withNewEnv[0] as V1Deployment)?.strategy as Record<string, unknown>;
    expect(during).toMatchObject({
      saved: { maxSurge: 1, maxUnavailable: 0 },
      set: { maxSurge: 0, maxUnavailable: 1 },
    });
    // Put back only after the rollout was complete: every version with the surge restored and the new env
    // follows one where all replicas were updated and available.
    const firstRestored = versions.seen.findIndex((d) => poolOf(d).maxOverflow === 1 && surgeOf(d)?.maxSurge === 1);
    const before = versions.seen.slice(0, firstRestored);
    expect(
      before.some(
        (d) =>
          poolOf(d).maxOverflow === 1 &&
          d.status?.updatedReplicas === 2 &&
          d.status?.availableReplicas === 2 &&
          d.status?.replicas === 2,
      ),
    ).toBe(true);
    expect(surgeOf(restored)).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(managers(restored)).toContain("pooltuner-rollout");
    const events = await eventsFor(c, ns, "web");
    expect(events.find((e) => e.reason === "Applied")?.message).toContain("maxSurge 0, maxUnavailable 1");
    expect(events.find((e) => e.reason === "StrategyRestored")?.message).toContain("maxSurge 1, maxUnavailable 0");
    await rolledOut(c, ns, "web");
  });

  it("leaves a strategy a person changed during the rollout as it is", async () => {
    // The person keeps the surge the plan counts (maxSurge 1) and allows one pod unavailable: the plan is the same,
    // and what pooltuner would put back (maxSurge 1, maxUnavailable 0) differs from theirs.
    // New pods become Ready 3 s after they start (kwok), so the rollout lasts long enough for a person to act.
    const { ns, versions } = await setUp("surge-person", 30, (d) => {
      const a = d.spec?.template.metadata?.annotations ?? {};
      a["pod-ready.stage.kwok.x-k8s.io/delay"] = "3s";
      a["pod-ready.stage.kwok.x-k8s.io/jitter-delay"] = "3s";
    });
    await eventually2("the decrease rolling out without surge", async () => {
      const d = await getDeployment(c, ns, "web");
      return surgeOf(d)?.maxSurge === 0 ? d : undefined;
    });
    await c.apps.patchNamespacedDeployment(
      {
        name: "web",
        namespace: ns,
        body: [{ op: "replace", path: "/spec/strategy/rollingUpdate", value: { maxSurge: 1, maxUnavailable: 1 } }],
        fieldManager: "kubectl-edit",
      },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    );
    const done = await eventually2("the record dropped once the rollout completed", async () => {
      const d = await getDeployment(c, ns, "web");
      return statusOf(d)?.strategy === undefined ? d : undefined;
    });
    versions.stop();
    const timeline = versions.seen.map((d) => `${JSON.stringify(surgeOf(d))} ${managers(d).join(",")}`);
    expect(surgeOf(done), timeline.join("\n")).toEqual({ maxSurge: 1, maxUnavailable: 1 });
    expect(managers(done), timeline.join("\n")).not.toContain("pooltuner-rollout");
    expect(versions.seen.every((d) => managers(d).includes("pooltuner-rollout") === false)).toBe(true);
    expect((await eventsFor(c, ns, "web")).some((e) => e.reason === "StrategyRestored")).toBe(false);
  });

  it("a decrease from a safe state keeps the surge", async () => {
    // usable = 200 - 10 - 1 = 189: 60 fits. The sizing table's row for 2 CPU / 2 GiB asks for 1+2 (3 per process),
    // below today's 2+3: a decrease, but not for safety.
    const { ns, versions } = await setUp("surge-keep", 200);
    const d = await eventually2("the decrease applied", async () => {
      const x = await getDeployment(c, ns, "web");
      return poolOf(x).poolSize === 1 && statusOf(x)?.applied ? x : undefined;
    });
    expect(poolOf(d)).toEqual({ poolSize: 1, maxOverflow: 2 });
    expect(statusOf(d)?.strategy).toBeUndefined();
    await rolledOut(c, ns, "web");
    versions.stop();
    expect(versions.seen.length).toBeGreaterThan(1);
    expect(versions.seen.every((x) => surgeOf(x)?.maxSurge === 1 && surgeOf(x)?.maxUnavailable === 0)).toBe(true);
    expect((await eventsFor(c, ns, "web")).find((e) => e.reason === "Applied")?.message).not.toContain("maxSurge 0");
  });

  it("--decrease-surge keep never touches the strategy, even from over budget", async () => {
    const db = await database("surge-off", 30);
    dbs.push(db);
    await db.db.query("SELECT 1");
    const ns = await createNamespace(c, "surge-off");
    await createApp(c, seedApp("web", ns, "main"));
    await rolledOut(c, ns, "web");
    const versions = await watchVersions(ns, "web");
    controller = await runController(c, {
      databases: [{ name: "main", url: db.monitorUrl }],
      namespaces: [ns],
      decreaseSurge: "keep",
    });
    await eventually2("the decrease applied", async () => {
      const x = await getDeployment(c, ns, "web");
      return poolOf(x).poolSize === 1 ? x : undefined;
    });
    await rolledOut(c, ns, "web");
    versions.stop();
    expect(versions.seen.every((x) => surgeOf(x)?.maxSurge === 1)).toBe(true);
  });
});
