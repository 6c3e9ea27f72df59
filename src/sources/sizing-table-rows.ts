// Server-size table rows as people write them, in the CLI's --sizing-table file and the daemons' config alike:
//   - name: medium
//     cpu: "4"          # Kubernetes quantity (4, 500m) or a number of cores
//     memory: 4Gi       # Kubernetes quantity
//     workers: 4        # informational
//     poolSize: 1       # or pool_size
//     maxOverflow: 2    # or max_overflow
// Validation returns data: every bad field is one line naming the row and the field.
import { type SizingRow, validateSizingTable } from "../core/index.js";
import { parseCpuMillis, parseMemoryBytes } from "./quantity.js";

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** `where` prefixes every error, e.g. the file name. */
export function parseSizingRows(list: unknown, where: string): { rows: SizingRow[]; errors: string[] } {
  if (!Array.isArray(list)) {
    return {
      rows: [],
      errors: [`${where}: must be a list of rows (name, cpu, memory, workers, poolSize, maxOverflow)`],
    };
  }
  const errors: string[] = [];
  const rows: SizingRow[] = [];
  list.forEach((raw, i) => {
    const at = `${where}: row ${i + 1}${isMap(raw) && typeof raw.name === "string" ? ` (${raw.name})` : ""}`;
    if (!isMap(raw)) {
      errors.push(`${at}: must be a map`);
      return;
    }
    const rowErrors: string[] = [];
    const whole = (keys: string[], min: number): number => {
      const key = keys.find((k) => raw[k] !== undefined);
      const v = key === undefined ? undefined : raw[key];
      if (typeof v === "number" && Number.isInteger(v) && v >= min) return v;
      rowErrors.push(
        `${at}: ${keys[0]}: must be a whole number >= ${min}${v === undefined ? " (missing)" : `, got ${JSON.stringify(v)}`}`,
      );
      return min;
    };
    const name = typeof raw.name === "string" && raw.name.trim() !== "" ? raw.name : `row${i + 1}`;
    const cpu = parseCpuMillis(raw.cpu);
    if (!cpu.ok) rowErrors.push(`${at}: cpu: ${cpu.message}`);
    const memory = parseMemoryBytes(raw.memory);
    if (!memory.ok) rowErrors.push(`${at}: memory: ${memory.message}`);
    const row: SizingRow = {
      name,
      cpuMillis: cpu.ok ? cpu.value : 0,
      memoryBytes: memory.ok ? memory.value : 0,
      workers: raw.workers === undefined ? 1 : whole(["workers"], 1),
      poolSize: whole(["poolSize", "pool_size"], 1),
      maxOverflow: whole(["maxOverflow", "max_overflow"], 0),
    };
    errors.push(...rowErrors);
    if (rowErrors.length === 0) rows.push(row);
  });
  if (errors.length === 0) errors.push(...validateSizingTable(rows).map((p) => `${where}: ${p}`));
  return { rows, errors };
}
