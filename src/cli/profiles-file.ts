// `--profiles <file>`: custom application profiles for plan/check, the same list as the configuration file's
// `profiles:` (src/runtime/config.ts), as YAML or JSON; a top-level `profiles:` key is accepted too.
import { parseProfiles } from "../runtime/config.js";
import { type ReadLimits, readInputFile } from "../sources/input-file.js";
import { parseYamlDocuments } from "../sources/parse-yaml.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { CliError } from "./exit.js";

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export async function loadProfiles(file: string, limits: ReadLimits): Promise<ProfileRegistry> {
  const read = await readInputFile(file, limits);
  if (!read.ok) throw new CliError("bad-input", [`--profiles ${file}: ${read.message}`]);
  const parsed = parseYamlDocuments(read.text);
  if ("error" in parsed) {
    const { line, message } = parsed.error;
    throw new CliError("bad-input", [`--profiles ${file}${line === undefined ? "" : `:${line}`}: ${message}`]);
  }
  const docs = parsed.docs.filter((d) => d !== null && d !== undefined);
  if (docs.length > 1) throw new CliError("bad-input", [`--profiles ${file}: must hold one document`]);
  const data = docs[0];
  const r = parseProfiles(isMap(data) ? data.profiles : data, `--profiles ${file}`);
  if ("error" in r) throw new CliError("bad-input", [r.error]);
  return r.profiles;
}
