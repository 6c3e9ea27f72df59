// Hostile input to `plan` / `check`, which run as CI gates on untrusted pull requests (issue 10): the real CLI as a
// child process. Each case: exit 2 (bad input), ONE line on stderr, no stack trace, nothing secret and no file
// content in stdout+stderr, and done within a bounded time (the child is killed after BOUND_MS and the run rejects;
// timing figures themselves are in `npm run bench:parse`).
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCli } from "../integration/cli/run-cli.js";

const BOUND_MS = 45_000;
const SECRET = "hunter2-Sup3rSecret";

let dir: string;
let outside: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pooltuner-hostile-"));
  outside = await mkdtemp(join(tmpdir(), "pooltuner-outside-"));
  // A file a pull request must not be able to print: not KEY=VALUE lines with a secret in them.
  await writeFile(join(outside, "secret.env"), `root:${SECRET}:19000:0:99999:7:::\nDB_POOL_SIZE=1\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** The one-line bad-input contract; returns the line. */
function refusedInOneLine(r: CliRun, secrets: readonly string[] = [SECRET]): string {
  const all = `${r.stdout}${r.stderr}`;
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
  for (const s of secrets) expect(all).not.toContain(s);
  // Daemon logs share stderr (JSON records, checked above for secrets); the refusal is one line besides them.
  const lines = r.stderr
    .trimEnd()
    .split("\n")
    .filter((l) => !l.startsWith('{"level":'));
  expect(lines).toHaveLength(1);
  expect(r.code).toBe(2);
  return lines[0] as string;
}

const labels = (extra = "") =>
  `labels: { io.pooltuner.enabled: "true", io.pooltuner.workers: "2"${extra ? `, ${extra}` : ""} }`;

async function project(name: string, compose: string): Promise<string> {
  const p = join(dir, name);
  await mkdir(p, { recursive: true });
  await writeFile(join(p, "docker-compose.yml"), compose);
  return join(p, "docker-compose.yml");
}

const check = (file: string, ...flags: string[]) =>
  runCli(["check", file, "--max-connections", "20", "--unmanaged", "0", ...flags], {}, BOUND_MS);

describe("YAML that costs too much", { timeout: 120_000 }, () => {
  it("an alias bomb", async () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    const file = join(dir, "bomb.yml");
    await writeFile(file, `${levels.join("\n")}\nservices:\n  web:\n    image: x\n    ${labels()}\n    x: *h\n`);
    expect(refusedInOneLine(await check(file))).toMatch(/bomb\.yml: invalid YAML: aliases expand to too much data/);
  });

  it("a map of 60,000 keys (1 MB) is read in linear time; its duplicate key is still found", async () => {
    const keys = Array.from({ length: 60_000 }, (_, i) => `      K${i}: v${i}\n`).join("");
    const file = join(dir, "wide.yml");
    await writeFile(
      file,
      `services:\n  web:\n    image: x\n    ${labels()}\n    environment:\n${keys}      K7: again\n`,
    );
    expect(refusedInOneLine(await check(file))).toMatch(/wide\.yml:60006: invalid YAML: duplicate key "K7"/);
  });

  it("a file over the size cap, and the flag that sets it", async () => {
    const file = join(dir, "huge.yml");
    await writeFile(file, "");
    await truncate(file, 5 * 1024 * 1024);
    expect(refusedInOneLine(await check(file))).toBe(
      `error: ${file}: is 5 MiB, more than the 4 MiB allowed for an input file (raise it with --max-file-size)`,
    );
    const small = await project("small", `services:\n  web:\n    image: x\n    ${labels()}\n${"#".repeat(2000)}\n`);
    expect(refusedInOneLine(await check(small, "--max-file-size", "1KiB"))).toMatch(/more than the 1 KiB allowed/);
    expect(refusedInOneLine(await check(small, "--max-file-size", "1e300"))).toMatch(/--max-file-size must be a size/);
  });
});

describe("many files, each under the cap", { timeout: 120_000 }, () => {
  it("are capped together: the file that would go past is named, the rest are not read", async () => {
    const many = join(dir, "many");
    await mkdir(many);
    // 12 manifests of about 10 KiB each (a comment pads them): each far under --max-file-size, 120 KiB together.
    for (let i = 0; i < 12; i++) {
      const name = `m${String(i).padStart(2, "0")}.yaml`;
      await writeFile(
        join(many, name),
        `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c${i} }\n# ${"x".repeat(10 * 1024)}\n`,
      );
    }
    const line = refusedInOneLine(await check(many, "--max-total-size", "64KiB"));
    expect(line).toMatch(
      /^error: .*many\/m(0[0-9]|1[01])\.yaml: is not read: it would take the input past the 64 KiB allowed for all input files together \([\d.]+ KiB read so far; raise it with --max-total-size\); the \d+ files? after it (are|is) not read either$/,
    );
    // The default (64 MiB) reads them all; a bad value is a one-line flag error.
    expect((await check(many)).stderr).not.toMatch(/allowed for all input files/);
    expect(refusedInOneLine(await check(many, "--max-total-size", "2TiB"))).toMatch(
      /--max-total-size must be a size from 1KiB to 1GiB/,
    );
  });
});

