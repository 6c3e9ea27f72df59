// The controller's view of the cluster: informers on Deployments, StatefulSets and HorizontalPodAutoscalers in the
// watched namespaces (all, or a configured set), and on Namespaces themselves (their pause annotation). Reads come from here (STYLE 6); writes go to the API server.
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Namespace,
} from "@kubernetes/client-node";
import { slimHpa, slimNamespace, slimWorkload } from "./cached-fields.js";
import { type InformerEvent, type ListPage, ResilientInformer } from "./informer.js";
import type { HpaObject, WorkloadKind, WorkloadObject } from "./objects.js";

export interface ClusterCacheOptions {
  readonly kubeConfig: KubeConfig;
  /** Namespaces to watch; empty = all. */
  readonly namespaces: readonly string[];
  /** Optional label selector narrowing the watched workloads (annotations cannot be selected server-side). */
  readonly labelSelector?: string;
  readonly onWorkload: (kind: WorkloadKind, event: InformerEvent, obj: WorkloadObject) => void;
  readonly onHpa: (event: InformerEvent, obj: HpaObject) => void;
  /** A Namespace changed (its `pooltuner.io/paused` annotation may pause its workloads). */
  readonly onNamespace?: (event: InformerEvent, obj: V1Namespace) => void;
  readonly onSynced?: (informer: string) => void;
  readonly onRestart?: (informer: string, reason: string, err: unknown, delayMs: number) => void;
  readonly watchdogMs?: number;
}

interface Resource<T extends KubernetesObject> {
  readonly plural: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly group: string;
  readonly listAll: (page: ListPage) => Promise<KubernetesListObject<T>>;
  readonly listIn: (namespace: string, page: ListPage) => Promise<KubernetesListObject<T>>;
  readonly selector: boolean;
  /** What the cache keeps of each object (src/kube/cached-fields.ts). */
  readonly transform: (o: T) => T;
}

export class ClusterCache {
  private readonly deployments: ResilientInformer<WorkloadObject>[] = [];
  private readonly statefulSets: ResilientInformer<WorkloadObject>[] = [];
  private readonly hpas: ResilientInformer<HpaObject>[] = [];
  /** Namespaces are cluster-scoped and few: one informer on all of them, for their annotations (a pause). */
  private readonly namespaces: ResilientInformer<V1Namespace>;

