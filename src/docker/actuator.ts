// The compose daemon's Actuator for the shared pass: persist the values for the next `docker compose up -d` (an env
// file beside the project), then recreate every container of the service whose env differs, one at a time, stop
// first (src/docker/recreate.ts). The first failure stops the apply: that container is restored from its backup and
// the env file put back, so nothing half-applied stays behind. Dry-run changes nothing.
import type Docker from "dockerode";
import type { Action } from "../core/index.js";
import type { Logger } from "../runtime/logger.js";
import type { Metrics } from "../runtime/metrics.js";
import type { ActContext, ActOutcome, Actuator } from "../runtime/pass-types.js";
import { errText } from "../runtime/reconcile-pass.js";
import {
  type EnvFileLocation,
  envFilePath,
  readEnvFile,
  restoreEnvFile,
  withValues,
  writeEnvFileAtomic,
} from "./env-file.js";
import type { DockerWorkload } from "./observe.js";
import { type RecreateOptions, recreateWithEnv } from "./recreate.js";

export interface ComposeActuatorOptions {
  readonly docker: Docker;
  readonly dryRun: boolean;
  readonly recreate: RecreateOptions;
  /** Where applied values are persisted; undefined: not persisted. */
  readonly persist?: EnvFileLocation;
  readonly metrics: Metrics;
  readonly logger: Logger;
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
    const env = {
      [s.options.poolSizeEnv]: String(action.to.poolSize),
      [s.options.maxOverflowEnv]: String(action.to.maxOverflow),
    };
    const persisted = await this.persist(s, action, env);
    if ("kind" in persisted) return persisted;
    const recreated: string[] = [];
    for (const c of s.containers) {
      const envNow = new Map(
        (c.inspect.Config.Env ?? []).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      if (Object.entries(env).every(([k, v]) => envNow.get(k) === v)) continue;
      this.o.metrics.restarts.inc({ workload: s.id, database: ctx.database });
      let r: Awaited<ReturnType<typeof recreateWithEnv>>;
      try {
        r = await recreateWithEnv(this.o.docker, c.id, env, this.o.recreate);
      } catch (err) {
        // Before any change (the container vanished, the Engine stopped answering): nothing to restore.
        r = { ok: false, name: c.name, reason: errText(err), restored: true };
      }
      if (!r.ok) {
        if (persisted.path) await restoreEnvFile(persisted.path, persisted.previous).catch(() => {});
        const reason = r.restoreError ? `${r.reason}; restore failed: ${r.restoreError}` : r.reason;
        return {
          kind: "failed",
          target: r.name,
          where: `container ${r.name}`,
          what: "container",
          reason,
          restored: r.restored,
        };
      }
      recreated.push(r.name);
      if (r.dependents.length > 0)
        this.o.logger.info(`${s.id}: ${r.dependents.join(", ")} followed ${r.name} (network_mode container:)`);
    }
    return { kind: "applied", targets: recreated, how: ` to ${recreated.length} container(s)` };
  }

  /** Writes the env file first; returns what to restore on failure, or the failure when an increase cannot persist. */
  private async persist(
    s: DockerWorkload,
    action: Action,
    env: Record<string, string>,
  ): Promise<{ path?: string; previous?: string } | Failed> {
    if (!this.o.persist) return {};
    const path = envFilePath(s.workingDir, s.service, this.o.persist);
    if (!path) {
      this.o.logger.warn(`${s.id}: no compose project directory on its containers; the values are not persisted`);
      return {};
    }
    try {
      const previous = await readEnvFile(path);
      await writeEnvFileAtomic(path, withValues(previous, env));
      return previous !== undefined ? { path, previous } : { path };
    } catch (err) {
      const msg = `${s.id}: cannot write ${path} (${errText(err)}): a later \`docker compose up -d\` would undo the values`;
      if (action.change !== "decrease") {
        const reason = `${msg}; the increase is not applied`;
        return { kind: "failed", target: "-", where: "the env file", what: "container", reason, restored: true };
      }
      this.o.logger.error(`${msg}; the decrease is applied anyway (it restores safety)`);
      return {};
    }
  }
}
