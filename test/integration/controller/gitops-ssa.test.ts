// GitOps tools re-apply manifests with server-side apply (Flux's kustomize-controller always, Argo CD with
// ServerSideApply=true). What happens to the pool env pooltuner wrote when they do, on the real API server:
// - a manifest without the pool variables: pooltuner's values stay, with or without force;
// - a manifest that had them and drops them: the entries were still the GitOps tool's (pooltuner's update owns only
//   the values it changed), so they are removed once; pooltuner's next write owns them whole and then stays;
// - a manifest with them (the values of Git): a conflict naming pooltuner's field manager without force; with
//   force, Git's values come back and pooltuner loses the fields. This is why the Argo CD recipe ignores the fields
//   pooltuner manages (docs/gitops.md).
import {
  ApiException,
  AppsV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1EnvVar,
} from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import type { WorkloadObject } from "../../../src/kube/objects.js";
import { buildPatch, FIELD_MANAGER, sendPatch } from "../../../src/kube/patch.js";
import {
  type Cluster,
  cluster,
  createNamespace,
  deploymentOf,
  getDeployment,
  seedApp,
  templateEnv,
} from "./harness.js";

const ssa = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);
const GITOPS = "argocd-controller";
const POOL_ENV = ["DB_POOL_SIZE", "DB_MAX_OVERFLOW"];

let c: Cluster;
let ns: string;
let pooltuner: AppsV1Api;

beforeAll(async () => {
  c = await cluster();
  ns = await createNamespace(c, "gitops");
  // pooltuner writes as its own ServiceAccount, under the admission policy, as in a deployment.
  pooltuner = c.controllerKubeConfig.makeApiClient(AppsV1Api);
});

/** The manifest as Git has it; `withPool: false` leaves the pool variables to pooltuner. */
function manifest(name: string, withPool: boolean): V1Deployment {
  const app = seedApp(name, ns, "main");
  const env = (app.env as V1EnvVar[]).filter((e) => withPool || !POOL_ENV.includes(e.name));
  return deploymentOf({ ...app, env });
}

function apply(body: V1Deployment, force: boolean): Promise<V1Deployment> {
  const name = body.metadata?.name as string;
  return c.apps.patchNamespacedDeployment({ name, namespace: ns, body, fieldManager: GITOPS, force }, ssa);
}

/**
 * What pooltuner's controller sends for a decrease to 1 + 1 (src/kube/patch.ts), as its own field manager. The
 * patch is guarded by the resourceVersion it was built from, and the Deployment controller writes the status of
 * a new Deployment meanwhile: re-read and rebuild on 409, as the controller does.
 */
async function pooltunerPatch(name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const current = (await getDeployment(c, ns, name)) as WorkloadObject;
    const { body } = buildPatch(
      current,
      "web",
      [
        { name: "DB_POOL_SIZE", value: "1" },
        { name: "DB_MAX_OVERFLOW", value: "1" },
      ],
      undefined,
    );
    try {
      await sendPatch(pooltuner, "Deployment", ns, name, body as Record<string, unknown>);
      return;
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409) || attempt >= 10) throw err;
    }
  }
}

function pool(d: V1Deployment): Record<string, string | undefined> {
  const env = templateEnv(d);
  return { DB_POOL_SIZE: env.DB_POOL_SIZE, DB_MAX_OVERFLOW: env.DB_MAX_OVERFLOW };
}

/** The managers whose managedFields name the pool env entry `name` of container web. */
function ownersOf(d: V1Deployment, name: string): string[] {
  return (d.metadata?.managedFields ?? [])
    .filter((m) => JSON.stringify(m.fieldsV1 ?? {}).includes(`k:{\\"name\\":\\"${name}\\"}`))
    .map((m) => m.manager as string)
    .sort();
}

describe("server-side apply by a GitOps tool after pooltuner's patch", () => {
  it("keeps pooltuner's values when the manifest leaves the pool variables out, with or without force", async () => {
    const name = "without-pool";
    await apply(manifest(name, false), false);
    await pooltunerPatch(name);
    const patched = await getDeployment(c, ns, name);
    expect(pool(patched)).toEqual({ DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "1" });
    expect(ownersOf(patched, "DB_POOL_SIZE")).toEqual([FIELD_MANAGER]);

    for (const force of [false, true]) {
      const after = await apply(manifest(name, false), force);
      expect(pool(after)).toEqual({ DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "1" });
      // Nothing was written: the apply changed no field, so the template (and the pods) stay as they were.
      expect(after.metadata?.generation).toBe(patched.metadata?.generation);
      expect(templateEnv(after).GUNICORN_WORKERS).toBe("4");
    }
  });

  it("removes the variables once when Git drops the ones it used to set; pooltuner's next write then stays", async () => {
    const name = "dropped-pool";
    await apply(manifest(name, true), false);
    await pooltunerPatch(name);
    // pooltuner's update took only the values it changed: the entries themselves (their names) stay Git's.
    const patched = await getDeployment(c, ns, name);
    expect(pool(patched)).toEqual({ DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "1" });
    expect(ownersOf(patched, "DB_POOL_SIZE")).toEqual([GITOPS, FIELD_MANAGER].sort());

    // Git drops the entries it owns: the API server removes them, pooltuner's values with them (the app falls back
    // to its own defaults until pooltuner writes again).
    const dropped = await apply(manifest(name, false), false);
    expect(pool(dropped)).toEqual({ DB_POOL_SIZE: undefined, DB_MAX_OVERFLOW: undefined });

    // pooltuner's next pass adds them back, now wholly its own: later applies leave them alone.
    await pooltunerPatch(name);
    expect(ownersOf(await getDeployment(c, ns, name), "DB_POOL_SIZE")).toEqual([FIELD_MANAGER]);
    const after = await apply(manifest(name, false), false);
    expect(pool(after)).toEqual({ DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "1" });
  });

  it("conflicts on the pool variables without force, and reverts them with force", async () => {
    const name = "with-pool";
    await apply(manifest(name, true), false);
    await pooltunerPatch(name);
    const patched = await getDeployment(c, ns, name);
    expect(pool(patched)).toEqual({ DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "1" });

    const refused = await apply(manifest(name, true), false).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(ApiException);
    expect((refused as ApiException<string>).code).toBe(409);
    const message = String((refused as ApiException<string>).body);
    expect(message).toContain(`conflict with \\"${FIELD_MANAGER}\\"`);
    expect(message).toContain("DB_POOL_SIZE");
    expect((await getDeployment(c, ns, name)).metadata?.resourceVersion).toBe(patched.metadata?.resourceVersion);

    const forced = await apply(manifest(name, true), true);
    expect(pool(forced)).toEqual({ DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "3" });
    expect(ownersOf(forced, "DB_POOL_SIZE")).toEqual([GITOPS]);
  });
});
