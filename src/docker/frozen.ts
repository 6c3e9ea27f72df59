// The compose daemon's stuck rollouts (issue 12: "a rollout pooltuner started that gets stuck freezes its database").
// A recreation is all or none, so a replacement that never becomes ready (not running, or not healthy when it has a
// healthcheck, within --start-timeout; or reported unhealthy) is removed and the original containers are put back:
// nothing is left deleted or half-configured. What is left is the Kubernetes meaning of a stuck rollout: the change
// pooltuner started cannot complete, and trying again (or changing another service of the database) on a timer would
// be guessing. So the service is remembered as stuck, with the containers it was left with, and the observer marks it
// `stuck` (src/runtime/pass-types.ts) while they are the same: decide() freezes its database, the pass sets
// pooltuner_database_frozen and the service gets RolloutStuck (a warn line, a webhook), as on Kubernetes.
// A person acting on the service ends it: any change to its set of containers (`docker compose up -d` recreating them
// after a fix, a scale, removing them). The memory is this process's: a restarted daemon tries the change again.

export interface Stuck {
  /** The service's container ids, sorted, as the failed recreation left them. */
  readonly containers: string;
  /** For people: what did not get ready and what ends the freeze. */
  readonly why: string;
}

export class StuckServices {
  private readonly stuck = new Map<string, Stuck>();

  /** `workload` could not be recreated: its replacement never got ready; `containers` are its ids now. */
  remember(workload: string, containers: readonly string[], why: string): void {
    this.stuck.set(workload, { containers: key(containers), why });
  }

  /**
   * Why `workload` is stuck, while its containers are still the ones the failed recreation left; undefined (and
   * forgotten) once they differ: a person acted on it.
   */
  check(workload: string, containers: readonly string[]): string | undefined {
    const s = this.stuck.get(workload);
    if (!s) return undefined;
    if (s.containers === key(containers)) return s.why;
    this.stuck.delete(workload);
    return undefined;
  }

  /** Forgets services that are gone (bounded memory): `present` are the ids of every service observed. */
  keepOnly(present: ReadonlySet<string>): void {
    for (const id of this.stuck.keys()) if (!present.has(id)) this.stuck.delete(id);
  }

  size(): number {
    return this.stuck.size;
  }
}

function key(ids: readonly string[]): string {
  return [...ids].sort().join(",");
}
