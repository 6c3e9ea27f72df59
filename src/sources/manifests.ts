// Kubernetes manifests -> workloads: Deployments (RollingUpdate surge, Recreate), StatefulSets (ordered, no surge),
// HPAs (maxReplicas is planned for), annotations (DESIGN §4), the chosen container's env, command and limits.
// ConfigMaps in the same files feed `configMapKeyRef` / `envFrom`; Secrets and field refs cannot be read.
import type { IntOrPercent, Rollout } from "../core/index.js";
import { parseWorkloadOptions, type WorkloadOptions } from "./annotations.js";
import { MAX_REPLICAS } from "./bounds.js";
import { inFile, type LoadedWorkload, type PatchTarget, type SourceFinding, type SourceResult } from "./findings.js";
import { kubeOptionKeys, kubeWorkloadId, PREFIX } from "./identity.js";
import { BUILTIN_REGISTRY, type ProfileRegistry, writtenEnvNames } from "./profiles.js";
import { describe, parseCpuMillis, parseIntOrPercent, parseMemoryBytes } from "./quantity.js";
import type { EnvValue } from "./workers.js";
import { buildWorkload } from "./workload.js";

export interface ManifestFile {
  readonly file: string;
  readonly docs: readonly unknown[];
}

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

interface KubeObject {
  readonly file: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly body: Json;
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet"]);
const DEFAULT_NAMESPACE = "default";

/** Whether a parsed YAML document is a Kubernetes object (or a `List` of them). */
export function isKubeDocument(data: unknown): boolean {
  return isMap(data) && typeof data.apiVersion === "string" && typeof data.kind === "string";
}

export function readManifests(files: readonly ManifestFile[], profiles?: ProfileRegistry): SourceResult {
  const errors: SourceFinding[] = [];
  const warnings: SourceFinding[] = [];
  const objects = collect(files, errors);

  const configMaps = new Map<string, Json>();
  for (const o of objects) {
    if (o.kind === "ConfigMap") configMaps.set(`${o.namespace}/${o.name}`, isMap(o.body.data) ? o.body.data : {});
  }
  const hpas = objects.filter((o) => o.kind === "HorizontalPodAutoscaler");
  // An HPA's own mistakes are reported with the workload it targets; one that targets nothing readable, here.
  for (const h of hpas) if (!targetOf(h)) readHpa(h, errors);

  const workloads: LoadedWorkload[] = [];
  const seen = new Map<string, string>();
  for (const o of objects) {
    if (!WORKLOAD_KINDS.has(o.kind)) continue;
    const r = readKubeObject(o, hpas, configMaps, profiles);
    if (r.options.enabled) {
      const id = kubeWorkloadId(o.kind, o.namespace, o.name);
      const first = seen.get(id);
      if (first !== undefined) {
        const object = `${o.kind} ${o.namespace}/${o.name}`;
        errors.push({ file: o.file, object, field: "metadata.name", message: `defined twice (also in ${first})` });
        continue;
      }
      seen.set(id, o.file);
    }
    errors.push(...r.errors);
    warnings.push(...r.warnings);
    if (r.loaded) workloads.push(r.loaded);
  }
  return { workloads, errors, warnings };
}

/** One Deployment or StatefulSet read: its options (parsed once), the planner's view when enabled, and findings. */
export interface KubeWorkloadRead {
  readonly options: WorkloadOptions;
  /** Absent when not enabled, or when it cannot be planned (see errors). */
  readonly loaded?: LoadedWorkload;
  readonly errors: readonly SourceFinding[];
  readonly warnings: readonly SourceFinding[];
}

/**
 * The one intake of a Kubernetes workload, for manifest files and the live cluster alike: `object` is a Deployment
 * or StatefulSet as the API (or a file) has it, `hpas` every HPA that may target it (others are ignored). `file`
 * names where it came from in findings; `configMaps` (namespace/name -> data) feed configMapKeyRef and envFrom.
 */
export function readKubeWorkload(
  object: unknown,
  hpas: readonly unknown[],
  context: {
    readonly file?: string;
    readonly configMaps?: ReadonlyMap<string, Json>;
    /** Profiles the `profile` annotation may name; default the built-ins. */
    readonly profiles?: ProfileRegistry;
  } = {},
): KubeWorkloadRead {
  const file = context.file ?? "";
  const o = asKubeObject(object, file);
  if (!o) throw new Error("readKubeWorkload: not a named Kubernetes object");
  const hpaObjects = hpas.flatMap((h) => asKubeObject(h, file) ?? []);
  return readKubeObject(o, hpaObjects, context.configMaps ?? new Map(), context.profiles);
}

function asKubeObject(doc: unknown, file: string): KubeObject | undefined {
  if (!isKubeDocument(doc)) return undefined;
  const d = doc as Json;
  const metadata = isMap(d.metadata) ? d.metadata : {};
  if (typeof metadata.name !== "string" || metadata.name === "") return undefined;
  const namespace =
    typeof metadata.namespace === "string" && metadata.namespace !== "" ? metadata.namespace : DEFAULT_NAMESPACE;
  return { file, kind: d.kind as string, apiVersion: d.apiVersion as string, namespace, name: metadata.name, body: d };
}

function readKubeObject(
  o: KubeObject,
  hpas: readonly KubeObject[],
  configMaps: ReadonlyMap<string, Json>,
  profiles: ProfileRegistry = BUILTIN_REGISTRY,
): KubeWorkloadRead {
  const errors: SourceFinding[] = [];
  const warnings: SourceFinding[] = [];
  const object = `${o.kind} ${o.namespace}/${o.name}`;
  const fail = (field: string, message: string, value?: string) =>
    errors.push({ file: o.file, object, field, message, ...(value !== undefined ? { value } : {}) });
  const metadata = isMap(o.body.metadata) ? o.body.metadata : {};
  const parsed = parseWorkloadOptions(
    kubeOptionKeys(
      isMap(metadata.annotations) ? (metadata.annotations as Record<string, string>) : undefined,
      isMap(metadata.labels) ? (metadata.labels as Record<string, string>) : undefined,
    ),
    "kubernetes",
    object,
  );
  errors.push(...parsed.errors.map((f) => inFile(o.file, f)));
  warnings.push(...parsed.warnings.map((f) => inFile(o.file, f)));
  const result = (loaded?: LoadedWorkload): KubeWorkloadRead => ({
    options: parsed.options,
    ...(loaded ? { loaded } : {}),
    errors,
    warnings,
  });
  if (!parsed.options.enabled) return result();

  const spec = isMap(o.body.spec) ? o.body.spec : {};
  const replicas = wholeNumber(spec.replicas, 1, "spec.replicas", fail);
  const rollout =
    o.kind === "StatefulSet"
      ? ({ type: "Ordered" } as const)
      : withLingering(deploymentRollout(spec, fail), spec, parsed.options.oldPodsLinger);
  const hpa = hpaOf(o, hpas, errors, warnings);
  if (hpa && parsed.options.maxReplicas !== undefined) {
    warnings.push({
      file: o.file,
      object,
      field: `${PREFIX.kubernetes}max-replicas`,
      message: `ignored: an HPA targets it (${hpa.from}); its maxReplicas (${hpa.max}) is planned for`,
    });
  }
  const container = chosenContainer(spec, parsed.options.container, fail);
  if (!container) return result();
  const cpath = `spec.template.spec.containers[${String(container.name)}]`;
  const env = containerEnv(container, o.namespace, configMaps, cpath, fail);
  const unreadableEnvFrom = envFromUnreadable(container, o.namespace, configMaps);
  const profile = profiles.get(parsed.options.profile);
  const written = profile
    ? writtenEnvNames(profile, parsed.options)
    : [parsed.options.poolSizeEnv, parsed.options.maxOverflowEnv];
  for (const name of written) {
    if (!env.has(name) && unreadableEnvFrom.length > 0) {
      env.set(name, { kind: "unreadable", from: `envFrom ${unreadableEnvFrom.join(", ")} (not in these files)` });
    }
  }
  const rawCommand = [...strings(container.command), ...strings(container.args)];
  const command = rawCommand.map((a) => expandKubeVars(a, env));
  const resources = containerLimits(container, cpath, fail);

  const built = buildWorkload({
    id: kubeWorkloadId(o.kind, o.namespace, o.name),
    kind: o.kind as "Deployment" | "StatefulSet",
    object,
    prefix: PREFIX.kubernetes,
    options: parsed.options,
    instances: [{ env, command, rawCommand, resources }],
    replicas,
    ...(hpa ? { hpa: { minReplicas: hpa.min, maxReplicas: hpa.max } } : {}),
    rollout,
    profiles,
  });
  errors.push(...built.errors.map((f) => inFile(o.file, f)));
  warnings.push(...built.warnings.map((f) => inFile(o.file, f)));
  const patchTarget: PatchTarget = {
    manifest: { apiVersion: o.apiVersion, kind: o.kind, namespace: o.namespace, name: o.name },
    container: String(container.name),
    envOrigin: envOrigins(container, o.namespace, configMaps, [
      parsed.options.poolSizeEnv,
      parsed.options.maxOverflowEnv,
    ]),
  };
  return result({ ...built, file: o.file, object, flavor: "kubernetes", options: parsed.options, patchTarget });
}

/** The HPAs that target `o`: the largest maxReplicas is planned for; several are worth a warning. */
function hpaOf(o: KubeObject, hpas: readonly KubeObject[], errors: SourceFinding[], warnings: SourceFinding[]) {
  const mine = hpas.filter((h) => {
    const t = targetOf(h);
    return h.namespace === o.namespace && t?.kind === o.kind && t.name === o.name;
  });
  const list = mine.flatMap((h) => {
    const r = readHpa(h, errors);
    return r ? [{ min: r.min, max: r.max, from: `${h.file}: ${h.name}` }] : [];
  });
  if (list.length > 1) {
    warnings.push({
      file: o.file,
      object: `${o.kind} ${o.namespace}/${o.name}`,
      field: "HorizontalPodAutoscaler",
      message: `${list.length} HPAs target it (${list.map((h) => h.from).join(", ")}); planning for the largest maxReplicas`,
    });
  }
  const best = list.reduce<{ min: number; max: number } | undefined>(
    (a, h) => (a === undefined || h.max > a.max ? { min: h.min, max: h.max } : a),
    undefined,
  );
  return best && { ...best, from: list.map((h) => h.from).join(", ") };
}

function targetOf(h: KubeObject): { kind: string; name: string } | undefined {
  const spec = isMap(h.body.spec) ? h.body.spec : {};
  const ref = isMap(spec.scaleTargetRef) ? spec.scaleTargetRef : undefined;
  return ref && typeof ref.kind === "string" && typeof ref.name === "string"
    ? { kind: ref.kind, name: ref.name }
    : undefined;
}

/** The container whose env is read and written: the named one, else the first. */
function chosenContainer(spec: Json, wanted: string | undefined, fail: (f: string, m: string, v?: string) => void) {
  const podSpec = isMap(spec.template) && isMap(spec.template.spec) ? spec.template.spec : undefined;
  const containers = podSpec && Array.isArray(podSpec.containers) ? podSpec.containers.filter(isMap) : [];
  if (containers.length === 0) {
    fail("spec.template.spec.containers", "no containers");
    return undefined;
  }
  const container = wanted === undefined ? containers[0] : containers.find((c) => c.name === wanted);
  if (!container) {
    fail(
      `${PREFIX.kubernetes}container`,
      `no container named "${wanted}" (containers: ${containers.map((c) => String(c.name)).join(", ")})`,
      wanted,
    );
  }
  return container;
}

/** Flatten documents and `List`s into objects with a name; report the ones that cannot be identified. */
function collect(files: readonly ManifestFile[], errors: SourceFinding[]): KubeObject[] {
  const out: KubeObject[] = [];
  const add = (file: string, doc: unknown, where: string) => {
    if (doc === null || doc === undefined) return;
    if (!isKubeDocument(doc)) {
      errors.push({ file, object: where, message: "not a Kubernetes object (apiVersion and kind are required)" });
      return;
    }
    const d = doc as Json;
    if (d.kind === "List" || (typeof d.kind === "string" && d.kind.endsWith("List") && Array.isArray(d.items))) {
      (Array.isArray(d.items) ? d.items : []).forEach((item, i) => {
        add(file, item, `${where} items[${i}]`);
      });
      return;
    }
    const metadata = isMap(d.metadata) ? d.metadata : undefined;
    if (!metadata || typeof metadata.name !== "string" || metadata.name === "") {
      errors.push({ file, object: `${String(d.kind)} in ${where}`, field: "metadata.name", message: "is required" });
      return;
    }
    const ns =
      typeof metadata.namespace === "string" && metadata.namespace !== "" ? metadata.namespace : DEFAULT_NAMESPACE;
    out.push({
      file,
      kind: d.kind as string,
      apiVersion: d.apiVersion as string,
      namespace: ns,
      name: metadata.name,
      body: d,
    });
  };
  for (const f of files) {
    f.docs.forEach((doc, i) => {
      add(f.file, doc, `document ${i + 1}`);
    });
  }
  return out;
}

function readHpa(
  o: KubeObject,
  errors: SourceFinding[],
): { kind: string; name: string; min: number; max: number } | undefined {
  const object = `HorizontalPodAutoscaler ${o.namespace}/${o.name}`;
  const fail = (field: string, message: string) => errors.push({ file: o.file, object, field, message });
  const spec = isMap(o.body.spec) ? o.body.spec : {};
  const ref = isMap(spec.scaleTargetRef) ? spec.scaleTargetRef : undefined;
  if (!ref || typeof ref.kind !== "string" || typeof ref.name !== "string") {
    fail("spec.scaleTargetRef", "must name the target's kind and name");
    return undefined;
  }
  if (!WORKLOAD_KINDS.has(ref.kind)) return undefined;
  const max = spec.maxReplicas;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > MAX_REPLICAS) {
    fail("spec.maxReplicas", `must be a whole number from 1 to ${MAX_REPLICAS}, got ${describe(max)}`);
    return undefined;
  }
  const min = spec.minReplicas ?? 1;
  if (typeof min !== "number" || !Number.isInteger(min) || min < 0 || min > max) {
    fail("spec.minReplicas", `must be a whole number from 0 to maxReplicas (${max}), got ${describe(min)}`);
    return undefined;
  }
  return { kind: ref.kind, name: ref.name, min, max };
}

