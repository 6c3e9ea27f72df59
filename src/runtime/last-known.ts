// The database as an earlier run last saw it, for a process started while the server is full (error 1040): it
// cannot get in to read the limits, yet that is exactly when the pools must shrink. Earlier runs leave the limits
// where a fresh process finds them — the Kubernetes status annotation on each workload, a small JSON file beside
// the compose project's env files — and the lowest of them is planned against, decreases only (the pass's
// server-full gate), so a stale number can shrink a pool but never grow one.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { DatabaseSnapshot } from "../core/index.js";
import type { LastKnownLimits } from "./pass-types.js";

/** Where a daemon keeps the limits beyond the workloads themselves (the compose daemon's file). */
export interface LastKnownStore {
  read(database: string): Promise<LastKnownLimits | undefined>;
  /** Called after every plan on a fresh answer; writes only when the numbers differ from what is kept. */
  remember(limits: Omit<LastKnownLimits, "from">): Promise<void>;
}

/**
 * A snapshot whose usable budget is the lowest recorded for `database` (with the lowest max_connections), or
 * undefined when none was. Reserve and other clients are folded into one reserve (`limit − usable`): the planner's
 * usable then equals the recorded one, whatever the configuration says now.
 */
export function lastKnownSnapshot(
  database: string,
  recorded: readonly (LastKnownLimits | undefined)[],
): { readonly snapshot: DatabaseSnapshot; readonly limits: LastKnownLimits } | undefined {
  const known = recorded.flatMap((k) =>
    k?.database === database && Number.isSafeInteger(k.maxConnections) && Number.isSafeInteger(k.usable) ? [k] : [],
  );
  if (known.length === 0) return undefined;
  const tightest = known.reduce((a, b) => (b.usable < a.usable || (b.usable === a.usable && b.at < a.at) ? b : a));
  const maxConnections = Math.max(0, Math.min(...known.map((k) => k.maxConnections)));
  const usable = Math.max(0, Math.min(tightest.usable, maxConnections));
  return {
    snapshot: {
      name: database,
      maxConnections,
      maxUserConnections: 0,
      unmanaged: 0,
      reserve: { absolute: maxConnections - usable, percent: 0 },
    },
    limits: { ...tightest, maxConnections, usable },
  };
}

interface FileShape {
  v: 1;
  databases: Record<string, { maxConnections: number; usable: number; at: string }>;
}

/** The limits per database in one JSON file, written atomically (temp file + rename in the same directory). */
export class LastKnownFile implements LastKnownStore {
  private kept: FileShape | undefined;

  constructor(private readonly path: string) {}

  async read(database: string): Promise<LastKnownLimits | undefined> {
    const d = (await this.load()).databases[database];
    const at = Date.parse(d?.at ?? "");
    if (!d || !Number.isSafeInteger(d.maxConnections) || !Number.isSafeInteger(d.usable) || Number.isNaN(at))
      return undefined;
    return { database, maxConnections: d.maxConnections, usable: d.usable, at, from: `file ${this.path}` };
  }

  async remember(l: Omit<LastKnownLimits, "from">): Promise<void> {
    const shape = await this.load();
    const had = shape.databases[l.database];
    if (had && had.maxConnections === l.maxConnections && had.usable === l.usable) return;
    shape.databases[l.database] = {
      maxConnections: l.maxConnections,
      usable: l.usable,
      at: new Date(l.at).toISOString(),
    };
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(shape, null, 2)}\n`, { mode: 0o644 });
    await rename(tmp, this.path);
  }

  /** Read once, then kept in memory (this process is the only writer); unreadable counts as empty. */
  private async load(): Promise<FileShape> {
    if (this.kept) return this.kept;
    let shape: FileShape = { v: 1, databases: {} };
    try {
      const raw = JSON.parse(await readFile(this.path, "utf8")) as Partial<FileShape>;
      if (raw?.v === 1 && typeof raw.databases === "object" && raw.databases !== null)
        shape = { v: 1, databases: { ...raw.databases } };
    } catch {
      // missing or unreadable: nothing known (the next fresh answer rewrites it)
    }
    this.kept = shape;
    return shape;
  }
}
