// Reading a file named by untrusted input (a CI gate reads pull requests): only regular files, never more than a
// size cap. A FIFO is never opened (opening one blocks until a writer comes, and wakes a writer waiting for a
// reader), nor a device, socket or folder: stat first, then open non-blocking and check the opened file is the one
// stat saw, so swapping the path in between does not get past the check.
import { constants, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";

/** Default cap for one input file (compose file, manifests, env file, sizing table, config). */
export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024;

/** Default cap for all input files of one run together (many files under the cap each still add up). */
export const DEFAULT_MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** What the files of one run may read together; `used` grows with every file read through the same budget. */
export interface TotalBudget {
  readonly maxBytes: number;
  used: number;
  /** Set once a file was refused for the total: whoever walks the files stops there. */
  exceeded: boolean;
  /** Appended to the message, e.g. "raise it with --max-total-size". */
  readonly raiseHint?: string;
}

export function totalBudget(maxBytes: number, raiseHint?: string): TotalBudget {
  return { maxBytes, used: 0, exceeded: false, ...(raiseHint ? { raiseHint } : {}) };
}

export interface ReadLimits {
  readonly maxBytes: number;
  /** Appended to the "too large" message, e.g. "raise it with --max-file-size". */
  readonly raiseHint?: string;
  /** Shared by every file of the run (compose files, manifests, env files). */
  readonly total?: TotalBudget;
}

export type InputFile =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly missing: boolean; readonly message: string };

/** The file's text, or why it cannot be read, in words fit for a finding (the content is never quoted). */
export async function readInputFile(path: string, limits: ReadLimits): Promise<InputFile> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) return failed(st);
  const kind = notRegular(st);
  if (kind) return { ok: false, missing: false, message: `is ${kind}, not a regular file` };
  if (st.size > limits.maxBytes) return { ok: false, missing: false, message: tooLarge(st.size, limits) };
  const { total } = limits;
  if (total && total.used + st.size > total.maxBytes) return overTotal(total);

  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY).catch(
    (e: NodeJS.ErrnoException) => e,
  );
  if (handle instanceof Error) return failed(handle);
  try {
    const opened = await handle.stat();
    if (notRegular(opened) || opened.ino !== st.ino || opened.dev !== st.dev) {
      return { ok: false, missing: false, message: "changed while being read; not a regular file" };
    }
    // Read at most maxBytes + 1: a file that grew after stat is still cut off at the cap.
    const buffer = Buffer.alloc(Math.min(limits.maxBytes + 1, Math.max(opened.size, 0) + 1));
    let length = 0;
    for (;;) {
      if (length === buffer.length) break;
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limits.maxBytes) return { ok: false, missing: false, message: tooLarge(undefined, limits) };
    if (total) {
      // A file that grew after stat counts as read.
      if (total.used + length > total.maxBytes) return overTotal(total);
      total.used += length;
    }
    return { ok: true, text: buffer.subarray(0, length).toString("utf8") };
  } catch (err) {
    return failed(err as NodeJS.ErrnoException);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** `4 MiB`, `512 KiB`, `100 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${trim(n / (1024 * 1024))} MiB`;
  if (n >= 1024) return `${trim(n / 1024)} KiB`;
  return `${n} bytes`;
}

function trim(n: number): string {
  return String(Math.round(n * 10) / 10);
}

export function tooLarge(size: number | undefined, limits: ReadLimits): string {
  const what = size === undefined ? "is larger than" : `is ${formatBytes(size)}, more than`;
  return `${what} the ${formatBytes(limits.maxBytes)} allowed for an input file${limits.raiseHint ? ` (${limits.raiseHint})` : ""}`;
}

function overTotal(total: TotalBudget): InputFile {
  total.exceeded = true;
  const hint = total.raiseHint ? `; ${total.raiseHint}` : "";
  return {
    ok: false,
    missing: false,
    message:
      `is not read: it would take the input past the ${formatBytes(total.maxBytes)} allowed for all input files ` +
      `together (${formatBytes(total.used)} read so far${hint})`,
  };
}

function notRegular(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

function failed(e: NodeJS.ErrnoException): InputFile {
  if (e.code === "ENOENT" || e.code === "ENOTDIR") return { ok: false, missing: true, message: "does not exist" };
  if (e.code === "EACCES" || e.code === "EPERM") return { ok: false, missing: false, message: "permission denied" };
  if (e.code === "ELOOP") return { ok: false, missing: false, message: "is a symlink loop" };
  return { ok: false, missing: false, message: `cannot read: ${e.code ?? "unknown error"}` };
}
