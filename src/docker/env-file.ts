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
//
// The daemon runs as root and the project directory belongs to someone else: every step refuses to be redirected.
// The directory is walked without following symbolic links and opened with O_NOFOLLOW; from then on every file is
// reached through that open directory (/proc/self/fd/N/<name>), after checking that it really lies inside the
// project directory. The env file itself is opened with O_NOFOLLOW and must be a regular file with one link, so a
// planted symlink or hard link (to /etc/shadow, say) is refused, never read, copied or written through.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, lchown, lstat, mkdir, open, readlink, realpath, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { type EnvFileLocation, localProjectDir } from "./project-dir.js";

export type { EnvFileLocation } from "./project-dir.js";

const HEADER = "# Written by pooltuner compose: per-process connection pool settings for this service.\n";
/** An env file of two settings and the user's own lines; anything larger is not ours to rewrite. */
const MAX_ENV_FILE_BYTES = 256 * 1024;

/** An env file and the project directory it must stay inside, both as the daemon sees them. */
export interface EnvFileRef {
  readonly root: string;
  readonly path: string;
}

/** The env file of a compose service; undefined when the project directory is unknown. */
export function envFileRef(
  workingDir: string | undefined,
  service: string | undefined,
  location: EnvFileLocation,
): EnvFileRef | undefined {
  const root = localProjectDir(workingDir, location);
  if (!service || !root) return undefined;
  return { root, path: join(root, location.dir, `${service.replace(/[^A-Za-z0-9_.-]/g, "_")}.env`) };
}

/** The path of `envFileRef`, for messages and tests. */
export function envFilePath(
  workingDir: string | undefined,
  service: string | undefined,
  location: EnvFileLocation,
): string | undefined {
  return envFileRef(workingDir, service, location)?.path;
}

/** The file's text, or undefined when it (or its directory) does not exist. */
export async function readEnvFile(ref: EnvFileRef): Promise<string | undefined> {
  const dir = await openConfinedDir(ref, false);
  if (!dir) return undefined;
  try {
    return await readIn(dir.fh, basename(ref.path));
  } finally {
    await dir.fh.close();
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
 * Write `text` atomically (a reader sees the old file or the new one, never half); creates the directory.
 * Run as root (a sidecar with the Docker socket), the directory and file get the owner of the project directory,
 * so the user who runs `docker compose` can still edit them.
 */
export async function writeEnvFileAtomic(ref: EnvFileRef, text: string): Promise<void> {
  const dir = await openConfinedDir(ref, true);
  if (!dir) throw new Error(`${dirname(ref.path)} cannot be created`);
  const at = (name: string) => `/proc/self/fd/${dir.fh.fd}/${name}`;
  const name = basename(ref.path);
  const tmp = `.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const existing = await lstat(at(name)).catch(() => undefined);
    if (existing) refuseUnlessPlain(ref.path, existing);
    const fh = await open(
      at(tmp),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
    try {
      await fh.writeFile(text, "utf8");
      await fh.sync();
      if (dir.owner) await fh.chown(dir.owner.uid, dir.owner.gid);
    } finally {
      await fh.close();
    }
    await rename(at(tmp), at(name));
  } catch (err) {
    await rm(at(tmp), { force: true }).catch(() => undefined);
    throw err;
  } finally {
    await dir.fh.close();
  }
}

/** Put a file back as it was before a failed apply (removed when it did not exist). */
export async function restoreEnvFile(ref: EnvFileRef, previous: string | undefined): Promise<void> {
  if (previous !== undefined) return writeEnvFileAtomic(ref, previous);
  const dir = await openConfinedDir(ref, false);
  if (!dir) return;
  try {
    const at = `/proc/self/fd/${dir.fh.fd}/${basename(ref.path)}`;
    const st = await lstat(at).catch(() => undefined);
    if (st) refuseUnlessPlain(ref.path, st);
    await rm(at, { force: true });
  } finally {
    await dir.fh.close();
  }
}

/**
 * The env file's directory, opened without following a symbolic link anywhere below the project directory, and
 * checked to lie inside it; created (owned like the project directory, when run as root) if `create`.
 */
async function openConfinedDir(
  ref: EnvFileRef,
  create: boolean,
): Promise<{ fh: FileHandle; owner?: { uid: number; gid: number } } | undefined> {
  const root = await realpath(ref.root).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `the project directory ${ref.root} ${e.code === "ENOENT" ? "does not exist" : `cannot be read (${e.code})`}`,
    );
  });
  const rootStat = await stat(root);
  if (!rootStat.isDirectory()) throw new Error(`the project directory ${ref.root} is not a directory`);
  const owner = process.getuid?.() === 0 ? { uid: rootStat.uid, gid: rootStat.gid } : undefined;
  const parts = relative(ref.root, dirname(ref.path))
    .split(sep)
    .filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error(`${ref.path} is outside the project directory ${ref.root}; refused`);
  let dir = root;
  for (const part of parts) {
    dir = join(dir, part);
    let st = await lstat(dir).catch(() => undefined);
    if (!st) {
      if (!create) return undefined;
      await mkdir(dir, 0o755).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
      });
      if (owner) await lchown(dir, owner.uid, owner.gid);
      st = await lstat(dir);
    }
    if (st.isSymbolicLink()) throw new Error(`${dir} is a symbolic link; refused`);
    if (!st.isDirectory()) throw new Error(`${dir} is not a directory; refused`);
  }
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(
    (e: NodeJS.ErrnoException) => {
      throw e.code === "ELOOP" || e.code === "ENOTDIR" ? new Error(`${dir} changed into a symbolic link; refused`) : e;
    },
  );
  // What the open directory really is, whatever happened to the path since: every file below goes through it.
  const real = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => "");
  if (real !== root && !real.startsWith(`${root}${sep}`)) {
    await fh.close();
    throw new Error(`${dirname(ref.path)} does not lie inside the project directory ${ref.root}; refused`);
  }
  return owner ? { fh, owner } : { fh };
}

async function readIn(dir: FileHandle, name: string): Promise<string | undefined> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
  const fh = await open(`/proc/self/fd/${dir.fd}/${name}`, flags).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw e.code === "ELOOP" ? new Error(`${name} is a symbolic link; refused`) : e;
  });
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    refuseUnlessPlain(name, st);
    if (st.size > MAX_ENV_FILE_BYTES)
      throw new Error(`${name} is larger than ${MAX_ENV_FILE_BYTES / 1024} KiB; refused`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/** A regular file with no other name: a symlink, device or hard link to another file is never read or replaced. */
function refuseUnlessPlain(what: string, st: { isFile(): boolean; isSymbolicLink(): boolean; nlink: number }): void {
  if (st.isSymbolicLink()) throw new Error(`${what} is a symbolic link; refused`);
  if (!st.isFile()) throw new Error(`${what} is not a regular file; refused`);
  if (st.nlink > 1) throw new Error(`${what} has other hard links; refused`);
}
