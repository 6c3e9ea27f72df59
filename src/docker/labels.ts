// The labels docker compose puts on the containers it creates, and how pooltuner names what it finds.
import type Docker from "dockerode";
import { OPTION_KEYS } from "../sources/annotations.js";

export const COMPOSE = {
  project: "com.docker.compose.project",
  service: "com.docker.compose.service",
  number: "com.docker.compose.container-number",
  oneoff: "com.docker.compose.oneoff",
  workingDir: "com.docker.compose.project.working_dir",
  configFiles: "com.docker.compose.project.config_files",
} as const;

export const POOLTUNER_LABEL_PREFIX = "io.pooltuner.";

/**
 * The name a container carries while its replacement starts (rename-then-create), with whether it was running.
 * Discovery never counts it as a replica; recovery restores or removes it after an interrupted recreate.
 */
const BACKUP = /^(.+)_pooltuner-prev-(running|stopped)$/;

export const backupName = (name: string, wasRunning: boolean): string =>
  `${name}_pooltuner-prev-${wasRunning ? "running" : "stopped"}`;
export const isBackupName = (name: string): boolean => BACKUP.test(name);
/** The original name and state of a backup, or undefined for any other name. */
export function parseBackupName(name: string): { original: string; wasRunning: boolean } | undefined {
  const m = BACKUP.exec(name);
  return m ? { original: m[1] as string, wasRunning: m[2] === "running" } : undefined;
}

/** Container names without the API's leading slash. */
export const containerName = (c: Pick<Docker.ContainerInspectInfo, "Name">): string => c.Name.replace(/^\//, "");

// The option keys of DESIGN §4. A container is looked at when it carries one of them; other `io.pooltuner.*`
// labels alone (an image's own metadata, say) do not make it a candidate, but are reported on candidates.
const OPTION_KEY_SET: ReadonlySet<string> = new Set(OPTION_KEYS);

export const hasPooltunerLabels = (labels: Readonly<Record<string, string>> | undefined): boolean =>
  Object.keys(labels ?? {}).some(
    (k) => k.startsWith(POOLTUNER_LABEL_PREFIX) && OPTION_KEY_SET.has(k.slice(POOLTUNER_LABEL_PREFIX.length)),
  );

/** `compose:<project>/<service>` as `pooltuner plan` names compose services, or `docker:<name>` for a lone container. */
export function workloadId(labels: Readonly<Record<string, string>>, name: string): string {
  const project = labels[COMPOSE.project];
  const service = labels[COMPOSE.service];
  return project && service ? `compose:${project}/${service}` : `docker:${name}`;
}

/** Env as `KEY=VALUE` lines, the way the Engine API carries it, to a map (later entries win, as in Docker). */
export function envMap(env: readonly string[] | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of env ?? []) {
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}
