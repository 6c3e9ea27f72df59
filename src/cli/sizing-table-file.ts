// `--sizing-table <file>`: the server-size table as YAML or JSON rows (see sources/sizing-table-rows.ts),
// replacing the seed's default. A top-level `rows:` (or `sizingTable:`) list is accepted too.
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import type { SizingRow } from "../core/index.js";
import { parseSizingRows } from "../sources/sizing-table-rows.js";
import { CliError } from "./exit.js";

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export async function loadSizingTable(file: string): Promise<SizingRow[]> {
  const text = await readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => e);
  if (text instanceof Error) throw new CliError("bad-input", [`${file}: cannot read: ${text.code ?? text.message}`]);
  let data: unknown;
  try {
    data = parse(text);
  } catch (e) {
    throw new CliError("bad-input", [`${file}: invalid YAML/JSON: ${(e as Error).message.split("\n")[0]}`]);
  }
  const list = Array.isArray(data) ? data : isMap(data) ? (data.rows ?? data.sizingTable) : undefined;
  const { rows, errors } = parseSizingRows(list, file);
  if (errors.length > 0) throw new CliError("bad-input", errors);
  return rows;
}