  constructor(options: ClusterCacheOptions) {
    const apps = options.kubeConfig.makeApiClient(AppsV1Api);
    const autoscaling = options.kubeConfig.makeApiClient(AutoscalingV2Api);
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const sel = options.labelSelector;
    const withSel = sel ? { labelSelector: sel } : {};
    const deployment: Resource<WorkloadObject> = {
      plural: "deployments",
      kind: "Deployment",
      apiVersion: "apps/v1",
      group: "/apis/apps/v1",
      listAll: (page) =>
        apps.listDeploymentForAllNamespaces({ ...withSel, ...page }) as Promise<KubernetesListObject<WorkloadObject>>,
      listIn: (namespace, page) =>
        apps.listNamespacedDeployment({ namespace, ...withSel, ...page }) as Promise<
          KubernetesListObject<WorkloadObject>
        >,
      selector: true,
      transform: slimWorkload,
    };
    const statefulSet: Resource<WorkloadObject> = {
      plural: "statefulsets",
      kind: "StatefulSet",
      apiVersion: "apps/v1",
      group: "/apis/apps/v1",
      listAll: (page) =>
        apps.listStatefulSetForAllNamespaces({ ...withSel, ...page }) as Promise<KubernetesListObject<WorkloadObject>>,
      listIn: (namespace, page) =>
        apps.listNamespacedStatefulSet({ namespace, ...withSel, ...page }) as Promise<
          KubernetesListObject<WorkloadObject>
        >,
      selector: true,
      transform: slimWorkload,
    };
    // HPAs are few and carry no annotations of ours: watched unfiltered.
    const hpa: Resource<HpaObject> = {
      plural: "horizontalpodautoscalers",
      kind: "HorizontalPodAutoscaler",
      apiVersion: "autoscaling/v2",
      group: "/apis/autoscaling/v2",
      listAll: (page) =>
        autoscaling.listHorizontalPodAutoscalerForAllNamespaces(page) as Promise<KubernetesListObject<HpaObject>>,
      listIn: (namespace, page) =>
        autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace, ...page }) as Promise<
          KubernetesListObject<HpaObject>
        >,
      selector: false,
      transform: slimHpa,
    };

    const scopes: (string | undefined)[] = options.namespaces.length > 0 ? [...options.namespaces] : [undefined];
    const make = <T extends KubernetesObject>(
      r: Resource<T>,
      ns: string | undefined,
      onEvent: (e: InformerEvent, o: T) => void,
    ) => {
      const name = ns ? `${r.plural}/${ns}` : r.plural;
      return new ResilientInformer<T>({
        name,
        kubeConfig: options.kubeConfig,
        path: ns ? `${r.group}/namespaces/${ns}/${r.plural}` : `${r.group}/${r.plural}`,
        list: ns ? (page) => r.listIn(ns, page) : r.listAll,
        transform: r.transform,
        kind: r.kind,
        apiVersion: r.apiVersion,
        ...(r.selector && sel ? { labelSelector: sel } : {}),
        onEvent,
        onSynced: () => options.onSynced?.(name),
        onRestart: (reason, err, delay) => options.onRestart?.(name, reason, err, delay),
        ...(options.watchdogMs !== undefined ? { watchdogMs: options.watchdogMs } : {}),
      });
    };
    const namespace: Resource<V1Namespace> = {
      plural: "namespaces",
      kind: "Namespace",
      apiVersion: "v1",
      group: "/api/v1",
      listAll: (page) => core.listNamespace(page) as Promise<KubernetesListObject<V1Namespace>>,
      listIn: (_ns, page) => core.listNamespace(page) as Promise<KubernetesListObject<V1Namespace>>,
      selector: false,
      transform: slimNamespace,
    };
    this.namespaces = make(namespace, undefined, (e, o) => options.onNamespace?.(e, o));
    for (const ns of scopes) {
      this.deployments.push(make(deployment, ns, (e, o) => options.onWorkload("Deployment", e, o)));
      this.statefulSets.push(make(statefulSet, ns, (e, o) => options.onWorkload("StatefulSet", e, o)));
      this.hpas.push(make(hpa, ns, options.onHpa));
    }
  }

  private all(): ResilientInformer<KubernetesObject>[] {
    return [
      ...this.deployments,
      ...this.statefulSets,
      ...this.hpas,
      this.namespaces,
    ] as ResilientInformer<KubernetesObject>[];
  }

  start(): void {
    for (const i of this.all()) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((i) => i.stop()));
  }

  /** Every informer has completed its first LIST: before that, "not in the cache" does not mean "does not exist". */
  hasSynced(): boolean {
    return this.all().every((i) => i.hasSynced());
  }

  restarts(): number {
    return this.all().reduce((n, i) => n + i.restarts, 0);
  }

  /** The longest any informer has been silent (for /healthz). */
  maxIdleMs(): number {
    return Math.max(0, ...this.all().map((i) => i.idleMs()));
  }

  workloads(kind: WorkloadKind): WorkloadObject[] {
    return (kind === "Deployment" ? this.deployments : this.statefulSets).flatMap((i) => [...i.list()]);
  }

  getWorkload(kind: WorkloadKind, namespace: string, name: string): WorkloadObject | undefined {
    for (const i of kind === "Deployment" ? this.deployments : this.statefulSets) {
      const o = i.get(name, namespace);
      if (o) return o;
    }
    return undefined;
  }

  /** A namespace's annotations (empty when it is not known). */
  namespaceAnnotations(name: string): Readonly<Record<string, string>> {
    return this.namespaces.get(name)?.metadata?.annotations ?? {};
  }

  horizontalPodAutoscalers(): HpaObject[] {
    return this.hpas.flatMap((i) => [...i.list()]);
  }
}
