// One write per workload per cycle (kopf): the env values that change and the status annotation go out together as
// a single strategic-merge patch, guarded by the resourceVersion the plan was computed from, so a workload that
// changed meanwhile is re-read and re-planned instead of overwritten.
import { type AppsV1Api, PatchStrategy, setHeaderOptions, type V1EnvVar } from "@kubernetes/client-node";
import type { EnvSetting } from "../core/index.js";
import { STATUS_ANNOTATION, type WorkloadKind, type WorkloadObject } from "./objects.js";
import type { WorkloadStatus } from "./status.js";

export interface WorkloadPatch {
  /** The strategic-merge patch body; undefined when nothing differs. */
  readonly body: Record<string, unknown> | undefined;
  /** Env vars the patch sets (the template changes and the workload rolls); empty for status-only writes. */
  readonly envChanges: readonly { readonly name: string; readonly from: string | undefined; readonly to: string }[];
}

/**
 * The patch that makes `container` carry the env values `env` (when given; the profile's values of an action) and
 * the workload carry `status` (when given). Values that already match are left out; an env var that came from
 * `valueFrom` is replaced by the literal value.
 */
export function buildPatch(
  o: WorkloadObject,
  container: string,
  env: readonly EnvSetting[] | undefined,
  status: WorkloadStatus | undefined,
  /** A Deployment's `spec.strategy` to write in the same patch (src/kube/strategy.ts). */
  strategy?: Record<string, unknown>,
): WorkloadPatch {
  const envChanges: { name: string; from: string | undefined; to: string }[] = [];
  const envEntries: Record<string, unknown>[] = [];
  if (env) {
    const c = o.spec?.template?.spec?.containers?.find((x) => x.name === container);
    const current = new Map<string, V1EnvVar>((c?.env ?? []).map((e) => [e.name, e]));
    for (const { name, value: to } of env) {
      const e = current.get(name);
      if (e && e.valueFrom === undefined && e.value === to) continue;
      envChanges.push({ name, from: e?.valueFrom ? "(valueFrom)" : e?.value, to });
      envEntries.push(e?.valueFrom ? { name, value: to, valueFrom: null } : { name, value: to });
    }
  }
  if (envEntries.length === 0 && status === undefined && strategy === undefined) return { body: undefined, envChanges };

  const metadata: Record<string, unknown> = { resourceVersion: o.metadata?.resourceVersion };
  if (status) metadata.annotations = { [STATUS_ANNOTATION]: JSON.stringify(status) };
  const body: Record<string, unknown> = { metadata };
  const spec: Record<string, unknown> = {};
  if (envEntries.length > 0) spec.template = { spec: { containers: [{ name: container, env: envEntries }] } };
  if (strategy) spec.strategy = strategy;
  if (Object.keys(spec).length > 0) body.spec = spec;
  return { body, envChanges };
}

/** Sends a strategic-merge patch to a Deployment or StatefulSet; returns the object as stored. */
export async function sendPatch(
  apps: AppsV1Api,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  body: Record<string, unknown>,
  fieldManager: string = FIELD_MANAGER,
): Promise<WorkloadObject> {
  const options = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
  const request = { name, namespace, body, fieldManager };
  return (
    kind === "Deployment"
      ? await apps.patchNamespacedDeployment(request, options)
      : await apps.patchNamespacedStatefulSet(request, options)
  ) as WorkloadObject;
}

/** Shows up in managedFields, so `kubectl get -o yaml --show-managed-fields` tells who set the pool env. */
export const FIELD_MANAGER = "pooltuner";