/**
 * A Deployment's strategy. Absent maxSurge/maxUnavailable stay absent: the core applies the policy's default surge
 * (one source for it). Both explicitly 0 is refused, as Kubernetes refuses it: no pod could ever be replaced.
 */
function deploymentRollout(spec: Json, fail: (field: string, message: string, value?: string) => void): Rollout {
  const strategy = isMap(spec.strategy) ? spec.strategy : {};
  const type = strategy.type ?? "RollingUpdate";
  if (type === "Recreate") return { type: "Recreate" };
  if (type !== "RollingUpdate") {
    fail("spec.strategy.type", 'must be "RollingUpdate" or "Recreate"', String(type));
    return { type: "Recreate" };
  }
  const ru = isMap(strategy.rollingUpdate) ? strategy.rollingUpdate : {};
  const field = (name: "maxSurge" | "maxUnavailable"): IntOrPercent | undefined => {
    const raw = ru[name];
    if (raw === undefined || raw === null) return undefined;
    const p = parseIntOrPercent(raw);
    if (p.ok) return p.value;
    fail(`spec.strategy.rollingUpdate.${name}`, p.message);
    return undefined;
  };
  const maxSurge = field("maxSurge");
  const maxUnavailable = field("maxUnavailable");
  if (maxSurge?.value === 0 && maxUnavailable?.value === 0) {
    fail(
      "spec.strategy.rollingUpdate",
      `maxSurge (${shown(ru.maxSurge)}) and maxUnavailable (${shown(ru.maxUnavailable)}) cannot both be 0: ` +
        "Kubernetes rejects it, as no pod could be replaced; set one of them above 0",
    );
    // Planned (for the controller's other workloads) as the one rollout Kubernetes would run: no surge.
    return { type: "RollingUpdate", maxSurge };
  }
  return {
    type: "RollingUpdate",
    ...(maxSurge !== undefined ? { maxSurge } : {}),
    ...(maxUnavailable !== undefined ? { maxUnavailable } : {}),
  };
}

