import { execFileSync } from "node:child_process";
import { chmod, chown, link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  envFilePath,
  envFileRef,
  readEnvFile,
  restoreEnvFile,
  withValues,
  writeEnvFileAtomic,
} from "../../src/docker/env-file.js";
import { composeProjectProblem } from "../../src/docker/project-dir.js";
import { parseEnvFile } from "../../src/sources/dotenv.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("envFilePath", () => {
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

const loc = { dir: ".pooltuner", pathMap: [] as [string, string][] };
async function tempProject(): Promise<{ dir: string; project: string }> {
  const dir = await mkdtemp(join(tmpdir(), "pooltuner-envfile-"));
  dirs.push(dir);
  const project = join(dir, "project");
  await mkdir(project);
  return { dir, project };
}
const refIn = (project: string, over = {}) =>
  envFileRef(project, "app", { ...loc, ...over }) as NonNullable<ReturnType<typeof envFileRef>>;

describe("writeEnvFileAtomic / restoreEnvFile", () => {
  it("creates the directory, leaves no temp file, and restores or removes on rollback", async () => {
    const { project } = await tempProject();
    const ref = refIn(project);
    const path = join(project, ".pooltuner", "app.env");
    expect(ref.path).toBe(path);
    await writeEnvFileAtomic(ref, "A=1\n");
    expect(await readFile(path, "utf8")).toBe("A=1\n");
    expect(await readdir(join(project, ".pooltuner"))).toEqual(["app.env"]);
    await restoreEnvFile(ref, undefined);
    expect(await readEnvFile(ref)).toBeUndefined();
    await writeFile(path, "B=2\n");
    await writeEnvFileAtomic(ref, "B=3\n");
    await restoreEnvFile(ref, "B=2\n");
    expect(await readFile(path, "utf8")).toBe("B=2\n");
  });

  it("as root, gives the new directory and file the project directory's owner", async () => {
    expect(process.getuid?.()).toBe(0); // the suite runs as root (preamble); the sidecar does too
    const { project } = await tempProject();
    await chown(project, 1234, 2345);
    await writeEnvFileAtomic(refIn(project), "A=1\n");
    for (const p of [join(project, ".pooltuner", "app.env"), join(project, ".pooltuner")]) {
      const st = await stat(p);
      expect([st.uid, st.gid]).toEqual([1234, 2345]);
    }
  });
});

