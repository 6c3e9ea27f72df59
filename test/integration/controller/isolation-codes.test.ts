// Issue 10, failure isolation beyond an admission denial: a patch the API server itself answers with 422 (its own
// validation: the object's annotations would exceed 256 KiB once the status annotation is added) and one it answers
// with 404 (the Deployment deleted between the controller's read and its patch: a proxy on the controller's path to
// the API server holds that one PATCH back while the test deletes the object, then lets it go). Each is that
// workload's failure alone: a Warning on it, a backoff before the next try, and the other workload of the database
// still gets its safety decrease. Nothing is mocked: the real client, the real API server, real answers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import { isApiError } from "../../support/cluster.js";
import { type SeenRequest, type StallProxy, startStallProxy } from "../../support/stall-proxy.js";
import {
  type Cluster,
  cluster,
  converged,
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

/** The API server's limit on the total size of an object's annotations (keys and values). */
const ANNOTATIONS_LIMIT = 256 * 1024;

let c: Cluster;
let db: Database;
let proxy: StallProxy;
const running: RunningController[] = [];

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-isolation-codes", 60);
  proxy = await startStallProxy(c.controllerKubeConfig);
});

afterAll(async () => {
  for (const r of running) await r.stop();
  await proxy?.close();
  await db?.db.stop();
});

function envWith(workers: number) {
  return [
    { name: "GUNICORN_WORKERS", value: String(workers) },
    { name: "DB_POOL_SIZE", value: "2" },
    { name: "DB_MAX_OVERFLOW", value: "3" },
  ];
}

