// How pooltuner names and recognises what it manages, in one place for every source and daemon: the key prefixes
// (`pooltuner.io/` annotations, `io.pooltuner.` labels, DESIGN §4), the option keys, the planner's workload ids
// (the same string in `plan` on files and in the daemons, so their outputs can be compared), and the opt-in check.

export type OptionsFlavor = "kubernetes" | "docker";

export const PREFIX: Readonly<Record<OptionsFlavor, string>> = {
  kubernetes: "pooltuner.io/",
  docker: "io.pooltuner.",
};

/** The option keys of DESIGN §4, the same under both prefixes. */
export const OPTION_KEYS = [
  "enabled",
  "database",
  "container",
  "pool-size-env",
  "max-overflow-env",
  "workers-env",
  "workers",
  "max-replicas",
  "weight",
  "update-mode",
  "account",
  "paused",
  "old-pods-linger",
  "profile",
  "cap-env",
  "change-window",
  "helm-values",
] as const;
export type OptionKey = (typeof OPTION_KEYS)[number];

/** The status annotation the controller keeps on each workload (src/kube/status.ts). */
export const STATUS_ANNOTATION = `${PREFIX.kubernetes}status`;

/** `namespace/Kind/name`: how the controller names a workload in maps, logs and metrics. */
export function kubeWorkloadKey(kind: string, namespace: string, name: string): string {
  return `${namespace}/${kind}/${name}`;
}

/** `kube:namespace/Kind/name`: the planner's id of a Deployment or StatefulSet, from files or the cluster. */
export function kubeWorkloadId(kind: string, namespace: string, name: string): string {
  return `kube:${kubeWorkloadKey(kind, namespace, name)}`;
}

/** `compose:project/service` for a compose service (from a file or its containers), `docker:name` for a lone container. */
export function composeWorkloadId(project: string | undefined, service: string | undefined, container = ""): string {
  return project && service ? `compose:${project}/${service}` : `docker:${container}`;
}

/** The `pooltuner.io/enabled` label: an opt-in a label selector can filter server-side (big clusters, issue 13). */
export const ENABLED_LABEL = `${PREFIX.kubernetes}enabled`;

/**
 * A Kubernetes object's option keys: its annotations, plus `pooltuner.io/enabled` from its labels when no annotation
 * says otherwise (the annotation wins when both are set). Same object back when the label adds nothing.
 */
export function kubeOptionKeys(
  annotations: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> | undefined {
  const label = labels?.[ENABLED_LABEL];
  if (typeof label !== "string" || annotations?.[ENABLED_LABEL] !== undefined) return annotations;
  return { ...annotations, [ENABLED_LABEL]: label };
}

/** Opted in: the `enabled` key is "true" (any case, surrounding spaces ignored, as the option parser reads it). */
export function isEnabled(keys: Readonly<Record<string, string>> | undefined, flavor: OptionsFlavor): boolean {
  const v = keys?.[`${PREFIX[flavor]}enabled`];
  return typeof v === "string" && v.trim().toLowerCase() === "true";
}

const OPTION_KEY_SET: ReadonlySet<string> = new Set(OPTION_KEYS);

/**
 * Worth a look, even when not enabled (to report mistakes). Annotations: any `pooltuner.io/` key but the status
 * (a typo is still ours). Labels: only the option keys, since images carry `io.pooltuner.*` metadata of their own.
 */
export function hasOptionKeys(keys: Readonly<Record<string, string>> | undefined, flavor: OptionsFlavor): boolean {
  const prefix = PREFIX[flavor];
  return Object.keys(keys ?? {}).some((k) =>
    !k.startsWith(prefix)
      ? false
      : flavor === "kubernetes"
        ? k !== STATUS_ANNOTATION
        : OPTION_KEY_SET.has(k.slice(prefix.length)),
  );
}
