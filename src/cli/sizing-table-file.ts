// `--sizing-table <file>`: the server-size table as YAML or JSON rows (see sources/sizing-table-rows.ts),
// replacing the seed's default. A top-level `rows:` (or `sizingTable:`) list is accepted too.
import type { SizingRow } from "../core/index.js";
import { type ReadLimits, readInputFile } from "../sources/input-file.js";
import { parseYamlDocuments } from "../sources/parse-yaml.js";
import { parseSizingRows } from "../sources/sizing-table-rows.js";
import { CliError } from "./exit.js";

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export async function loadSizingTable(file: string, limits: ReadLimits): Promise<SizingRow[]> {
  const read = await readInputFile(file, limits);
  if (!read.ok) throw new CliError("bad-input", [`--sizing-table ${file}: ${read.message}`]);
  const parsed = parseYamlDocuments(read.text);
  if ("error" in parsed) {
    const { line, message } = parsed.error;
    throw new CliError("bad-input", [`--sizing-table ${file}${line === undefined ? "" : `:${line}`}: ${message}`]);
  }
  const docs = parsed.docs.filter((d) => d !== null && d !== undefined);
  if (docs.length > 1) throw new CliError("bad-input", [`--sizing-table ${file}: must hold one document`]);
  const data = docs[0];
  const list = Array.isArray(data) ? data : isMap(data) ? (data.rows ?? data.sizingTable) : undefined;
  const { rows, errors } = parseSizingRows(list, file);
  if (errors.length > 0) throw new CliError("bad-input", errors);
  return rows;
}
