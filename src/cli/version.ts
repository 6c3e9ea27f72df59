// pooltuner's version, from its package.json (for --version, reports and pooltuner_build_info).
import { readFileSync } from "node:fs";

export function version(): string {
  // src/cli/ and dist/cli/ both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}
