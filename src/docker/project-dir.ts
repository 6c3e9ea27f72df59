// Where a compose project's directory is, as the daemon sees it, and whether it really is the directory of the
// compose project a container claims. The labels that name it (`com.docker.compose.project.working_dir`,
// `...config_files`) are whatever the container's creator wrote; the daemon runs as root, so before it writes into
// that directory it checks that a compose file there defines the service (a container labelled with
// working_dir=/etc gets nothing written into /etc).
import { realpath } from "node:fs/promises";
import { isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { readInputFile } from "../sources/input-file.js";
import { parseYamlDocuments } from "../sources/parse-yaml.js";

export interface EnvFileLocation {
  /** Directory under the project directory; default `.pooltuner`. */
  readonly dir: string;
  /**
   * Where the daemon sees the host's paths, for a daemon that runs in a container with the project mounted
   * elsewhere: `[hostPrefix, localPrefix]` pairs, first match wins. Empty: the same paths.
   */
  readonly pathMap: readonly (readonly [string, string])[];
  /** A sidecar that manages one project and sees its directory here (mounted), whatever the host path. */
  readonly projectDir?: string;
}

/** The project directory as the daemon can open it; undefined when unknown. */
export function localProjectDir(workingDir: string | undefined, location: EnvFileLocation): string | undefined {
  if (location.projectDir) return location.projectDir;
  if (!workingDir || !isAbsolute(workingDir)) return undefined;
  return mapped(resolve(workingDir), location);
}

/** A host path as the daemon sees it (`--path-map`, or relative to the mounted `--project-dir`). */
function localPath(hostPath: string, workingDir: string | undefined, location: EnvFileLocation): string | undefined {
  if (!isAbsolute(hostPath)) return undefined;
  if (location.projectDir) {
    if (!workingDir) return undefined;
    const rel = relative(resolve(workingDir), resolve(hostPath));
    return inside(rel) ? join(location.projectDir, rel) : undefined;
  }
  return mapped(resolve(hostPath), location);
}

function mapped(path: string, location: EnvFileLocation): string {
  for (const [hostPrefix, localPrefix] of location.pathMap) {
    const rel = relative(resolve(hostPrefix), path);
    if (inside(rel)) return join(localPrefix, rel);
  }
  return path;
}

const inside = (rel: string) => rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));

/**
 * Where a `config_files` entry may be, as the daemon sees it. Compose v2+ records absolute host paths. Compose 1.x
 * (Debian's docker-compose 1.29) records them relative to the directory it ran in, which no label names:
 * `docker-compose.yml` when run in the project directory, `../docker-compose.yml` from a subdirectory,
 * `lineage/docker-compose.yml` with `--project-directory lineage`. The file is then one of the path's tails under the
 * project directory: every candidate lies inside it, so this widens nothing beyond the absolute form.
 */
function candidates(file: string, dir: string, workingDir: string | undefined, location: EnvFileLocation): string[] {
  if (isAbsolute(file)) {
    const local = localPath(file, workingDir, location);
    return local ? [local] : [];
  }
  const parts = normalize(file).split(sep);
  return parts
    .map((_, i) => parts.slice(i))
    .filter((tail) => tail.length > 0 && !tail.includes(".."))
    .map((tail) => join(dir, ...tail));
}

/** Compose files are small; a larger one is not read to decide where to write. */
const MAX_COMPOSE_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Why the project directory of `service` cannot be trusted, or undefined when one of the compose files its
 * containers name lies inside the project directory and defines the service.
 */
export async function composeProjectProblem(
  project: { workingDir?: string; configFiles?: string; service?: string },
  location: EnvFileLocation,
): Promise<string | undefined> {
  const dir = localProjectDir(project.workingDir, location);
  const files = (project.configFiles ?? "").split(",").filter((f) => f.trim() !== "");
  if (!dir || !project.service || files.length === 0)
    return "its containers do not name a compose project directory and compose file (com.docker.compose.project.* labels)";
  const root = await realpath(dir).catch(() => undefined);
  if (!root) return `the project directory ${dir} does not exist here`;
  for (const local of files.flatMap((f) => candidates(f.trim(), dir, project.workingDir, location))) {
    const real = await realpath(local).catch(() => undefined);
    if (!real || !inside(relative(root, real))) continue;
    const read = await readInputFile(real, { maxBytes: MAX_COMPOSE_FILE_BYTES });
    if (!read.ok) continue;
    const parsed = parseYamlDocuments(read.text);
    if ("error" in parsed) continue;
    const services = (parsed.docs[0] as { services?: unknown } | null | undefined)?.services;
    if (services && typeof services === "object" && Object.hasOwn(services, project.service)) return undefined;
  }
  return `no compose file inside ${dir} defines the service ${project.service} (com.docker.compose.project.config_files: ${files.length} file(s)); it is not a compose project directory`;
}