/** The grace period Kubernetes gives a pod when the spec does not say (terminationGracePeriodSeconds). */
const DEFAULT_GRACE_SECONDS = 30;

/**
 * Whether a RollingUpdate's old pods keep holding their pools after they are told to stop. They do when a container
 * has a preStop hook (the pod keeps serving while it runs: the common sleep for endpoint propagation) or the grace
 * period was raised above Kubernetes' 30 s (a slow graceful shutdown was asked for). A Deployment with
 * `podReplacementPolicy: TerminationComplete` (KEP-3973) starts no replacement before the old pod is gone. The
 * `old-pods-linger` annotation overrides the derivation either way.
 */
function withLingering(rollout: Rollout, spec: Json, override: boolean | undefined): Rollout {
  if (rollout.type !== "RollingUpdate") return rollout;
  const lingers = override ?? (spec.podReplacementPolicy !== "TerminationComplete" && podLingers(spec));
  return lingers ? { ...rollout, oldPodsLinger: true } : rollout;
}

function podLingers(spec: Json): boolean {
  const template = isMap(spec.template) ? spec.template : {};
  const pod = isMap(template.spec) ? template.spec : {};
  const grace = pod.terminationGracePeriodSeconds;
  if (typeof grace === "number" && grace > DEFAULT_GRACE_SECONDS) return true;
  // Init containers with restartPolicy Always are sidecars: they run, and are stopped, with the pod.
  const containers = [
    ...(Array.isArray(pod.containers) ? pod.containers : []),
    ...(Array.isArray(pod.initContainers)
      ? pod.initContainers.filter((c) => isMap(c) && c.restartPolicy === "Always")
      : []),
  ];
  return containers.some(
    (c) => isMap(c) && isMap(c.lifecycle) && c.lifecycle.preStop !== undefined && c.lifecycle.preStop !== null,
  );
}

