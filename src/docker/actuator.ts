// The compose daemon's Actuator for the shared pass: persist the values for the next `docker compose up -d` (an env
// file beside the project), then recreate every container of the service whose env differs, one at a time, stop
// first (src/docker/recreate.ts). The first failure stops the apply: every container of the service is restored
// from its backup and the env file put back, so nothing half-applied stays behind. Dry-run changes nothing.
import type Docker from "dockerode";
import type { Action } from "../core/index.js";
import type { Logger } from "../runtime/logger.js";
import { type Metrics, workloadLabels } from "../runtime/metrics.js";
import type { ActContext, ActOutcome, Actuator } from "../runtime/pass-types.js";
import { errText } from "../runtime/reconcile-pass.js";
import {
  type EnvFileLocation,
  type EnvFileRef,
  envFileRef,
  readEnvFile,
  restoreEnvFile,
  withValues,
  writeEnvFileAtomic,
} from "./env-file.js";
import type { StuckServices } from "./frozen.js";
import { envMap } from "./labels.js";
import type { DockerWorkload } from "./observe.js";
import { composeProjectProblem } from "./project-dir.js";
import { type RecreateOptions, recreateAll } from "./recreate.js";

export interface ComposeActuatorOptions {
  readonly docker: Docker;
  readonly dryRun: boolean;
  readonly recreate: RecreateOptions;
  /** Where applied values are persisted; undefined: not persisted. */
  readonly persist?: EnvFileLocation;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Where a recreation whose replacement never got ready is remembered: it freezes its database. */
  readonly stuck?: StuckServices;
}

type Failed = Extract<ActOutcome, { kind: "failed" }>;

export class ComposeActuator implements Actuator<DockerWorkload> {
  readonly dryRun: boolean;

  constructor(private readonly o: ComposeActuatorOptions) {
    this.dryRun = o.dryRun;
  }

  async act(s: DockerWorkload, action: Action | undefined, ctx: ActContext): Promise<ActOutcome> {
    if (!action) return { kind: "unchanged" };
    if (this.o.dryRun) return { kind: "applied", targets: [], how: "", dryRun: true };
    const env = Object.fromEntries(action.env.map((e) => [e.name, e.value]));
    const persisted = await this.persist(s, action, env);
    if ("kind" in persisted) return persisted;
    const stale = s.containers.filter((c) => {
      const envNow = envMap(c.inspect.Config.Env);
      return !Object.entries(env).every(([k, v]) => envNow.get(k) === v);
    });
    // One restart of the service however many containers it has, as a Deployment's rollout is one and as
    // --max-restarts-per-hour counts it.
    if (stale.length > 0) this.o.metrics.restarts.inc({ ...workloadLabels(s.id, ctx.database), reason: action.change });
    // All or none: a failure puts every container of the service back, and the env file with them.
    const r = await recreateAll(
      this.o.docker,
      stale.map((c) => ({ id: c.id, name: c.name })),
      env,
      this.o.recreate,
    );
    if (!r.ok) {
      if (persisted.ref) await restoreEnvFile(persisted.ref, persisted.previous).catch(() => {});
      const reason = r.restoreError ? `${r.reason}; restore failed: ${r.restoreError}` : r.reason;
      const stuck = r.stuck ? this.stuck(s, ctx, r.name, reason) : undefined;
      return {
        kind: "failed",
        target: r.name,
        where: `container ${r.name}`,
        what: "container",
        reason,
        restored: r.restored,
        ...(stuck !== undefined ? { stuck } : {}),
      };
    }
    for (const c of r.recreated)
      if (c.dependents.length > 0)
        this.o.logger.info(`${s.id}: ${c.dependents.join(", ")} followed ${c.name} (network_mode container:)`);
    const names = r.recreated.map((c) => c.name);
    return { kind: "applied", targets: names, how: ` to ${names.length} container(s)` };
  }

  /** Remembers the service as stuck (src/docker/frozen.ts); returns why, for people. */
  private stuck(s: DockerWorkload, ctx: ActContext, container: string, reason: string): string {
    const why =
      `the recreation pooltuner started (${ctx.summary}) did not complete: ${container}: ${reason}; the original ` +
      `containers were put back; nothing else on ${ctx.database} changes until a person acts on ${s.object} ` +
      "(recreates, scales or removes its containers, e.g. docker compose up -d after a fix) or the daemon restarts";
    this.o.stuck?.remember(
      s.id,
      s.containers.map((c) => c.id),
      why,
    );
    return why;
  }

  /**
   * Writes the env file first; returns what to restore on failure, or the failure when an increase cannot persist.
   * Only into the directory of a real compose project that defines the service (src/docker/project-dir.ts).
   */
  private async persist(
    s: DockerWorkload,
    action: Action,
    env: Record<string, string>,
  ): Promise<{ ref?: EnvFileRef; previous?: string } | Failed> {
    if (!this.o.persist) return {};
    const ref = envFileRef(s.workingDir, s.service, this.o.persist);
    if (!ref) {
      this.o.logger.warn(`${s.id}: no compose project directory on its containers; the values are not persisted`);
      return {};
    }
    try {
      const problem = await composeProjectProblem(s, this.o.persist);
      if (problem) throw new Error(problem);
      const previous = await readEnvFile(ref);
      await writeEnvFileAtomic(ref, withValues(previous, env));
      return previous !== undefined ? { ref, previous } : { ref };
    } catch (err) {
      const msg = `${s.id}: cannot write ${ref.path} (${errText(err)}): a later \`docker compose up -d\` would undo the values`;
      if (action.change !== "decrease") {
        const reason = `${msg}; the increase is not applied`;
        return { kind: "failed", target: "-", where: "the env file", what: "container", reason, restored: true };
      }
      this.o.logger.error(`${msg}; the decrease is applied anyway (it restores safety)`);
      return {};
    }
  }
}
