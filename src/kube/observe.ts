// The controller's Observer for the shared pass: the annotated workloads routed to a database, read from the
// informer cache (STYLE 6) into the planner's view, with what is in flight: the workload's own rollout status, and
// patches this replica sent that the cache has not shown yet (`inFlight`, shared with the actuator). What it remembers
// is keyed by the object's uid, never its name: a Deployment deleted and created again under the same name is a new
// workload with no rollout in flight; and it is dropped once the object is gone, so memory stays bounded under churn.

import type { UpdateMode } from "../core/index.js";
import { workloadLabels } from "../runtime/metrics.js";
import type { Condition, ObservedWorkload, Observer } from "../runtime/pass-types.js";
import type { DatabaseAddress } from "../sources/account.js";
import { PREFIX } from "../sources/identity.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import type { ClusterCache } from "./cluster-cache.js";
import type { KubeMetrics } from "./metrics.js";
import {
  drainsDuringRollout,
  type HpaObject,
  hasPooltunerKeys,
  hpaTargetKey,
  keyOf,
  rolloutProgress,
  STATUS_ANNOTATION,
  type WorkloadKind,
} from "./objects.js";
import { appliedAtMs, lastKnownLimits } from "./status.js";
import { asThePersonSetIt } from "./strategy.js";
import { type DatabaseAccess, refusal } from "./tenancy.js";
import { type ClusterWorkload, databaseOf, readWorkload } from "./workloads.js";

export interface WorkloadRef {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

export type KubeWorkload = ClusterWorkload & ObservedWorkload;

export interface KubeObserverOptions {
  readonly profiles?: ProfileRegistry;
  readonly cache: ClusterCache;
  /** The annotated workloads routed to a database key (an index kept from the informer events). */
  readonly membersOf: (database: string) => Iterable<WorkloadRef>;
  readonly databases: readonly string[];
  /** `off` makes every workload recommend-only, whatever its annotation says. */
  readonly updateMode: UpdateMode;
  /** A rollout not complete after this long is reported and no longer waited for. */
  readonly rolloutTimeoutMs: number;
  readonly kubeMetrics: KubeMetrics;
  /** Generations this replica wrote that its cache has not shown yet, per workload uid. */
  readonly inFlight: Map<string, number>;
  /** Other memory per uid (the actuator's), also dropped once the object is gone. */
  readonly alsoByUid?: readonly Map<string, unknown>[];
  /** host:port of each configured database: picks the account when the env has URLs with several users. */
  readonly addressOf: (database: string) => DatabaseAddress | undefined;
  /** Which namespaces and weights each configured database allows (src/kube/tenancy.ts). */
  readonly access: (database: string) => DatabaseAccess;
  readonly now: () => number;
}

export class KubeObserver implements Observer<KubeWorkload> {
  /** When this replica first saw each workload's current rollout in progress (a restart starts the clock again). */
  /** Keyed with the generation too: a new rollout (pooltuner's patch after someone's slow one) starts its own clock. */
  private readonly progressingSince = new Map<string, { generation: number; at: number }>();
  /** The database each remembered uid was last seen on, to forget the uids that are gone. */
  private readonly seenOn = new Map<string, string>();

  constructor(private readonly o: KubeObserverOptions) {}