describe("paths that are not regular files", { timeout: 120_000 }, () => {
  it("a FIFO, a device: refused without being opened", async () => {
    const fifo = join(dir, "pipe.yml");
    execFileSync("mkfifo", [fifo]);
    expect(refusedInOneLine(await check(fifo))).toBe(`error: ${fifo}: is a named pipe (FIFO), not a regular file`);
    expect(refusedInOneLine(await check("/dev/zero"))).toBe("error: /dev/zero: is a device, not a regular file");
  });

  it("a FIFO or a folder as env_file or --sizing-table", async () => {
    const file = await project(
      "fifo-env",
      `services:\n  web:\n    image: x\n    env_file: [pipe.env]\n    ${labels()}\n`,
    );
    execFileSync("mkfifo", [join(dir, "fifo-env", "pipe.env")]);
    expect(refusedInOneLine(await check(file))).toMatch(
      /env_file: .*pipe\.env is a named pipe \(FIFO\), not a regular/,
    );
    const folder = await project("dir-env", `services:\n  web:\n    image: x\n    env_file: sub\n    ${labels()}\n`);
    await mkdir(join(dir, "dir-env", "sub"));
    expect(refusedInOneLine(await check(folder))).toMatch(/env_file: .*sub is a folder, not a regular file/);
    const sizing = join(dir, "sizing-pipe.yml");
    execFileSync("mkfifo", [sizing]);
    expect(refusedInOneLine(await check(folder, "--sizing-table", sizing))).toMatch(
      /--sizing-table .*sizing-pipe\.yml: is a named pipe/,
    );
  });
});

describe("env_file outside the project folder", { timeout: 120_000 }, () => {
  it.each([
    ["an absolute path", (o: string) => join(o, "secret.env")],
    ["a relative path with ..", (o: string) => join("..", "..", o.split("/").pop() as string, "secret.env")],
  ])("%s is refused unless --allow-env-file-outside", async (_, path) => {
    const name = `out-${Math.random().toString(36).slice(2)}`;
    const file = await project(
      name,
      `services:\n  web:\n    image: x\n    env_file: ${path(outside)}\n    ${labels()}\n`,
    );
    expect(refusedInOneLine(await check(file))).toMatch(
      /env_file: .*secret\.env is outside the project folder .*: refused \(allow it with --allow-env-file-outside\)/,
    );
  });

  it("a symlink that resolves outside; with the flag, a bad line is named by number, never shown", async () => {
    const file = await project(
      "symlinked",
      `services:\n  web:\n    image: x\n    env_file: app.env\n    ${labels()}\n`,
    );
    await symlink(join(outside, "secret.env"), join(dir, "symlinked", "app.env"));
    expect(refusedInOneLine(await check(file))).toMatch(/app\.env resolves \(through a symlink\) outside the project/);
    const allowed = await check(file, "--allow-env-file-outside");
    expect(refusedInOneLine(allowed)).toBe(
      `error: ${join(dir, "symlinked", "app.env")}:1: service web: is not KEY=VALUE (content not shown)`,
    );
  });

  it("a .env symlinked outside is refused too", async () => {
    const file = await project("dotenv-link", `services:\n  web:\n    image: x\n    ${labels()}\n`);
    await symlink(join(outside, "secret.env"), join(dir, "dotenv-link", ".env"));
    expect(refusedInOneLine(await check(file))).toMatch(/\.env: resolves \(through a symlink\) outside the project/);
  });
});

