// Where the daemons' logs go and how they look (`--log-format json|text`), and the cause of a network error in them:
// the real `pooltuner controller` spawned against a kubeconfig whose API server is a closed loopback port.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { textLogLine } from "../../src/runtime/log-text.js";
import { createLogger } from "../../src/runtime/logger.js";
import { REPO, runCli } from "../integration/cli/run-cli.js";

const TOKEN = "tok-3c1d5e7f9a0b";
const PASSWORD = "pw-8e6d4c2b0a19";

let dir: string;
let kubeconfig: string;
let closed = 0;

beforeAll(async () => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const address = s.address();
  closed = typeof address === "object" && address ? address.port : 0;
  await new Promise((r) => s.close(r));
  dir = await mkdtemp(join(tmpdir(), "pt-logs-"));
  kubeconfig = join(dir, "kubeconfig");
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: `https://127.0.0.1:${closed}`, "insecure-skip-tls-verify": true } }],
      users: [{ name: "u", user: { token: TOKEN } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the controller until its stderr says `until`, then stops it with SIGINT; its output and exit code. */
async function controllerUntil(format: string, until: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    // tsx's loader in this process, not its CLI: the CLI relays a signal to its child and, when the child has not
    // said it got it within 30 ms (a loaded machine), kills it and exits 130 itself.
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "controller",
      "--kubeconfig",
      kubeconfig,
      "--mysql-url",
      `mysql://app:${PASSWORD}@127.0.0.1:1/`,
      "--http-port",
      "0",
      "--log-format",
      format,
    ],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString("utf8");
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = setTimeout(() => child.kill("SIGKILL"), 45_000);
  await new Promise<void>((resolve) => {
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
      if (stderr.includes(until)) resolve();
    });
    void exited.then(() => resolve());
  });
  child.kill("SIGINT");
  const code = await exited;
  clearTimeout(deadline);
  return { code, stdout, stderr };
}

describe("daemon logs", () => {
  it("json: JSON lines on stderr, nothing on stdout, the network error's cause, no token or password", async () => {
    const cause = `connect ECONNREFUSED 127.0.0.1:${closed}`;
    const r = await controllerUntil("json", cause);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: string });
    expect(records.some((x) => x.err === `fetch failed: ${cause}`)).toBe(true);
    expect(records.at(-1)?.msg).toBe("controller stopped");
    expect(r.stderr).not.toContain(TOKEN);
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it("text: one readable line per record on stderr", async () => {
    const cause = `connect ECONNREFUSED 127.0.0.1:${closed}`;
    const r = await controllerUntil("text", cause);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    for (const l of lines) {
      expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR) pooltuner-controller: \S/);
    }
    expect(lines.some((l) => l.includes(`err="fetch failed: ${cause}"`))).toBe(true);
    expect(r.stderr).not.toContain(TOKEN);
    expect(r.stderr).not.toContain(PASSWORD);
  });
});

describe("plan --kube against an unreachable API server", () => {
  it("exit 3, one line naming the cause", async () => {
    const r = await runCli(["plan", "--kube", "--kubeconfig", kubeconfig, "--max-connections", "20"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `error: cannot read workloads from cluster x: fetch failed: connect ECONNREFUSED 127.0.0.1:${closed}\n`,
    );
  });
});

describe("--log-format text lines", () => {
  it("quotes and escapes values a line could be forged or disguised with", () => {
    const line = textLogLine(
      JSON.stringify({
        level: 40,
        time: "2026-01-02T03:04:05.678Z",
        name: "pt",
        msg: "two\nlines",
        plain: "abc-1.2",
        spaced: "a b",
        forged: 'x\n2026-01-02T00:00:00.000Z INFO  pt: fake key="v"',
        bidi: "ab\u202Ecd",
        n: 3,
        list: ["a", "b"],
      }),
    );
    expect(line).toBe(
      '2026-01-02T03:04:05.678Z WARN  pt: two\\nlines plain=abc-1.2 spaced="a b" ' +
        'forged="x\\n2026-01-02T00:00:00.000Z INFO  pt: fake key=\\"v\\"" bidi="ab\\u202ecd" n=3 list=["a","b"]\n',
    );
    expect(line.split("\n")).toHaveLength(2);
  });

  it("shows what the logger redacted, redacted", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "text", destination: { write: (l: string) => lines.push(l) } });
    log.warn({ url: "mysql://u:secret-pw@db:3306/", database: "main" }, "probe failed");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ WARN {2}pooltuner: probe failed url=\[redacted\] database=main\n$/);
  });
});
