// Where the test bed keeps a binary it built (kubectl, helm, promtool, ...): `kube.sh bin NAME`. A binary that is
// not there fails the caller with the command that builds it, never a skip.
import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

export async function testBedBinary(name: string): Promise<string> {
  const { stdout } = await run("bash", [join(REPO, "scripts/testbed/kube.sh"), "bin", name]);
  const path = stdout.trim();
  try {
    await access(path, constants.X_OK);
  } catch {
    const build = name === "promtool" ? "build-promtool" : name === "compose" ? "build-compose" : "build";
    throw new Error(`${name} is not built (no executable at ${path}); run: bash scripts/testbed/kube.sh ${build}`);
  }
  return path;
}
