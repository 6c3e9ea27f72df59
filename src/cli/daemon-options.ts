// What `pooltuner controller` and `pooltuner compose` read the same way: the databases (a config file, or
// --mysql-url for a quick start), durations and counts. Errors are CliError("bad-input") naming the flag.
import { readFile } from "node:fs/promises";
import { DEFAULT_POLICY } from "../core/index.js";
import { type DaemonConfig, loadConfig } from "../runtime/config.js";
import { CliError } from "./exit.js";

export async function daemonConfig(
  flags: { readonly config?: string; readonly mysqlUrl: readonly string[] },
  env: NodeJS.ProcessEnv,
): Promise<DaemonConfig> {
  const file = flags.config ?? env.POOLTUNER_CONFIG;
  const urls = flags.mysqlUrl.length > 0 ? flags.mysqlUrl : env.POOLTUNER_MYSQL_URL ? [env.POOLTUNER_MYSQL_URL] : [];
  if (file && flags.mysqlUrl.length > 0) throw new CliError("bad-input", ["give --config or --mysql-url, not both"]);
  if (file) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new CliError("bad-input", [`cannot read --config ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`]);
    }
    try {
      return await loadConfig(text, file, env);
    } catch (err) {
      throw new CliError("bad-input", [(err as Error).message]);
    }
  }
  if (urls.length === 0) {
    throw new CliError("bad-input", [
      "no database: give --config <file> (or env POOLTUNER_CONFIG), or --mysql-url (or env POOLTUNER_MYSQL_URL)",
    ]);
  }
  const databases = urls.map((u) => {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)=(.+)$/s.exec(u);
    return m && !m[1]?.includes(":") ? { name: m[1] as string, url: m[2] as string } : { name: "default", url: u };
  });
  const names = databases.map((d) => d.name);
  if (new Set(names).size !== names.length) {
    throw new CliError("bad-input", ["--mysql-url: each database needs its own name (name=url)"]);
  }
  return { databases, policy: DEFAULT_POLICY };
}

/** `500ms`, `15s`, `10m`, `1h`; a bare number is seconds. */
export function duration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new CliError("bad-input", [`${flag}: "${text}" is not a duration (e.g. 500ms, 15s, 10m, 1h)`]);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Math.round(n * unit);
}

/** A whole number >= 0. */
export function count(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim())) throw new CliError("bad-input", [`${flag}: "${text}" must be a whole number >= 0`]);
  return Number(text);
}
