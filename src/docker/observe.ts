// The compose daemon's Observer for the shared pass: the Engine's containers, discovered afresh on every pass
// (src/docker/discover.ts), as the services of one database. A service's applied values and its last change live on
// its containers (env, creation time), so a restarted daemon observes exactly what the previous one left.
// Problems of containers that belong to no database (not enabled, a bad or missing database) are logged here, once
// while they last; those of a database's services are the pass's to report (ComposeNotices).
import type Docker from "dockerode";
import { type LogLevel, LogOnce } from "../runtime/log-once.js";
import type { Logger } from "../runtime/logger.js";
import type { ConditionReason, Notices, ObservedWorkload, Observer } from "../runtime/pass-types.js";
import type { DatabaseAddress } from "../sources/account.js";
import { PREFIX } from "../sources/identity.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { type DiscoveredService, discover } from "./discover.js";
import type { StuckServices } from "./frozen.js";

export type DockerWorkload = DiscoveredService & ObservedWorkload;

export interface DockerObserverOptions {
  readonly docker: Docker;
  readonly databases: readonly string[];
  readonly projects?: readonly string[];
  /** host:port of each configured database: picks the account when a service's env has URLs with several users. */
  readonly addressOf: (database: string) => DatabaseAddress | undefined;
  readonly logger: Logger;
  readonly profiles?: ProfileRegistry;
  /** Services whose recreation never got ready: their database is frozen (src/docker/frozen.ts). */
  readonly stuck?: StuckServices;
}

export class DockerObserver implements Observer<DockerWorkload> {
  private readonly once: LogOnce;

  constructor(private readonly o: DockerObserverOptions) {
    this.once = new LogOnce(o.logger);
  }

  async observe(database: string): Promise<readonly DockerWorkload[]> {
    const discovery = await discover(this.o.docker, {
      databases: this.o.databases,
      ...(this.o.projects ? { projects: this.o.projects } : {}),
      addressOf: this.o.addressOf,
      ...(this.o.profiles ? { profiles: this.o.profiles } : {}),
    });
    const lines = new Map<string, LogLevel>();
    for (const line of discovery.ignored.errors) lines.set(`${line} (not managed)`, "error");
    for (const line of discovery.ignored.warnings) lines.set(line, "warn");
    for (const s of discovery.services.filter((x) => !x.workload)) {
      for (const e of s.errors) lines.set(e, "error");
      for (const w of s.warnings) lines.set(w, "warn");
    }
    this.once.say("discovery", lines);
    const stuck = this.o.stuck;
    stuck?.keepOnly(new Set(discovery.services.map((s) => s.id)));
    return discovery.services
      .filter((s) => s.workload?.database === database)
      .map((s) =>
        observed(
          s,
          stuck?.check(
            s.id,
            s.containers.map((c) => c.id),
          ),
        ),
      );
  }
}

function observed(s: DiscoveredService, stuck: string | undefined): DockerWorkload {
  const warnings = [...s.warnings];
  if (s.workload && s.workload.account === undefined)
    warnings.push(
      `${s.object}: database account unknown (no io.pooltuner.account label, no user in DATABASE_URL): its own connections count as other clients'`,
    );
  if (s.errors.length > 0)
    warnings.push(`${s.object}: counted in the plan but not changed until its labels/env are fixed`);
  return {
    ...s,
    managed: true,
    ...(s.workload ? { snapshot: s.workload } : {}),
    // A service with a bad label or env is planned for (its connections count) but never changed.
    updateMode: s.errors.length > 0 ? "off" : s.options.updateMode,
    lastAppliedAt: s.lastChangedAt,
    rollingOut: s.settling,
    ...(s.options.paused ? { paused: `${PREFIX.docker}paused label of ${s.object}` } : {}),
    ...(s.options.changeWindows ? { changeWindows: s.options.changeWindows } : {}),
    // Recreation is stop-first: the old container is gone before the new one starts.
    drainsDuringRollout: false,
    warnings,
    ...(stuck !== undefined
      ? { stuck, conditions: [{ reason: "RolloutStuck" as const, lines: [`${s.object}: ${stuck}`] }] }
      : {}),
  };
}

/** Conditions as log lines, each once while it lasts; database-wide ones are logged by the pass itself. */
export class ComposeNotices implements Notices<DockerWorkload> {
  private readonly said = new Map<string, Set<string>>();
  private readonly saying = new Map<string, Set<string>>();

  constructor(private readonly log: Logger) {}

  async raise(w: DockerWorkload, reason: ConditionReason, lines: readonly string[]): Promise<void> {
    // Database-wide ones are logged by the pass; SurgeCost is a plan finding, logged with the others.
    if (
      reason === "DatabaseUnreachable" ||
      reason === "DatabaseFull" ||
      reason === "Infeasible" ||
      reason === "SurgeCost"
    )
      return;
    const level = reason === "InvalidConfiguration" ? "error" : "warn";
    const now = this.saying.get(w.id) ?? new Set<string>();
    for (const line of lines) {
      // Paused: logged on every pass (once per poll interval) while a decrease is held by it.
      if (reason === "Paused" || !this.said.get(w.id)?.has(line)) this.log[level]({ workload: w.id, reason }, line);
      now.add(line);
    }
    this.saying.set(w.id, now);
  }

  settle(w: DockerWorkload): void {
    this.said.set(w.id, this.saying.get(w.id) ?? new Set());
    this.saying.delete(w.id);
  }
}
