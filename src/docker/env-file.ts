// Applied values written where the compose project reads them on its next `docker compose up -d`, so a later
// `up` does not undo the tuning (watchtower #233 ignored `.env`). One small file per service, referenced by the
// service's `env_file:` list (last, so it wins over the user's own files):
//
//   services:
//     app:
//       env_file:
//         - .env
//         - path: .pooltuner/app.env   # written by pooltuner compose
//           required: false
//
// Lines pooltuner does not own are kept as they are; the write is atomic (temp file + rename in the same dir).
import { randomBytes } from "node:crypto";
import { chown, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";

const HEADER = "# Written by pooltuner compose: per-process connection pool settings for this service.\n";

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

/** The env file of a compose service, as the daemon can open it; undefined when the project dir is unknown. */
export function envFilePath(
  workingDir: string | undefined,
  service: string | undefined,
  location: EnvFileLocation,
): string | undefined {
  if (!service) return undefined;
  if (location.projectDir)
    return join(location.projectDir, location.dir, `${service.replace(/[^A-Za-z0-9_.-]/g, "_")}.env`);
  if (!workingDir || !isAbsolute(workingDir)) return undefined;
  let dir = resolve(workingDir);
  for (const [hostPrefix, localPrefix] of location.pathMap) {
    const rel = relative(resolve(hostPrefix), dir);
    if (rel === "" || (!rel.startsWith("..") && !isAbsolute(rel))) {
      dir = join(localPrefix, rel);
      break;
    }
  }
  return join(dir, location.dir, `${service.replace(/[^A-Za-z0-9_.-]/g, "_")}.env`);
}

/** The file's text, or undefined when it does not exist. */
export async function readEnvFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** `text` with `KEY=value` set for every entry of `values`: replaced where the key stands, appended otherwise. */
export function withValues(text: string | undefined, values: Readonly<Record<string, string>>): string {
  const lines = (text ?? HEADER).replace(/\n$/, "").split("\n");
  const done = new Set<string>();
  const out = lines.flatMap((line) => {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=/.exec(line)?.[1];
    if (key === undefined || !Object.hasOwn(values, key)) return [line];
    if (done.has(key)) return []; // a second line for the same key would win in compose: drop it
    done.add(key);
    return [`${key}=${values[key]}`];
  });
  for (const [k, v] of Object.entries(values)) if (!done.has(k)) out.push(`${k}=${v}`);
  return `${out.join("\n")}\n`;
}

/**
 * Write `text` to `path` atomically (a reader sees the old file or the new one, never half); creates the directory.
 * Run as root (a sidecar with the Docker socket), the directory and file get the owner of the project directory
 * above them, so the user who runs `docker compose` can still edit them.
 */
export async function writeEnvFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const existed = await stat(dir).then(
    () => true,
    () => false,
  );
  await mkdir(dir, { recursive: true });
  const owner = process.getuid?.() === 0 ? await stat(dirname(dir)).catch(() => undefined) : undefined;
  if (owner && !existed) await chown(dir, owner.uid, owner.gid);
  const tmp = join(dir, `.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fh = await open(tmp, "w", 0o644);
    try {
      await fh.writeFile(text, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (owner) await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Put a file back as it was before a failed apply (removed when it did not exist). */
export async function restoreEnvFile(path: string, previous: string | undefined): Promise<void> {
  if (previous === undefined) await rm(path, { force: true });
  else await writeEnvFileAtomic(path, previous);
}
