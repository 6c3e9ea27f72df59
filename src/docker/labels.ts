// The labels docker compose puts on the containers it creates, and how pooltuner names what it finds.
import type Docker from "dockerode";
import { composeWorkloadId, hasOptionKeys } from "../sources/identity.js";

export const COMPOSE = {
  project: "com.docker.compose.project",
  service: "com.docker.compose.service",
  number: "com.docker.compose.container-number",
  oneoff: "com.docker.compose.oneoff",
  workingDir: "com.docker.compose.project.working_dir",
  configFiles: "com.docker.compose.project.config_files",
} as const;

/**
 * The name a container carries while its replacement starts (rename-then-create), with whether it was running and
 * the first 12 characters of its own id. Only a container whose id matches its name is pooltuner's backup: a
 * container someone else named like one is never counted, restored or removed. Labels cannot be added to an
 * existing container, so the name carries the proof; the replacement carries REPLACED_LABEL with the backup's id.
 */
const BACKUP = /^(.+)_pooltuner-prev-(running|stopped)-([0-9a-f]{12})$/;

export const backupName = (name: string, wasRunning: boolean, id: string): string =>
  `${name}_pooltuner-prev-${wasRunning ? "running" : "stopped"}-${id.slice(0, 12)}`;
/** The original name and state of pooltuner's backup `id` named `name`, or undefined for any other container. */
export function parseBackupName(name: string, id: string): { original: string; wasRunning: boolean } | undefined {
  const m = BACKUP.exec(name);
  if (!m || !id.startsWith(m[3] as string)) return undefined;
  return { original: m[1] as string, wasRunning: m[2] === "running" };
}
export const isBackup = (name: string, id: string): boolean => parseBackupName(name, id) !== undefined;

/** On a container pooltuner created in place of another: the id of the one it replaced (kept as the backup). */
export const REPLACED_LABEL = "io.pooltuner.last-replaced";

/** Container names without the API's leading slash. */
export const containerName = (c: Pick<Docker.ContainerInspectInfo, "Name">): string => c.Name.replace(/^\//, "");

/** Carries one of the option keys: a candidate (other `io.pooltuner.*` labels alone, an image's own, do not count). */
export const hasPooltunerLabels = (labels: Readonly<Record<string, string>> | undefined): boolean =>
  hasOptionKeys(labels, "docker");

/** The planner's id of the service a container belongs to (src/sources/identity.ts). */
export function serviceIdOf(labels: Readonly<Record<string, string>>, name: string): string {
  return composeWorkloadId(labels[COMPOSE.project], labels[COMPOSE.service], name);
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
