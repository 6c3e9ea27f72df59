// Leader election with a coordination.k8s.io/v1 Lease, the algorithm of client-go's leaderelection: the holder
// renews the lease every retry period; another replica takes it over only after it has seen the same record
// unchanged for a whole lease duration (measured on its own clock, so clocks need not agree); writes carry the
// resourceVersion, so two candidates cannot both win. A leader that cannot renew within the renew deadline steps
// down before its lease can expire elsewhere, so two replicas never write at once: the deadline is a clock check
// (`writableForMs`, asked before every write the controller makes), not the outcome of a renew call, and every
// lease call is cut off at the deadline, so a renewal that hangs cannot keep a leader that lost its lease writing.
import {
  AppsV1Api,
  CoordinationV1Api,
  type KubeConfig,
  type V1Lease,
  V1MicroTime,
  type V1OwnerReference,
} from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.js";
import { sleep } from "../runtime/sleep.js";
import { DEFAULT_REQUEST_TIMEOUT_MS, limitRequests } from "./client.js";
import { errorSummary, httpStatusOf } from "./events.js";

export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica: the pod name plus a random suffix. */
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  /** Each lease call times out after this long (and, while leading, at the renew deadline). */
  readonly requestTimeoutMs?: number;
  readonly log: Logger;
  /** Asked at shutdown; false leaves the lease to expire (as after a crash). Default: release. */
  readonly shouldRelease?: () => boolean;
  /**
   * A Deployment in `namespace` (the controller's own) named as the Lease's owner: the garbage collector deletes the
   * Lease when the Deployment goes (helm uninstall), which the last leader cannot do once its Role is gone.
   */
  readonly ownerDeployment?: string;
}

export interface LeaderCallbacks {
  readonly onStartedLeading: () => void;
  /** Leadership lost (renewal failed) or given up at shutdown. */
  readonly onStoppedLeading: (reason: string) => void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly apps: AppsV1Api;
  /** The owner Deployment's reference once read; undefined until then (and without ownerDeployment). */
  private owner: V1OwnerReference | undefined;
  private ownerWarned = false;
  /** A read of the owner in flight, or after a failure the time before which none is tried again. */
  private ownerReading = false;
  private ownerRetryAt = 0;
  private observed: { key: string; at: number } | undefined;
  private leading = false;
  /** When the last successful acquire or renew was sent: the lease counts from no earlier than this. */
  private renewedAt = 0;

