// Kubernetes manifests read from real temp directories (STYLE 10).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatSourceFinding } from "../../src/sources/findings.js";
import { loadSources } from "../../src/sources/load.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pooltuner-manifests-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(entries: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(entries)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}
const load = (...paths: string[]) =>
  loadSources(
    paths.map((p) => join(dir, p)),
    { environment: {} },
  );

const deployment = (opts: {
  name?: string;
  ns?: string;
  annotations?: Record<string, string>;
  spec?: string;
  container?: string;
}) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${opts.name ?? "web"}
${opts.ns ? `  namespace: ${opts.ns}\n` : ""}  annotations:
${Object.entries({ "pooltuner.io/enabled": "true", ...opts.annotations })
  .map(([k, v]) => `    ${k}: "${v}"`)
  .join("\n")}
spec:
${opts.spec ?? "  replicas: 2"}
  template:
    spec:
      containers:
${
  opts.container ??
  `        - name: web
          image: web
          env:
            - { name: GUNICORN_WORKERS, value: "4" }
            - { name: DB_POOL_SIZE, value: "2" }
            - { name: DB_MAX_OVERFLOW, value: "3" }`
}
`;

describe("Kubernetes manifests", () => {
  it("the pooltuner.io/enabled label opts in like the annotation; an annotation saying otherwise wins", async () => {
    const labelled = (name: string, annotation?: string) =>
      deployment({ name }).replace(
        '    pooltuner.io/enabled: "true"\n',
        `${annotation !== undefined ? `    pooltuner.io/enabled: "${annotation}"\n` : ""}  labels:\n    pooltuner.io/enabled: "true"\n`,
      );
    await files({ "apps.yaml": [labelled("by-label"), labelled("annotation-off", "false")].join("---\n") });
    const r = await load("apps.yaml");
    expect(r.errors).toEqual([]);
    expect(r.workloads.map((w) => w.workload.id)).toEqual(["kube:default/Deployment/by-label"]);
  });

  it("a Deployment with defaults: RollingUpdate (surge left to the policy), namespace default, first container", async () => {
    await files({ "web.yaml": deployment({}) });
    const r = await load("web.yaml");
    expect(r.errors).toEqual([]);
    expect(r.workloads.map((w) => w.workload)).toEqual([
      {
        id: "kube:default/Deployment/web",
        kind: "Deployment",
        replicas: 2,
        // Absent maxSurge/maxUnavailable stay absent: the core's policy holds the one default.
        rollout: { type: "RollingUpdate" },
        workers: 4,
        weight: 1,
        current: { poolSize: 2, maxOverflow: 3 },
        writes: {
          kind: "pool-overflow",
          profile: "sqlalchemy",
          poolSizeEnv: "DB_POOL_SIZE",
          maxOverflowEnv: "DB_MAX_OVERFLOW",
        },
      },
    ]);
    expect(r.workloads[0]?.object).toBe("Deployment default/web");
  });

  it("multi-document files, HPAs in another file (v2 and v1), Recreate, StatefulSets, limits", async () => {
    await files({
      "apps.yaml": [
        deployment({ name: "api", ns: "shop", spec: "  replicas: 3\n  strategy: { type: Recreate }" }),
        deployment({
          name: "web",
          ns: "shop",
          spec: "  replicas: 2\n  strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: '50%' } }",
          container: `        - name: web
          image: web
          args: ["--workers", "$(WORKERS)"]
          env:
            - { name: WORKERS, value: "3" }
          resources:
            limits: { cpu: 500m, memory: 1Gi }`,
        }),
        `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db-sync
  namespace: shop
  annotations: { pooltuner.io/enabled: "true", pooltuner.io/workers: "2" }
spec:
  replicas: 3
  template:
    spec:
      containers: [{ name: sync, image: sync }]
`,
        "# a comment-only document\n",
      ].join("---\n"),
      "hpa/hpas.yaml": `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: web, namespace: shop }
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: web }
  minReplicas: 2
  maxReplicas: 10
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: { name: sync, namespace: shop }
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: StatefulSet, name: db-sync }
  maxReplicas: 5
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: other-ns, namespace: elsewhere }
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: api }
  maxReplicas: 50