// The project directory belongs to a user; the daemon is root. Nothing the user plants may redirect it.
describe("env files in a hostile project directory", () => {
  /** A root-only file outside the project, like /etc/shadow. */
  async function secretOutside(dir: string): Promise<string> {
    const secret = join(dir, "shadow");
    await writeFile(secret, "root:$6$secret-hash:19000:0:99999:7:::\n");
    await chmod(secret, 0o600);
    return secret;
  }
  /** Every file under `dir` whose text contains the secret, except the secret itself. */
  function copiesOf(dir: string, secret: string): string[] {
    const out = execFileSync("grep", ["-rl", "secret-hash", dir], { encoding: "utf8" }).trim().split("\n");
    return out.filter((f) => f !== "" && f !== secret);
  }

  it("refuses an env file that is a symbolic link (to /etc/shadow, say): never read, copied or written through", async () => {
    const { dir, project } = await tempProject();
    const secret = await secretOutside(dir);
    await mkdir(join(project, ".pooltuner"));
    await symlink(secret, join(project, ".pooltuner", "app.env"));
    const ref = refIn(project);
    await expect(readEnvFile(ref)).rejects.toThrow("app.env is a symbolic link; refused");
    await expect(writeEnvFileAtomic(ref, withValues(undefined, { A: "1" }))).rejects.toThrow(
      "app.env is a symbolic link; refused",
    );
    await expect(restoreEnvFile(ref, undefined)).rejects.toThrow("is a symbolic link; refused");
    expect(await readFile(secret, "utf8")).toContain("secret-hash");
    expect((await stat(secret)).mode & 0o777).toBe(0o600);
    expect(copiesOf(dir, secret)).toEqual([]);
    expect(await readdir(join(project, ".pooltuner"))).toEqual(["app.env"]); // no temp file left
  });

  it("refuses a hard link to another file, a FIFO and a directory in the env file's place", async () => {
    const { dir, project } = await tempProject();
    const secret = await secretOutside(dir);
    await mkdir(join(project, ".pooltuner"));
    await link(secret, join(project, ".pooltuner", "app.env"));
    await expect(readEnvFile(refIn(project))).rejects.toThrow("app.env has other hard links; refused");
    await expect(writeEnvFileAtomic(refIn(project), "A=1\n")).rejects.toThrow("has other hard links; refused");
    expect(copiesOf(dir, secret)).toEqual([join(project, ".pooltuner", "app.env")]); // the link itself, untouched
    await rm(join(project, ".pooltuner", "app.env"));
    execFileSync("mkfifo", [join(project, ".pooltuner", "app.env")]);
    await expect(readEnvFile(refIn(project))).rejects.toThrow("app.env is not a regular file; refused");
    await rm(join(project, ".pooltuner", "app.env"));
    await mkdir(join(project, ".pooltuner", "app.env"));
    await expect(writeEnvFileAtomic(refIn(project), "A=1\n")).rejects.toThrow("is not a regular file; refused");
  });

  it("refuses a .pooltuner directory that is a symbolic link, and a directory outside the project", async () => {
    const { dir, project } = await tempProject();
    const elsewhere = join(dir, "elsewhere");
    await mkdir(elsewhere);
    await symlink(elsewhere, join(project, ".pooltuner"));
    await expect(writeEnvFileAtomic(refIn(project), "A=1\n")).rejects.toThrow(".pooltuner is a symbolic link; refused");
    await expect(readEnvFile(refIn(project))).rejects.toThrow(".pooltuner is a symbolic link; refused");
    // A symlink further down the path (--env-dir a/b with `a` planted as a link) is refused the same way.
    await mkdir(join(project, "a"));
    await symlink(elsewhere, join(project, "a", "b"));
    await expect(writeEnvFileAtomic(refIn(project, { dir: "a/b/c" }), "A=1\n")).rejects.toThrow(
      "b is a symbolic link; refused",
    );
    await expect(writeEnvFileAtomic(refIn(project, { dir: "../elsewhere" }), "A=1\n")).rejects.toThrow(
      "outside the project directory",
    );
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it("writes through a project directory that is itself reached by a symlink (the user's own layout)", async () => {
    const { dir, project } = await tempProject();
    await symlink(project, join(dir, "link-to-project"));
    await writeEnvFileAtomic(refIn(join(dir, "link-to-project")), "A=1\n");
    expect(await readFile(join(project, ".pooltuner", "app.env"), "utf8")).toBe("A=1\n");
  });
});

describe("composeProjectProblem: only the directory of a compose project that defines the service", () => {
  const project = (workingDir: string, configFiles: string, service = "app") => ({ workingDir, configFiles, service });

  it("accepts a project directory whose compose file defines the service", async () => {
    const { project: dir } = await tempProject();
    await writeFile(join(dir, "compose.yaml"), "services:\n  app:\n    image: x\n");
    expect(await composeProjectProblem(project(dir, join(dir, "compose.yaml")), loc)).toBeUndefined();
    // A sidecar sees the project mounted elsewhere: the host paths of the labels are mapped under --project-dir.
    expect(
      await composeProjectProblem(project("/home/me/lineage", "/home/me/lineage/compose.yaml"), {
        ...loc,
        projectDir: dir,
      }),
    ).toBeUndefined();
  });

  it("accepts Compose 1.x's labels: config_files relative to the directory docker-compose ran in (not named)", async () => {
    const { project: dir } = await tempProject();
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "docker-compose.yml"), "services:\n  app:\n    image: x\n");
    await writeFile(join(dir, "sub", "other.yml"), "services:\n  app:\n    image: x\n");
    // As docker-compose 1.29 labels them: run in the project directory, in a subdirectory of it (the file found
    // in the parent), from its parent with --project-directory, and with -f from elsewhere.
    for (const files of ["docker-compose.yml", "../docker-compose.yml", "lineage/docker-compose.yml"]) {
      expect(await composeProjectProblem(project(dir, files), loc)).toBeUndefined();
    }
    expect(await composeProjectProblem(project(join(dir, "sub"), "tmp/lineage/sub/other.yml"), loc)).toBeUndefined();
    // ... and still only a file inside the project directory that defines the service.
    expect(await composeProjectProblem(project(join(dir, "sub"), "../docker-compose.yml"), loc)).toMatch(
      /defines the service app/,
    );
    expect(await composeProjectProblem(project(dir, "docker-compose.yml", "web"), loc)).toMatch(
      /defines the service web/,
    );
  });

  it("refuses labels that only claim a project: no compose file, another service, a file outside, a link out", async () => {
    const { dir, project: root } = await tempProject();
    const etc = join(dir, "etc"); // a container labelled working_dir=/etc
    await mkdir(etc);
    expect(await composeProjectProblem(project(etc, join(etc, "compose.yaml")), loc)).toMatch(
      /^no compose file inside .* defines the service app/,
    );
    expect(await composeProjectProblem({ workingDir: etc, service: "app" }, loc)).toMatch(
      /do not name a compose project/,
    );
    await writeFile(join(root, "compose.yaml"), "services:\n  web:\n    image: x\n");
    expect(await composeProjectProblem(project(root, join(root, "compose.yaml")), loc)).toMatch(
      /defines the service app/,
    );
    await writeFile(join(dir, "outside.yaml"), "services:\n  app:\n    image: x\n");
    expect(await composeProjectProblem(project(etc, join(dir, "outside.yaml")), loc)).toMatch(
      /defines the service app/,
    );
    await symlink(join(dir, "outside.yaml"), join(etc, "compose.yaml"));
    expect(await composeProjectProblem(project(etc, join(etc, "compose.yaml")), loc)).toMatch(
      /defines the service app/,
    );
    expect(await composeProjectProblem(project(join(dir, "missing"), join(dir, "missing", "c.yaml")), loc)).toMatch(
      /does not exist here/,
    );
  });
});