  constructor(private readonly options: LeaderElectionOptions) {
    // Acquiring takes no longer than a renewal may: a lease won late would already be past its deadline.
    const limit = Math.min(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, options.renewDeadlineMs);
    const kubeConfig = limitRequests(options.kubeConfig, {
      timeoutMs: () => (this.leading ? Math.min(limit, this.writableForMs()) : limit),
    });
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    if (!(options.renewDeadlineMs < options.leaseDurationMs && options.retryPeriodMs < options.renewDeadlineMs)) {
      throw new Error("leader election: need retryPeriod < renewDeadline < leaseDuration");
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** How long this replica may still write: until the renew deadline counted from the last renewal sent. */
  writableForMs(): number {
    if (!this.leading) return 0;
    return this.renewedAt + this.options.renewDeadlineMs - Date.now();
  }

  /**
   * Campaigns until `signal` aborts. Returns when the signal aborts (releasing the lease if held, so a standby
   * takes over at once) or when leadership is lost (the caller should then stop writing and exit).
   */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<"aborted" | "lost"> {
    const { log, retryPeriodMs } = this.options;
    this.readOwner();
    // Acquire.
    while (!signal.aborted) {
      const sent = Date.now();
      if (await this.tryAcquireOrRenew()) {
        this.renewedAt = sent;
        break;
      }
      await sleep(retryPeriodMs, signal);
    }
    if (signal.aborted) return "aborted";
    this.leading = true;
    log.info({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity }, "leading");
    callbacks.onStartedLeading();
    // Renew. Each call is cut off at the deadline, and the wait before a retry never passes it.
    while (!signal.aborted) {
      await sleep(Math.max(0, Math.min(retryPeriodMs, this.writableForMs())), signal);
      if (signal.aborted) break;
      const sent = Date.now();
      if (this.writableForMs() > 0 && (await this.tryAcquireOrRenew())) {
        this.renewedAt = sent;
        continue;
      }
      if (this.writableForMs() <= 0) {
        this.leading = false;
        log.error({ identity: this.options.identity }, "lost the lease: could not renew within the renew deadline");
        callbacks.onStoppedLeading("lease lost");
        return "lost";
      }
    }
    this.leading = false;
    if (this.options.shouldRelease?.() ?? true) await this.release();
    callbacks.onStoppedLeading("shutdown");
    return "aborted";
  }

  /**
   * Reads the owner Deployment once, in the background: never on the path of an acquire or a renewal (a slow read
   * must not cost the lease). Until it is known the Lease keeps the ownerReferences it has; the next write adds it.
   * A failed read is tried again after a minute.
   */
  private readOwner(): void {
    const name = this.options.ownerDeployment;
    if (!name || this.owner || this.ownerReading || Date.now() < this.ownerRetryAt) return;
    this.ownerReading = true;
    this.apps
      .readNamespacedDeployment({ name, namespace: this.options.namespace })
      .then((d) => {
        if (d.metadata?.uid) this.owner = { apiVersion: "apps/v1", kind: "Deployment", name, uid: d.metadata.uid };
      })
      .catch((err: unknown) => {
        this.ownerRetryAt = Date.now() + 60_000;
        if (this.ownerWarned) return;
        this.ownerWarned = true;
        this.options.log.warn(
          { err: errorSummary(err), deployment: `${this.options.namespace}/${name}` },
          "leader election: cannot read the Lease's owner Deployment; the Lease gets no ownerReference until it can",
        );
      })
      .finally(() => {
        this.ownerReading = false;
      });
  }

  /** The Lease's ownerReferences with the owner Deployment's once known (replacing an older uid of that name). */
  private ownedBy(current: V1OwnerReference[] | undefined): V1OwnerReference[] | undefined {
    this.readOwner();
    const owner = this.owner;
    if (!owner) return current;
    if (current?.some((r) => r.uid === owner.uid)) return current;
    const others = (current ?? []).filter((r) => !(r.kind === owner.kind && r.name === owner.name));
    return [...others, owner];
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs } = this.options;
    const now = new V1MicroTime();
    const durationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (httpStatusOf(err) !== 404) {
        this.options.log.warn({ err: errorSummary(err) }, "leader election: cannot read the lease");
        return false;
      }
      try {
        const ownerReferences = this.ownedBy(undefined);
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace, ...(ownerReferences ? { ownerReferences } : {}) },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        });
        return true;
      } catch (e) {
        if (httpStatusOf(e) !== 409) {
          this.options.log.warn({ err: errorSummary(e) }, "leader election: cannot create the lease");
        }
        return false;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const recordKey = JSON.stringify([holder, String(spec.renewTime ?? ""), spec.leaseDurationSeconds]);
    if (this.observed?.key !== recordKey) this.observed = { key: recordKey, at: Date.now() };
    const theirDurationMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== "" && holder !== identity && Date.now() < this.observed.at + theirDurationMs) return false;

    const mine = holder === identity;
    try {
      const ownerReferences = this.ownedBy(lease.metadata?.ownerReferences);
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          metadata: { ...lease.metadata, name, namespace, ...(ownerReferences ? { ownerReferences } : {}) },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: mine && spec.acquireTime ? new V1MicroTime(spec.acquireTime) : now,
            renewTime: now,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
          },
        },
      });
      return true;
    } catch (err) {
      if (httpStatusOf(err) !== 409) {
        this.options.log.warn({ err: errorSummary(err) }, "leader election: cannot update the lease");
      }
      return false;
    }
  }

  /** Give the lease up (client-go's ReleaseOnCancel): an empty holder lets a standby acquire without waiting. */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          metadata: lease.metadata,
          spec: {
            holderIdentity: "",
            leaseDurationSeconds: 1,
            renewTime: new V1MicroTime(),
            leaseTransitions: lease.spec?.leaseTransitions ?? 0,
          },
        },
      });
      this.options.log.info({ identity }, "released the lease");
    } catch (err) {
      const status = httpStatusOf(err);
      if (status === 401 || status === 403 || status === 404) {
        // helm uninstall: the ServiceAccount (401) or the Role (403) went before this pod stopped, or the garbage
        // collector already took the Lease with its owner Deployment (404). Expected: the Lease goes with the
        // Deployment (ownerDeployment), there is no standby left to hand it to.
        this.options.log.info(
          { identity, status },
          status === 404
            ? "lease already deleted (uninstalled): nothing to release"
            : "lease no longer accessible (ServiceAccount or RBAC removed, e.g. on uninstall): not released",
        );
        return;
      }
      this.options.log.warn({ err: errorSummary(err) }, "could not release the lease");
    }
  }
}