`,
    });
    const r = await load("apps.yaml", "hpa");
    expect(r.errors).toEqual([]);
    const byId = Object.fromEntries(r.workloads.map((w) => [w.workload.id, w.workload]));
    expect(Object.keys(byId).sort()).toEqual([
      "kube:shop/Deployment/api",
      "kube:shop/Deployment/web",
      "kube:shop/StatefulSet/db-sync",
    ]);
    expect(byId["kube:shop/Deployment/api"]).toMatchObject({ replicas: 3, rollout: { type: "Recreate" } });
    expect(byId["kube:shop/Deployment/api"]?.hpa).toBeUndefined(); // the HPA in another namespace does not match
    expect(byId["kube:shop/Deployment/web"]).toMatchObject({
      replicas: 2,
      hpa: { minReplicas: 2, maxReplicas: 10 },
      rollout: {
        type: "RollingUpdate",
        maxSurge: { kind: "int", value: 1 },
        maxUnavailable: { kind: "percent", value: 50 },
      },
      workers: 3,
      resources: { cpuMillis: 500, memoryBytes: 2 ** 30 },
    });
    expect(byId["kube:shop/Deployment/web"]?.current).toBeUndefined();
    expect(byId["kube:shop/StatefulSet/db-sync"]).toMatchObject({
      kind: "StatefulSet",
      replicas: 3,
      rollout: { type: "Ordered" },
      hpa: { minReplicas: 1, maxReplicas: 5 },
      workers: 2,
    });
  });

  it("env from ConfigMaps in the files is read; Secrets and missing ConfigMaps are 'cannot read' warnings", async () => {
    await files({
      "cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: pools }
data: { DB_POOL_SIZE: "1", GUNICORN_WORKERS: "2" }
`,
      "web.yaml": deployment({
        container: `        - name: web
          image: web
          envFrom: [{ configMapRef: { name: pools } }]
          env:
            - name: DB_MAX_OVERFLOW
              valueFrom: { secretKeyRef: { name: db, key: overflow } }`,
      }),
      "api.yaml": deployment({
        name: "api",
        container: `        - name: api
          image: api
          envFrom: [{ configMapRef: { name: not-here } }]
          env:
            - name: DB_POOL_SIZE
              valueFrom: { configMapKeyRef: { name: pools, key: DB_POOL_SIZE } }
            - { name: GUNICORN_WORKERS, value: "3" }`,
      }),
    });
    const r = await load("cm.yaml", "web.yaml", "api.yaml");
    expect(r.errors).toEqual([]);
    const byId = Object.fromEntries(r.workloads.map((w) => [w.workload.id, w.workload]));
    expect(byId["kube:default/Deployment/web"]).toMatchObject({ workers: 2, current: { poolSize: 1 } });
    expect(byId["kube:default/Deployment/api"]).toMatchObject({ workers: 3, current: { poolSize: 1 } });
    const warnings = r.warnings.map(formatSourceFinding);
    expect(warnings).toContainEqual(
      expect.stringMatching(
        /web\.yaml: Deployment default\/web: env DB_MAX_OVERFLOW: comes from Secret db, which cannot be read here/,
      ),
    );
    expect(warnings).toContainEqual(
      expect.stringMatching(
        /api\.yaml: Deployment default\/api: env DB_MAX_OVERFLOW: comes from envFrom ConfigMap not-here/,
      ),
    );
  });

  it("the container annotation picks the container; a wrong name lists the ones there are", async () => {
    const twoContainers = `        - { name: proxy, image: p }
        - name: app
          image: app
          env: [{ name: WEB_CONCURRENCY, value: "5" }]`;
    await files({
      "ok.yaml": deployment({ annotations: { "pooltuner.io/container": "app" }, container: twoContainers }),
      "bad.yaml": deployment({
        name: "bad",
        annotations: { "pooltuner.io/container": "ap" },
        container: twoContainers,
      }),
    });
    const r = await load("ok.yaml", "bad.yaml");
    expect(r.workloads.map((w) => [w.workload.id, w.workload.workers])).toEqual([["kube:default/Deployment/web", 5]]);
    expect(r.errors.map(formatSourceFinding)).toEqual([
      `${join(dir, "bad.yaml")}: Deployment default/bad: pooltuner.io/container=<a 2-character value, not shown>: no container named "ap" (containers: proxy, app)`,
    ]);
  });

  it("bad values: one line each naming the file, the object and the field", async () => {
    await files({
      "bad.yaml": [
        deployment({
          annotations: { "pooltuner.io/weight": "0" },
          spec: "  replicas: -1\n  strategy: { rollingUpdate: { maxSurge: '1' } }",
          container: `        - name: web
          image: web
          env: [{ name: DB_POOL_SIZE, value: "two" }, { name: GUNICORN_WORKERS, value: "2" }]
          resources: { limits: { cpu: 1 core } }`,
        }),
        `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: web }
spec:
  scaleTargetRef: { kind: Deployment, name: web }
  minReplicas: 2
`,
      ].join("---\n"),
    });
    const r = await load("bad.yaml");
    const f = join(dir, "bad.yaml");
    expect(r.errors.map(formatSourceFinding).sort()).toEqual(
      [
        `${f}: Deployment default/web: pooltuner.io/weight="0": must be a number > 0 and <= 1000000, such as 1 or 2.5`,
        `${f}: Deployment default/web: spec.replicas: must be a whole number from 0 to 100000, got -1`,
        `${f}: Deployment default/web: spec.strategy.rollingUpdate.maxSurge: must be a whole number >= 0 or a percentage such as "25%", got "1"`,
        `${f}: Deployment default/web: spec.template.spec.containers[web].resources.limits.cpu: <a 6-character value, not shown> is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 2Gi, 1G)`,
        `${f}: Deployment default/web: env DB_POOL_SIZE=<a 3-character value, not shown>: must be a whole number from -1 to 100000 (SQLAlchemy pool_size)`,
        `${f}: HorizontalPodAutoscaler default/web: spec.maxReplicas: must be a whole number from 1 to 100000, got nothing`,
      ].sort(),
    );
  });

  it("objects without the opt-in are ignored; a List is flattened; a nameless object is an error", async () => {
    await files({
      "list.yaml": `apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: plain }
    spec: { template: { spec: { containers: [{ name: c, image: c }] } } }
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: managed, annotations: { pooltuner.io/enabled: "true", pooltuner.io/workers: "2" } }
    spec: { template: { spec: { containers: [{ name: c, image: c }] } } }
  - apiVersion: v1
    kind: Service
    metadata: {}
`,
    });
    const r = await load("list.yaml");
    expect(r.workloads.map((w) => w.workload.id)).toEqual(["kube:default/Deployment/managed"]);
    expect(r.workloads[0]?.workload.replicas).toBe(1);
    expect(r.errors.map(formatSourceFinding)).toEqual([
      `${join(dir, "list.yaml")}: Service in document 1 items[2]: metadata.name: is required`,
    ]);
  });
  it("max-replicas is carried to the snapshot; with an HPA it is ignored with a warning; a bad value is one error", async () => {
    await files({
      "apps.yaml": [
        deployment({ name: "zero", annotations: { "pooltuner.io/max-replicas": "5" }, spec: "  replicas: 0" }),
        deployment({ name: "scaled", annotations: { "pooltuner.io/max-replicas": "6" } }),
        `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: scaled }
spec:
  scaleTargetRef: { kind: Deployment, name: scaled }
  maxReplicas: 10
`,
      ].join("---\n"),
      "bad.yaml": deployment({ name: "bad", annotations: { "pooltuner.io/max-replicas": "-2" } }),
    });
    const r = await load("apps.yaml", "bad.yaml");
    const byId = Object.fromEntries(r.workloads.map((w) => [w.workload.id, w.workload]));
    expect(byId["kube:default/Deployment/zero"]).toMatchObject({ replicas: 0, maxReplicas: 5 });
    expect(byId["kube:default/Deployment/scaled"]).toMatchObject({
      replicas: 2,
      maxReplicas: 6,
      hpa: { minReplicas: 1, maxReplicas: 10 },
    });
    expect(byId["kube:default/Deployment/bad"]?.maxReplicas).toBeUndefined();
    expect(r.warnings.map(formatSourceFinding)).toContainEqual(
      expect.stringMatching(
        /apps\.yaml: Deployment default\/scaled: pooltuner\.io\/max-replicas: ignored: an HPA targets it .*its maxReplicas \(10\) is planned for/,
      ),
    );
    expect(r.errors.map(formatSourceFinding)).toEqual([
      `${join(dir, "bad.yaml")}: Deployment default/bad: pooltuner.io/max-replicas="-2": must be a whole number of replicas from 0 to 100000: the most the workload is scaled to by hand`,
    ]);
  });

  it("maxSurge 0 with maxUnavailable 0 (int or 0%) is one error naming the object and both fields", async () => {
    await files({
      "zero.yaml": [
        deployment({
          name: "a",
          spec: "  replicas: 2\n  strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } }",
        }),
        deployment({
          name: "b",
          spec: "  replicas: 2\n  strategy: { rollingUpdate: { maxSurge: '0%', maxUnavailable: 0 } }",
        }),
        // Only one of them 0, or one absent (Kubernetes' 25 %): fine.
        deployment({ name: "c", spec: "  replicas: 2\n  strategy: { rollingUpdate: { maxSurge: 0 } }" }),
        deployment({ name: "d", spec: "  replicas: 2\n  strategy: { rollingUpdate: { maxUnavailable: '0%' } }" }),
      ].join("---\n"),
    });
    const r = await load("zero.yaml");
    const f = join(dir, "zero.yaml");
    expect(r.errors.map(formatSourceFinding)).toEqual([
      `${f}: Deployment default/a: spec.strategy.rollingUpdate: maxSurge (0) and maxUnavailable (0) cannot both be 0: Kubernetes rejects it, as no pod could be replaced; set one of them above 0`,
      `${f}: Deployment default/b: spec.strategy.rollingUpdate: maxSurge ("0%") and maxUnavailable (0) cannot both be 0: Kubernetes rejects it, as no pod could be replaced; set one of them above 0`,
    ]);
    const byId = Object.fromEntries(r.workloads.map((w) => [w.workload.id, w.workload]));
    expect(byId["kube:default/Deployment/c"]?.rollout).toEqual({
      type: "RollingUpdate",
      maxSurge: { kind: "int", value: 0 },
    });
    expect(byId["kube:default/Deployment/d"]?.rollout).toEqual({
      type: "RollingUpdate",
      maxUnavailable: { kind: "percent", value: 0 },
    });
  });

  it("a container without a worker count is unknown and an error naming the annotation to set", async () => {
    await files({
      "web.yaml": deployment({
        container: `        - name: web
          image: web
          command: ["gunicorn", "-c", "gunicorn.conf.py", "--threads", "4", "app:app"]`,
      }),
    });
    const r = await load("web.yaml");
    expect(r.workloads.map((w) => [w.workload.workers, w.workersFrom])).toEqual([["unknown", "unknown"]]);
    expect(r.errors.map(formatSourceFinding)).toEqual([
      expect.stringMatching(
        /web\.yaml: Deployment default\/web: pooltuner\.io\/workers: worker processes per container unknown: .*set pooltuner\.io\/workers/,
      ),
    ]);
  });
});

