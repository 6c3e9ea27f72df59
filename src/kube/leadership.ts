// Leader election (or none, with one replica): the leader's work starts when the lease is won; losing it, a signal
// or kill() stop everything once, in order (Lease released unless killed), and `done` says how the controller ended.
// `writableForMs` is what the controller's writers ask before every write (src/kube/client.ts): 0 once stopping or
// past the renew deadline, so no write leaves this replica after another one may have taken the lease.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.js";
import type { Poller } from "../runtime/poller.js";
import { LeaderElector } from "./leader.js";
import type { KubeMetrics } from "./metrics.js";

export interface LeadershipOptions {
  readonly kubeConfig: KubeConfig;
  readonly leaderElection: {
    readonly enabled: boolean;
    readonly namespace: string;
    readonly name: string;
    readonly leaseDurationMs: number;
    readonly renewDeadlineMs: number;
    readonly retryPeriodMs: number;
    readonly ownerDeployment?: string;
  };
  readonly requestTimeoutMs?: number;
}

export interface LeadershipParts {
  leading: boolean;
  readonly log: Logger;
  readonly identity: string;
  readonly kubeMetrics: KubeMetrics;
  readonly abort: AbortController;
  readonly signal: AbortSignal;
  readonly poller: Poller;
}

/** Leader election (or none): starts the leader's work, and one shutdown that stops everything once. */
export function leadership(o: LeadershipOptions, parts: LeadershipParts, startLeading: () => void) {
  const { log, identity, kubeMetrics } = parts;
  let release = true;
  const cleanups: (() => Promise<void>)[] = [];
  let resolveDone: (v: "stopped" | "lost") => void = () => {};
  const done = new Promise<"stopped" | "lost">((r) => {
    resolveDone = r;
  });
  const elector = o.leaderElection.enabled
    ? new LeaderElector({
        ...o.leaderElection,
        kubeConfig: o.kubeConfig,
        ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
        identity,
        log,
        shouldRelease: () => release,
      })
    : undefined;
  let electorRun: Promise<unknown> = Promise.resolve();
  let stopping: Promise<void> | undefined;
  const shutdown = (outcome: "stopped" | "lost", how: { release?: boolean } = {}): Promise<void> => {
    if (how.release === false) release = false;
    stopping ??= (async () => {
      parts.leading = false;
      kubeMetrics.leader.set(0);
      parts.abort.abort();
      parts.poller.stop();
      await electorRun;
      for (const c of cleanups) await c();
      log.info({ identity, outcome }, "controller stopped");
      resolveDone(outcome);
    })();
    return stopping;
  };
  if (elector) {
    electorRun = elector
      .run(parts.signal, {
        onStartedLeading: () => {
          parts.leading = true;
          kubeMetrics.leader.set(1);
          startLeading();
        },
        onStoppedLeading: (reason) => {
          parts.leading = false;
          kubeMetrics.leader.set(0);
          log.info({ identity, reason }, "stopped leading");
        },
      })
      .then((how) => {
        if (how === "lost") void shutdown("lost");
      });
  } else {
    startLeading();
  }
  const writableForMs = (): number => {
    if (parts.signal.aborted || !parts.leading) return 0;
    return elector ? elector.writableForMs() : Number.POSITIVE_INFINITY;
  };
  return { done, shutdown, writableForMs, onStop: (c: () => Promise<void>) => cleanups.push(c) };
}