  async observe(database: string): Promise<readonly KubeWorkload[]> {
    const { cache, databases } = this.o;
    // HPAs by the workload they target, once per pass: a big cluster has thousands, a database a few workloads.
    const hpasOf = new Map<string, HpaObject[]>();
    for (const h of cache.horizontalPodAutoscalers()) {
      const target = hpaTargetKey(h);
      if (target !== undefined) hpasOf.set(target, [...(hpasOf.get(target) ?? []), h]);
    }
    const out: KubeWorkload[] = [];
    for (const ref of this.o.membersOf(database)) {
      const obj = cache.getWorkload(ref.kind, ref.namespace, ref.name);
      if (!obj || !hasPooltunerKeys(obj)) continue;
      const hpas = hpasOf.get(keyOf(obj, ref.kind)) ?? [];
      const w = readWorkload(obj, ref.kind, hpas, databases, this.o.addressOf, this.o.profiles);
      if ((databaseOf(w.options, databases) ?? "") !== database) continue;
      // Not enabled: only worth a look when an annotation of ours is wrong.
      if (!w.enabled && w.errors.length === 0) continue;
      out.push(this.observed(w, database));
    }
    this.forgetGone(database, new Set(out.map((w) => w.instance)));
    this.o.kubeMetrics.managed.set({ database }, out.filter((w) => w.managed).length);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Objects remembered (tests of bounded memory under churn). */
  remembered(): number {
    return this.seenOn.size + this.progressingSince.size;
  }

  private forgetGone(database: string, present: ReadonlySet<string | undefined>): void {
    for (const [uid, db] of this.seenOn) {
      if (db !== database || present.has(uid)) continue;
      this.seenOn.delete(uid);
      this.progressingSince.delete(uid);
      this.o.inFlight.delete(uid);
      for (const m of this.o.alsoByUid ?? []) m.delete(uid);
    }
  }

  private observed(w: ClusterWorkload, database: string): KubeWorkload {
    this.o.kubeMetrics.invalid.set(workloadLabels(w.id), w.errors.length > 0 ? 1 : 0);
    const refused =
      w.enabled && w.databaseKnown
        ? refusal(this.o.access(database), database, w.namespace, w.options.weight)
        : undefined;
    const managed = w.enabled && w.databaseKnown && refused === undefined;
    const rollout: { rollingOut: boolean; conditions: Condition[]; stuck?: string } = managed
      ? this.rollout(w, database)
      : { rollingOut: false, conditions: [] };
    const lastAppliedAt = appliedAtMs(w.status);
    const uid = uidOf(w);
    this.seenOn.set(uid, database);
    const limits = lastKnownLimits(w.status, `${STATUS_ANNOTATION} annotation of ${w.id}`);
    return {
      ...w,
      instance: uid,
      managed,
      ...(refused !== undefined ? { refused: optionalAccount(w.loaded?.workload.account) } : {}),
      ...(managed && w.loaded && w.database !== undefined
        ? { snapshot: { ...asThePersonSetIt(w.loaded.workload, w.object, w.status?.strategy), database: w.database } }
        : {}),
      updateMode: this.o.updateMode === "off" || w.errors.length > 0 ? "off" : w.options.updateMode,
      ...(lastAppliedAt !== undefined ? { lastAppliedAt } : {}),
      rollingOut: rollout.rollingOut,
      ...(rollout.stuck !== undefined ? { stuck: rollout.stuck } : {}),
      ...optionalPaused(this.pausedBy(w)),
      ...(w.options.changeWindows ? { changeWindows: w.options.changeWindows } : {}),
      drainsDuringRollout: drainsDuringRollout(w.object, w.kind),
      // Warnings of a workload that is not enabled, or not allowed on its database, are not worth telling.
      warnings: w.enabled && refused === undefined ? w.warnings : [],
      conditions: refused !== undefined ? [{ reason: "NotAllowed", lines: [refused] }] : rollout.conditions,
      ...(limits ? { lastKnownLimits: limits } : {}),
    };
  }

  /** Where the workload is paused: its own annotation, else its namespace's (only "true" pauses). */
  private pausedBy(w: ClusterWorkload): string | undefined {
    const key = `${PREFIX.kubernetes}paused`;
    if (w.options.paused) return `${key} annotation of ${w.kind} ${w.namespace}/${w.name}`;
    const onNamespace = this.o.cache.namespaceAnnotations(w.namespace)[key];
    return onNamespace?.trim().toLowerCase() === "true" ? `${key} annotation of Namespace ${w.namespace}` : undefined;
  }

  /**
   * The workload's own rollout status, plus writes this replica made that the cache has not caught up with. A rollout
   * past the timeout (or its progress deadline) that pooltuner started — the generation is the one its patch produced
   * — freezes the database (`stuck`) until it completes or a person acts: any new generation (a new template,
   * `kubectl rollout undo` or `restart`, a scale) or deleting the workload. Someone else's stuck rollout is not
   * waited for.
   */
  private rollout(w: ClusterWorkload, database: string) {
    const now = this.o.now();
    const uid = uidOf(w);
    const progress = rolloutProgress(w.object, w.kind);
    let rollingOut = progress.state === "progressing";
    const generation = w.object.metadata?.generation ?? 0;
    const seen = this.progressingSince.get(uid);
    const since = seen?.generation === generation ? seen.at : now;
    if (rollingOut) this.progressingSince.set(uid, { generation, at: since });
    else this.progressingSince.delete(uid);
    const ours = w.status?.applied !== undefined && w.status.applied.generation === generation;
    const conditions: { reason: "RolloutStuck"; lines: string[] }[] = [];
    let stuck: string | undefined;
    const overdue = rollingOut && now - since > this.o.rolloutTimeoutMs;
    if (overdue || progress.state === "stuck") {
      rollingOut = false;
      const detail = progress.state === "complete" ? "complete" : progress.detail;
      const what = overdue
        ? `not complete after ${Math.round((now - since) / 1000)} s (${detail})`
        : `stuck: ${detail}`;
      if (ours) {
        stuck =
          `the rollout pooltuner started (generation ${generation}) is ${what}; nothing else on ${database} changes ` +
          "until it completes or a person acts on it (a new template, kubectl rollout undo or restart, a scale, " +
          "or deleting it)";
      }
      const line = ours ? stuck : `rollout ${what}; not started by pooltuner, not waiting for it`;
      conditions.push({ reason: "RolloutStuck", lines: [line ?? ""] });
    }
    const pendingGen = this.o.inFlight.get(uid);
    if (pendingGen !== undefined) {
      if ((w.object.metadata?.generation ?? 0) < pendingGen) rollingOut = true;
      else this.o.inFlight.delete(uid);
    }
    this.o.kubeMetrics.rollingOut.set(workloadLabels(w.id, database), rollingOut ? 1 : 0);
    return { rollingOut, conditions, ...(stuck !== undefined ? { stuck } : {}) };
  }
}

function optionalPaused(by: string | undefined): { paused?: string } {
  return by !== undefined ? { paused: by } : {};
}

function optionalAccount(account: string | undefined): { account?: string } {
  return account !== undefined ? { account } : {};
}

/** The object's uid (every stored object has one); the key stands in only for objects that never were stored. */
export function uidOf(w: { readonly key: string; readonly object: { metadata?: { uid?: string } } }): string {
  return w.object.metadata?.uid ?? w.key;
}