function shown(raw: unknown): string {
  return typeof raw === "string" ? `"${raw}"` : String(raw);
}

/** The container's env as the kubelet builds it: envFrom first, then env (which wins). */
function containerEnv(
  container: Json,
  namespace: string,
  configMaps: ReadonlyMap<string, Json>,
  cpath: string,
  fail: (field: string, message: string) => void,
): Map<string, EnvValue> {
  const env = new Map<string, EnvValue>();
  for (const src of Array.isArray(container.envFrom) ? container.envFrom.filter(isMap) : []) {
    const cm = isMap(src.configMapRef) ? configMaps.get(`${namespace}/${String(src.configMapRef.name)}`) : undefined;
    if (!cm) continue;
    const prefix = typeof src.prefix === "string" ? src.prefix : "";
    for (const [k, v] of Object.entries(cm)) env.set(prefix + k, { kind: "value", value: String(v) });
  }
  const list = container.env;
  if (list !== undefined && !Array.isArray(list)) {
    fail(`${cpath}.env`, `must be a list, got ${describe(list)}`);
    return env;
  }
  (list ?? []).forEach((e: unknown, i: number) => {
    if (!isMap(e) || typeof e.name !== "string") {
      fail(`${cpath}.env[${i}]`, "must have a name");
      return;
    }
    if (e.valueFrom === undefined) {
      const v = e.value;
      env.set(e.name, { kind: "value", value: v === undefined || v === null ? "" : String(v) });
      return;
    }
    const from = isMap(e.valueFrom) ? e.valueFrom : {};
    const ref = isMap(from.configMapKeyRef) ? from.configMapKeyRef : undefined;
    if (ref) {
      const cm = configMaps.get(`${namespace}/${String(ref.name)}`);
      const v = cm?.[String(ref.key)];
      if (v !== undefined) {
        env.set(e.name, { kind: "value", value: String(v) });
        return;
      }
      env.set(e.name, {
        kind: "unreadable",
        from: `ConfigMap ${String(ref.name)} key ${String(ref.key)} (not in these files)`,
      });
      return;
    }
    const what = isMap(from.secretKeyRef)
      ? `Secret ${String(from.secretKeyRef.name)}`
      : isMap(from.fieldRef)
        ? "a fieldRef"
        : isMap(from.resourceFieldRef)
          ? "a resourceFieldRef"
          : "valueFrom";
    env.set(e.name, { kind: "unreadable", from: what });
  });
  return env;
}

