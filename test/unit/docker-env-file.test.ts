import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { envFilePath, readEnvFile, restoreEnvFile, withValues, writeEnvFileAtomic } from "../../src/docker/env-file.js";
import { parseEnvFile } from "../../src/sources/dotenv.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("envFilePath", () => {
  const loc = { dir: ".pooltuner", pathMap: [] as [string, string][] };
  it("puts the file under the project directory, one per service", () => {
    expect(envFilePath("/srv/lineage", "app", loc)).toBe("/srv/lineage/.pooltuner/app.env");
  });
  it("maps the host path to where a containerised daemon sees it", () => {
    expect(envFilePath("/srv/lineage", "app", { ...loc, pathMap: [["/srv", "/project"]] })).toBe(
      "/project/lineage/.pooltuner/app.env",
    );
    expect(envFilePath("/srvx/lineage", "app", { ...loc, pathMap: [["/srv", "/project"]] })).toBe(
      "/srvx/lineage/.pooltuner/app.env",
    );
  });
  it("uses the mounted project directory of a sidecar, whatever the host path", () => {
    expect(envFilePath("/home/me/lineage", "app", { ...loc, projectDir: "/project" })).toBe(
      "/project/.pooltuner/app.env",
    );
    expect(envFilePath(undefined, "app", { ...loc, projectDir: "/project" })).toBe("/project/.pooltuner/app.env");
  });
  it("has no file without a project directory or service", () => {
    expect(envFilePath(undefined, "app", loc)).toBeUndefined();
    expect(envFilePath("relative", "app", loc)).toBeUndefined();
    expect(envFilePath("/srv", undefined, loc)).toBeUndefined();
  });
});

describe("withValues", () => {
  it("writes a new file with a header that compose's env_file parser reads back", () => {
    const text = withValues(undefined, { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "1" });
    expect(text.startsWith("# Written by pooltuner")).toBe(true);
    expect(Object.fromEntries(parseEnvFile(text).vars)).toEqual({
      LINEAGE_DB_POOL_SIZE: "1",
      LINEAGE_DB_MAX_OVERFLOW: "1",
    });
  });
  it("keeps other lines and comments, replaces in place, drops a duplicate key", () => {
    const before = "# mine\nOTHER=x\nLINEAGE_DB_POOL_SIZE=2\nexport LINEAGE_DB_POOL_SIZE=9\n";
    expect(withValues(before, { LINEAGE_DB_POOL_SIZE: "1", LINEAGE_DB_MAX_OVERFLOW: "0" })).toBe(
      "# mine\nOTHER=x\nLINEAGE_DB_POOL_SIZE=1\nLINEAGE_DB_MAX_OVERFLOW=0\n",
    );
  });
});

describe("writeEnvFileAtomic / restoreEnvFile", () => {
  it("creates the directory, leaves no temp file, and restores or removes on rollback", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pooltuner-envfile-"));
    dirs.push(dir);
    const path = join(dir, ".pooltuner", "app.env");
    await writeEnvFileAtomic(path, "A=1\n");
    expect(await readFile(path, "utf8")).toBe("A=1\n");
    expect(await readdir(join(dir, ".pooltuner"))).toEqual(["app.env"]);
    await restoreEnvFile(path, undefined);
    expect(await readEnvFile(path)).toBeUndefined();
    await writeFile(path, "B=2\n");
    await writeEnvFileAtomic(path, "B=3\n");
    await restoreEnvFile(path, "B=2\n");
    expect(await readFile(path, "utf8")).toBe("B=2\n");
  });

  it("as root, gives the new directory and file the project directory's owner", async () => {
    expect(process.getuid?.()).toBe(0); // the suite runs as root (preamble); the sidecar does too
    const dir = await mkdtemp(join(tmpdir(), "pooltuner-envfile-"));
    dirs.push(dir);
    const project = join(dir, "project");
    await mkdir(project);
    await chown(project, 1234, 2345);
    const path = join(project, ".pooltuner", "app.env");
    await writeEnvFileAtomic(path, "A=1\n");
    for (const p of [path, join(project, ".pooltuner")]) {
      const st = await stat(p);
      expect([st.uid, st.gid]).toEqual([1234, 2345]);
    }
  });
});