describe("old pods that linger during a rollout (preStop, long grace period)", () => {
  const app = (o: { annotation?: string; spec?: string; pod?: string; container?: string; init?: string }) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    pooltuner.io/enabled: "true"
${o.annotation ? `    pooltuner.io/old-pods-linger: "${o.annotation}"\n` : ""}spec:
  replicas: 2
${o.spec ?? ""}
  template:
    spec:
${o.pod ?? ""}
${o.init ?? ""}
      containers:
        - name: web
          image: web
${o.container ?? ""}
          env:
            - { name: GUNICORN_WORKERS, value: "4" }
`;
  const rolloutOf = async (text: string) => {
    await files({ "web.yaml": text });
    const r = await load("web.yaml");
    expect(r.errors).toEqual([]);
    return r.workloads[0]?.workload.rollout;
  };
  const preStop = `          lifecycle:
            preStop: { exec: { command: ["sleep", "10"] } }`;

  it("a preStop hook on the container: old pods linger", async () => {
    expect(await rolloutOf(app({ container: preStop }))).toEqual({ type: "RollingUpdate", oldPodsLinger: true });
  });
  it("a grace period above Kubernetes' 30 s default lingers; 30 s and none do not", async () => {
    const grace = (s: number) => `      terminationGracePeriodSeconds: ${s}`;
    expect(await rolloutOf(app({ pod: grace(31) }))).toEqual({ type: "RollingUpdate", oldPodsLinger: true });
    expect(await rolloutOf(app({ pod: grace(30) }))).toEqual({ type: "RollingUpdate" });
    expect(await rolloutOf(app({}))).toEqual({ type: "RollingUpdate" });
  });
  it("a sidecar's preStop counts (init container with restartPolicy Always); an ordinary init container's does not", async () => {
    const init = (policy: string) => `      initContainers:
        - name: proxy
          image: proxy
${policy}
          lifecycle:
            preStop: { exec: { command: ["sleep", "5"] } }`;
    expect(await rolloutOf(app({ init: init("          restartPolicy: Always") }))).toEqual({
      type: "RollingUpdate",
      oldPodsLinger: true,
    });
    expect(await rolloutOf(app({ init: init("") }))).toEqual({ type: "RollingUpdate" });
  });
  it("podReplacementPolicy TerminationComplete waits for old pods; Recreate never overlaps", async () => {
    expect(await rolloutOf(app({ container: preStop, spec: "  podReplacementPolicy: TerminationComplete" }))).toEqual({
      type: "RollingUpdate",
    });
    expect(await rolloutOf(app({ container: preStop, spec: "  strategy: { type: Recreate }" }))).toEqual({
      type: "Recreate",
    });
  });
  it("the annotation overrides the derivation both ways", async () => {
    expect(await rolloutOf(app({ container: preStop, annotation: "false" }))).toEqual({ type: "RollingUpdate" });
    expect(await rolloutOf(app({ annotation: "true" }))).toEqual({ type: "RollingUpdate", oldPodsLinger: true });
  });
});