/**
 * Where each of `names` is set in the container: `env` for a literal value; the ConfigMap (key), Secret or field
 * it comes from otherwise; `envFrom` sources that cannot be seen are named with "may set it" (env wins over them).
 */
function envOrigins(
  container: Json,
  namespace: string,
  configMaps: ReadonlyMap<string, Json>,
  names: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  const list = Array.isArray(container.env) ? container.env.filter(isMap) : [];
  for (const name of names) {
    const e = list.find((x) => x.name === name);
    if (e) {
      const from = isMap(e.valueFrom) ? e.valueFrom : undefined;
      if (!from) out[name] = "env";
      else if (isMap(from.configMapKeyRef))
        out[name] = `ConfigMap ${String(from.configMapKeyRef.name)} key ${String(from.configMapKeyRef.key)}`;
      else if (isMap(from.secretKeyRef))
        out[name] = `Secret ${String(from.secretKeyRef.name)} key ${String(from.secretKeyRef.key)}`;
      else out[name] = "a valueFrom that is not a ConfigMap";
      continue;
    }
    // envFrom: the last source that has the key wins, as in the kubelet.
    let found: string | undefined;
    for (const src of Array.isArray(container.envFrom) ? container.envFrom.filter(isMap) : []) {
      const prefix = typeof src.prefix === "string" ? src.prefix : "";
      if (!name.startsWith(prefix)) continue;
      const cmName = isMap(src.configMapRef) ? String(src.configMapRef.name) : undefined;
      const cm = cmName !== undefined ? configMaps.get(`${namespace}/${cmName}`) : undefined;
      if (cm && name.slice(prefix.length) in cm) found = `envFrom ConfigMap ${cmName} key ${name.slice(prefix.length)}`;
    }
    if (found) out[name] = found;
  }
  return out;
}