describe("values that may be secrets are described, never printed", { timeout: 120_000 }, () => {
  it("a label interpolated from the CI environment", async () => {
    const file = await project(
      "interp",
      `services:\n  web:\n    image: x\n    ${labels(`io.pooltuner.weight: "\${CI_TOKEN}"`)}\n`,
    );
    const r = await runCli(["check", file, "--max-connections", "20"], { CI_TOKEN: SECRET }, BOUND_MS);
    expect(refusedInOneLine(r)).toMatch(/io\.pooltuner\.weight=<a 19-character value, not shown>: must be a number/);
  });

  it("a project name: and a database label interpolated from the CI environment", async () => {
    // A token that passes as a compose project name and as a database name alike.
    const token = `ghp_${SECRET.replace(/-/g, "")}`;
    const file = await project(
      "interp-names",
      `name: "\${CI_TOKEN}"\nservices:\n  web:\n    image: x\n    ${labels(`io.pooltuner.database: "\${DB_NAME}"`)}\n`,
    );
    const env = { CI_TOKEN: token, DB_NAME: token };
    for (const format of ["table", "json"]) {
      const r = await runCli(["plan", file, "--max-connections", "20", "-o", format], env, BOUND_MS);
      expect(r.code).toBe(0);
      const all = `${r.stdout}${r.stderr}`;
      for (const s of [token, token.toLowerCase(), SECRET]) expect(all).not.toContain(s);
      // Described by the variables they come from, and told why.
      expect(r.stdout).toContain("compose:env-ci_token/web");
      expect(all).toContain("env.DB_NAME");
      expect(all).toMatch(/io\.pooltuner\.database: comes from the environment \(\$DB_NAME\)/);
    }
    // A database the command line names itself is shown as it is named there; written defaults are the file's own.
    const named = await runCli(
      ["plan", file, "--max-connections", "orders=20", "-o", "json"],
      { CI_TOKEN: token, DB_NAME: "orders" },
      BOUND_MS,
    );
    expect(named.code).toBe(0);
    expect(JSON.parse(named.stdout).plan.workloads[0]).toMatchObject({ database: "orders" });
    expect(`${named.stdout}${named.stderr}`).not.toMatch(/comes from the environment/);
    const withDefault = await project(
      "interp-default",
      `name: "\${UNSET_NAME:-shop}"\nservices:\n  web:\n    image: x\n    ${labels()}\n`,
    );
    const plain = await runCli(["plan", withDefault, "--max-connections", "20"], {}, BOUND_MS);
    expect(plain.stdout).toContain("compose:shop/web");
  });

  it("workers-env naming a variable that holds a database URL", async () => {
    const url = `mysql://app:${SECRET}@db:3306/app`;
    const file = await project(
      "workers-url",
      `services:\n  web:\n    image: x\n    environment: { DATABASE_URL: "${url}" }\n    labels: { io.pooltuner.enabled: "true", io.pooltuner.workers-env: DATABASE_URL }\n`,
    );
    expect(refusedInOneLine(await check(file))).toMatch(/env DATABASE_URL=<a \d+-character value, not shown>: must be/);
  });
});

