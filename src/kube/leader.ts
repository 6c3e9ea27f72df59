// Leader election with a coordination.k8s.io/v1 Lease, the algorithm of client-go's leaderelection: the holder
// renews the lease every retry period; another replica takes it over only after it has seen the same record
// unchanged for a whole lease duration (measured on its own clock, so clocks need not agree); writes carry the
// resourceVersion, so two candidates cannot both win. A leader that cannot renew within the renew deadline steps
// down before its lease can expire elsewhere, so two replicas never write at once.
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.js";
import { sleep } from "../runtime/sleep.js";
import { errorSummary } from "./events.js";

export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica: the pod name plus a random suffix. */
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly log: Logger;
  /** Asked at shutdown; false leaves the lease to expire (as after a crash). Default: release. */
  readonly shouldRelease?: () => boolean;
}

export interface LeaderCallbacks {
  readonly onStartedLeading: () => void;
  /** Leadership lost (renewal failed) or given up at shutdown. */
  readonly onStoppedLeading: (reason: string) => void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private observed: { key: string; at: number } | undefined;
  private leading = false;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    if (!(options.renewDeadlineMs < options.leaseDurationMs && options.retryPeriodMs < options.renewDeadlineMs)) {
      throw new Error("leader election: need retryPeriod < renewDeadline < leaseDuration");
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until `signal` aborts. Returns when the signal aborts (releasing the lease if held, so a standby
   * takes over at once) or when leadership is lost (the caller should then stop writing and exit).
   */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<"aborted" | "lost"> {
    const { log, retryPeriodMs, renewDeadlineMs } = this.options;
    // Acquire.
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew()) break;
      await sleep(retryPeriodMs, signal);
    }
    if (signal.aborted) return "aborted";
    this.leading = true;
    log.info({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity }, "leading");
    callbacks.onStartedLeading();
    // Renew.
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
        continue;
      }
      if (Date.now() - lastRenew >= renewDeadlineMs) {
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

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs } = this.options;
    const now = new V1MicroTime();
    const durationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) {
        this.options.log.warn({ err: errorSummary(err) }, "leader election: cannot read the lease");
        return false;
      }
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
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
        if ((e as { code?: number }).code !== 409) {
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
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          metadata: { ...lease.metadata, name, namespace },
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
      if ((err as { code?: number }).code !== 409) {
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
      this.options.log.warn({ err: errorSummary(err) }, "could not release the lease");
    }
  }
}