/** envFrom sources whose keys cannot be seen in these files: a pool variable might hide there. */
function envFromUnreadable(container: Json, namespace: string, configMaps: ReadonlyMap<string, Json>): string[] {
  const out: string[] = [];
  for (const src of Array.isArray(container.envFrom) ? container.envFrom.filter(isMap) : []) {
    if (isMap(src.secretRef)) out.push(`Secret ${String(src.secretRef.name)}`);
    else if (isMap(src.configMapRef) && !configMaps.has(`${namespace}/${String(src.configMapRef.name)}`)) {
      out.push(`ConfigMap ${String(src.configMapRef.name)}`);
    }
  }
  return out;
}

/** `$(VAR)` in command/args, as the kubelet expands it; `$$(VAR)` stays literal; unknown or unreadable stay as is. */
function expandKubeVars(arg: string, env: ReadonlyMap<string, EnvValue>): string {
  return arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return "$";
    const v = env.get(name);
    return v?.kind === "value" ? v.value : whole;
  });
}

function containerLimits(
  container: Json,
  cpath: string,
  fail: (field: string, message: string) => void,
): { cpuMillis?: number; memoryBytes?: number } {
  const res = isMap(container.resources) && isMap(container.resources.limits) ? container.resources.limits : {};
  const out: { cpuMillis?: number; memoryBytes?: number } = {};
  if (res.cpu !== undefined) {
    const p = parseCpuMillis(res.cpu);
    if (p.ok) out.cpuMillis = p.value;
    else fail(`${cpath}.resources.limits.cpu`, p.message);
  }
  if (res.memory !== undefined) {
    const p = parseMemoryBytes(res.memory);
    if (p.ok) out.memoryBytes = p.value;
    else fail(`${cpath}.resources.limits.memory`, p.message);
  }
  return out;
}

function wholeNumber(
  raw: unknown,
  dflt: number,
  field: string,
  fail: (field: string, message: string) => void,
): number {
  if (raw === undefined || raw === null) return dflt;
  if (typeof raw === "number" && Number.isInteger(raw) && raw >= 0 && raw <= MAX_REPLICAS) return raw;
  fail(field, `must be a whole number from 0 to ${MAX_REPLICAS}, got ${describe(raw)}`);
  return dflt;
}

function strings(raw: unknown): string[] {
  return Array.isArray(raw) ? raw.map((a) => String(a)) : [];
}