const patchesOf = (namespace: string, name: string): SeenRequest[] =>
  proxy.requests.filter(
    (r) => r.method === "PATCH" && r.path.split("?")[0] === `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
  );

function viaProxy(): Cluster {
  return { ...c, controllerKubeConfig: proxy.kubeConfigFrom(c.controllerKubeConfig) };
}

describe("a patch refused by the API server itself", () => {
  it("422 (annotations too large): Warning and backoff on that workload; the other one is decreased", async () => {
    const ns = await createNamespace(c, "iso422");
    // As in isolation.test.ts: big (2 pods + 1 surge) x 8 workers = 24 processes, web 3 x 4 = 12, both at 2+3, on
    // about 55 usable: web 1+1, big 1+0; big's excess is the largest, so it is picked first — and refused.
    await createApp(c, seedApp("big", ns, "main", { env: envWith(8) }));
    await createApp(c, seedApp("web", ns, "main"));
    await rolledOut(c, ns, "big");
    await rolledOut(c, ns, "web");
    // Fill big's annotations to 40 bytes under the limit: any status annotation the controller adds is too much.
    // The padding is kubectl's last-applied-configuration (what makes annotations this large in practice), one of
    // the few annotations the Deployment controller does not copy to the ReplicaSet: any other key would make the
    // ReplicaSet's annotations too long as well, the Deployment controller could never observe big's new generation
    // (an annotation change is one), and big would look like a rollout in progress, which the database's others
    // rightly wait for (one rollout per database) until the rollout timeout.
    const stored = (await getDeployment(c, ns, "big")).metadata?.annotations ?? {};
    const used = Object.entries(stored).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    const key = "kubectl.kubernetes.io/last-applied-configuration";
    const padding = "x".repeat(ANNOTATIONS_LIMIT - 40 - used - key.length);
    await c.apps.patchNamespacedDeployment(
      { name: "big", namespace: ns, body: { metadata: { annotations: { [key]: padding } } } },
      mergePatch,
    );
    // The Deployment controller has observed that change: big is not rolling out when the controller starts.
    await rolledOut(c, ns, "big");
    // Independent of pooltuner: the API server answers 422 to a 100-byte annotation more.
    const probe = await c.apps
      .patchNamespacedDeployment(
        { name: "big", namespace: ns, dryRun: "All", body: { metadata: { annotations: { more: "y".repeat(100) } } } },
        mergePatch,
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isApiError(probe, 422)).toBe(true);

    const failureBackoffMs = 15_000;
    const ctl = await runController(viaProxy(), {
      databases: [{ name: "main", url: db.monitorUrl }],
      namespaces: [ns],
      failureBackoffMs,
    });
    running.push(ctl);
    const warning = await eventually2("a PatchRefused warning on big", async () =>
      (await eventsFor(c, ns, "big")).find((e) => e.reason === "PatchRefused"),
    );
    expect(warning.type).toBe("Warning");
    expect(warning.message).toMatch(/HTTP 422/);
    expect(warning.message).toMatch(/annotations/i);
    expect(warning.message).toContain(`retrying in ${failureBackoffMs / 1000} s`);

    const web = await eventually2("web decreased although big is refused", async () => {
      const x = await getDeployment(c, ns, "web");
      return poolOf(x).maxOverflow === 1 ? x : undefined;
    });
    expect(poolOf(web)).toEqual({ poolSize: 1, maxOverflow: 1 });
    expect(poolOf(await getDeployment(c, ns, "big"))).toEqual({ poolSize: 2, maxOverflow: 3 });

    // The backoff, as the wire saw it: big's next patch comes no sooner than failureBackoffMs after the refused one
    // (a lower bound only: a slow machine makes it later, never earlier), and web's decrease did not wait for it.
    const [first, second] = await eventually2(
      "big tried again after its backoff",
      async () => {
        const p = patchesOf(ns, "big");
        return p.length >= 2 ? p : undefined;
      },
      failureBackoffMs * 6,
    );
    expect((second as SeenRequest).at - (first as SeenRequest).at).toBeGreaterThanOrEqual(failureBackoffMs);
    const webPatches = patchesOf(ns, "web").filter((r) => r.at > (first as SeenRequest).at);
    expect(webPatches.length).toBeGreaterThan(0);
    expect((webPatches[0] as SeenRequest).at).toBeLessThan((second as SeenRequest).at);
    // Still refused: a second Warning (the same message, sent again only after the backoff) or the first one counted.
    expect(poolOf(await getDeployment(c, ns, "big"))).toEqual({ poolSize: 2, maxOverflow: 3 });
    await ctl.stop();
  });

  it("404 (deleted between the read and the patch): Warning on it; the pass goes on and the other is decreased", async () => {
    const ns = await createNamespace(c, "iso404");
    await db.setMaxConnections(60);
    await createApp(c, seedApp("doomed", ns, "main", { env: envWith(8) }));
    await createApp(c, seedApp("web", ns, "main"));
    await rolledOut(c, ns, "doomed");
    await rolledOut(c, ns, "web");

    const gate = proxy.gate(
      (method, path) =>
        method === "PATCH" && path.split("?")[0] === `/apis/apps/v1/namespaces/${ns}/deployments/doomed`,
    );
    const ctl = await runController(viaProxy(), {
      databases: [{ name: "main", url: db.monitorUrl }],
      namespaces: [ns],
      failureBackoffMs: 15_000,
    });
    running.push(ctl);
    // doomed's excess is the largest: its decrease is the pass's first patch. Held at the proxy, it waits while the
    // Deployment is deleted; then the API server gets it and answers 404.
    await eventually2("the controller patches doomed", async () =>
      patchesOf(ns, "doomed").length > 0 ? true : undefined,
    );
    await gate.seen;
    expect(poolOf(await getDeployment(c, ns, "doomed"))).toEqual({ poolSize: 2, maxOverflow: 3 });
    await c.apps.deleteNamespacedDeployment({ name: "doomed", namespace: ns });
    await eventually2("doomed gone", async () =>
      getDeployment(c, ns, "doomed").then(
        () => undefined,
        (e: unknown) => (isApiError(e, 404) ? true : undefined),
      ),
    );
    gate.release();

    const warning = await eventually2("a PatchRefused warning on doomed", async () =>
      (await eventsFor(c, ns, "doomed")).find((e) => e.reason === "PatchRefused"),
    );
    expect(warning.type).toBe("Warning");
    expect(warning.message).toMatch(/HTTP 404/);
    expect(warning.message).toMatch(/not found/);
    // The controller carries on: web (3 pods x 4 workers = 12 processes on about 55 usable) gets a decrease from 2+3
    // (1+1 while doomed is still counted, the table's 1+2 once it is not).
    const web = poolOf(await converged(c, ns, "web"));
    expect(web.poolSize).toBe(1);
    expect(web.maxOverflow).toBeLessThan(3);
    expect(ctl.isLeader()).toBe(true);
    // Nothing of the deleted one is kept (its backoff included): once web is gone too, nothing is remembered.
    await c.apps.deleteNamespacedDeployment({ name: "web", namespace: ns });
    await eventually2("nothing remembered", async () => (ctl.reconciler.remembered() === 0 ? true : undefined));
    await ctl.stop();
  });
});