describe("numbers no workload can have", { timeout: 180_000 }, () => {
  it.each([
    ["deploy.replicas", "deploy: { replicas: 1e300 }", /deploy\.replicas: must be a whole number from 0 to 100000/],
    ["deploy.replicas", "deploy: { replicas: 999999999999 }", /deploy\.replicas: must be a whole number from 0/],
    [
      "GUNICORN_WORKERS",
      'environment: { GUNICORN_WORKERS: "99999999999999999999" }',
      /GUNICORN_WORKERS="99999999999999999999": must be a whole number of worker processes from 1 to 10000/,
    ],
    ["DB_POOL_SIZE", 'environment: { DB_POOL_SIZE: "-5" }', /DB_POOL_SIZE="-5": must be a whole number from -1/],
    ["memory", 'mem_limit: "9999999999g"', /mem_limit: must be at most 1Pi/],
  ])("%s: %s", async (_, field, expected) => {
    const name = `num-${Math.random().toString(36).slice(2)}`;
    const workers = field.includes("GUNICORN") ? "" : ', io.pooltuner.workers: "2"';
    const file = await project(
      name,
      `services:\n  web:\n    image: x\n    ${field}\n    labels: { io.pooltuner.enabled: "true"${workers} }\n`,
    );
    expect(refusedInOneLine(await check(file))).toMatch(expected);
  });

  it("an HPA with maxReplicas 1e300", async () => {
    const file = join(dir, "hpa.yaml");
    await writeFile(
      file,
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, annotations: { pooltuner.io/enabled: "true", pooltuner.io/workers: "2" } }
spec:
  replicas: 1
  template: { spec: { containers: [{ name: web, image: x }] } }
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: web }
spec: { scaleTargetRef: { kind: Deployment, name: web }, maxReplicas: 1e300 }
`,
    );
    expect(refusedInOneLine(await check(file))).toMatch(/spec\.maxReplicas: must be a whole number from 1 to 100000/);
  });

  it("--max-connections beyond what MySQL accepts", async () => {
    const file = await project("flag-big", `services:\n  web:\n    image: x\n    ${labels()}\n`);
    const r = await runCli(["check", file, "--max-connections", "999999999999"], {}, BOUND_MS);
    expect(refusedInOneLine(r)).toMatch(/max_connections must be a whole number from 0 to 100000/);
  });
});

describe("daemons: ports and durations", { timeout: 120_000 }, () => {
  let busy: Server;
  let busyPort: number;
  const kubeconfig = () => join(dir, "kubeconfig");
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "0.0.0.0", resolve));
    busyPort = (busy.address() as { port: number }).port;
    await writeFile(
      kubeconfig(),
      `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: u, user: { token: x } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`,
    );
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const url = `mysql://monitor:${SECRET}@127.0.0.1:1/`;

  it("compose: a port in use names the port and the flag", async () => {
    const r = await runCli(["compose", "--mysql-url", url, "--http-port", String(busyPort)], {}, BOUND_MS);
    expect(refusedInOneLine(r)).toBe(
      `error: --http-port ${busyPort}: port ${busyPort} is already in use; choose another with --http-port (0 turns the server off)`,
    );
  });

  it("controller: a port in use names the port and the flag", async () => {
    const args = ["controller", "--mysql-url", url, "--kubeconfig", kubeconfig(), "--no-leader-elect"];
    const r = await runCli([...args, "--http-port", String(busyPort)], {}, BOUND_MS);
    expect(refusedInOneLine(r)).toMatch(new RegExp(`--http-port ${busyPort}: port ${busyPort} is already in use`));
  });

  it.each([
    ["controller", "--poll-interval", "0", /--poll-interval: 0 is out of range: give from 100ms to 1d/],
    ["controller", "--lease-duration", "2147484s", /--lease-duration: 2147484s is out of range: give from 1s to 1h/],
    ["compose", "--cooldown", "25d", /--cooldown: 25d is out of range: give from 0 to 7d/],
    ["compose", "--settle", "soon", /--settle: "soon" is not a duration/],
    ["compose", "--http-port", "70000", /--http-port: "70000" must be a whole number from 0 to 65535/],
  ])("%s %s %s", async (command, flag, value, expected) => {
    const extra = command === "controller" ? ["--kubeconfig", kubeconfig()] : [];
    const r = await runCli([command, "--mysql-url", url, ...extra, flag, value], {}, BOUND_MS);
    expect(refusedInOneLine(r)).toMatch(expected);
  });
});
