// The server-size table from the seed incident: which per-process pool a container of a given size should get.
// It is the default; operators replace it through configuration.
import type { PoolSettings } from "./snapshot.js";

export interface SizingRow extends PoolSettings {
  readonly name: string;
  /** Upper bound of the row, in millicores; containers up to this size use the row. */
  readonly cpuMillis: number;
  /** Upper bound of the row, in bytes. */
  readonly memoryBytes: number;
  /** Gunicorn workers the row was written for; informational (pooltuner never changes workers). */
  readonly workers: number;
}

const GiB = 1024 ** 3;

/** FIX_TOO_MANY_CONNECTIONS.md: small/medium/large all settle on pool_size=1, max_overflow=2. */
export const SEED_SIZING_TABLE: readonly SizingRow[] = [
  { name: "small", cpuMillis: 2000, memoryBytes: 2 * GiB, workers: 2, poolSize: 1, maxOverflow: 2 },
  { name: "medium", cpuMillis: 4000, memoryBytes: 4 * GiB, workers: 4, poolSize: 1, maxOverflow: 2 },
  { name: "large", cpuMillis: 8000, memoryBytes: 8 * GiB, workers: 6, poolSize: 1, maxOverflow: 2 },
];

/** Problems with a table, one line each; empty when the table is usable. */
export function validateSizingTable(table: readonly SizingRow[]): string[] {
  const problems: string[] = [];
  if (table.length === 0) problems.push("sizing table has no rows");
  table.forEach((row, i) => {
    const at = `sizing table row ${i + 1} (${row.name})`;
    if (!Number.isInteger(row.poolSize) || row.poolSize < 1) problems.push(`${at}: poolSize must be an integer >= 1`);
    if (!Number.isInteger(row.maxOverflow) || row.maxOverflow < 0)
      problems.push(`${at}: maxOverflow must be an integer >= 0`);
    if (!(row.cpuMillis > 0)) problems.push(`${at}: cpu must be > 0`);
    if (!(row.memoryBytes > 0)) problems.push(`${at}: memory must be > 0`);
  });
  return problems;
}

/**
 * The row for a container: the smallest row that holds both its CPU and memory limits.
 * Unknown dimensions do not constrain; no limits at all picks the smallest row (the cautious choice);
 * a container larger than every row gets the largest.
 */
export function pickRow(
  table: readonly SizingRow[],
  resources: { cpuMillis?: number; memoryBytes?: number } | undefined,
): SizingRow {
  const rows = [...table].sort((a, b) => a.cpuMillis - b.cpuMillis || a.memoryBytes - b.memoryBytes);
  const cpu = resources?.cpuMillis;
  const mem = resources?.memoryBytes;
  const fits = rows.find(
    (r) => (cpu === undefined || cpu <= r.cpuMillis) && (mem === undefined || mem <= r.memoryBytes),
  );
  const row = fits ?? rows[rows.length - 1];
  if (!row) throw new Error("sizing table has no rows");
  return row;
}

/**
 * Split a per-process cap into pool_size and max_overflow with the row's ratio.
 * pool_size is at least 1 (0 would mean unbounded to SQLAlchemy); the rest is overflow.
 */
export function splitCap(cap: number, row: PoolSettings): PoolSettings {
  const rowCap = row.poolSize + row.maxOverflow;
  const poolSize = Math.min(cap, Math.max(1, Math.round((cap * row.poolSize) / rowCap)));
  return { poolSize, maxOverflow: cap - poolSize };
}
