// What the informer cache keeps of each object (issue 13: 10,000 Deployments in a 250 MB controller). The cache
// holds every Deployment and StatefulSet of the watched namespaces, most of them not opted in; a Deployment as the
// API server sends it is 2-10 KiB (managedFields, kubectl's last-applied-configuration, probes, volumes), and
// none of that is read for a workload that carries no key of ours. So, before an object is cached:
//   - not opted in (no `pooltuner.io/` key, annotation or label): only what routes it and tells when that changes:
//     name, namespace, uid, resourceVersion, generation, our annotations (a status left from an earlier opt-in);
//   - opted in: the whole object but managedFields, kubectl's last-applied-configuration and the status conditions
//     other than Progressing (rolloutProgress reads that one);
//   - HPAs: the target and the replica bounds (their status changes every sync period and is never read);
//   - Namespaces: our annotations (a pause).
// Each function changes the object in place and returns it: the client's informer has already stored the same
// object when a watch event reaches us, so an in-place change is what the cache keeps.
import type { V1Namespace, V1ObjectMeta } from "@kubernetes/client-node";
import { PREFIX } from "../sources/identity.js";
import { type HpaObject, hasPooltunerKeys, type WorkloadObject } from "./objects.js";

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** Our own annotations or labels only; undefined when there are none. */
function ours(map: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!map) return undefined;
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(map)) {
    if (!k.startsWith(PREFIX.kubernetes)) continue;
    out ??= {};
    out[k] = v;
  }
  return out;
}

/** The identity of an object and our keys: what every cached object keeps. */
function identity(m: V1ObjectMeta | undefined, keep: { generation?: boolean; labels?: boolean }): V1ObjectMeta {
  const out: V1ObjectMeta = {};
  if (!m) return out;
  if (m.name !== undefined) out.name = m.name;
  if (m.namespace !== undefined) out.namespace = m.namespace;
  if (m.uid !== undefined) out.uid = m.uid;
  if (m.resourceVersion !== undefined) out.resourceVersion = m.resourceVersion;
  if (keep.generation && m.generation !== undefined) out.generation = m.generation;
  const annotations = ours(m.annotations);
  if (annotations) out.annotations = annotations;
  const labels = keep.labels ? ours(m.labels) : undefined;
  if (labels) out.labels = labels;
  return out;
}

export function slimWorkload(o: WorkloadObject): WorkloadObject {
  if (!hasPooltunerKeys(o)) {
    o.metadata = identity(o.metadata, { generation: true, labels: true });
    delete o.spec;
    delete o.status;
    return o;
  }
  const m = o.metadata;
  if (m) {
    delete m.managedFields;
    if (m.annotations && LAST_APPLIED in m.annotations) delete m.annotations[LAST_APPLIED];
  }
  const status = o.status as { conditions?: { type?: string }[] } | undefined;
  if (status?.conditions?.some((c) => c.type !== "Progressing")) {
    status.conditions = status.conditions.filter((c) => c.type === "Progressing");
  }
  return o;
}

export function slimHpa(h: HpaObject): HpaObject {
  h.metadata = identity(h.metadata, {});
  if (h.spec) {
    const { scaleTargetRef, minReplicas, maxReplicas } = h.spec;
    h.spec = { scaleTargetRef, maxReplicas, ...(minReplicas !== undefined ? { minReplicas } : {}) };
  }
  delete h.status;
  return h;
}

export function slimNamespace(n: V1Namespace): V1Namespace {
  n.metadata = identity(n.metadata, {});
  delete n.spec;
  delete n.status;
  return n;
}
