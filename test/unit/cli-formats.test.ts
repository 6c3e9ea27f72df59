// `-o yaml|junit|sarif|patch` and `-` for standard input, through the real CLI spawned as a process. The XML is read back
// by an independent parser (Python's xml.etree, i.e. expat); the SARIF is checked field by field against the
// SARIF 2.1.0 schema's required and allowed properties, written out here from the spec, not from our renderer.
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type CliRun, REPO, runCli } from "../integration/cli/run-cli.js";

const COMPOSE = "examples/lineage/docker-compose.yml";
const TSX_CLI = join(REPO, "node_modules/tsx/dist/cli.mjs");
const OFFLINE = ["--max-connections", "20", "--unmanaged", "0"];
/** The hostile file's two databases. */
const TWO = ["main", "other"].flatMap((d) => ["--max-connections", `${d}=20`, "--unmanaged", `${d}=0`]);

interface XmlNode {
  tag: string;
  attrib: Record<string, string>;
  text: string;
  children: XmlNode[];
}

/** The document as expat reads it; rejects on any XML that is not well-formed. */
async function parseXml(xml: string): Promise<XmlNode> {
  const script = `
import json, sys, xml.etree.ElementTree as ET
def node(e):
    return {"tag": e.tag, "attrib": dict(e.attrib), "text": e.text or "", "children": [node(c) for c in e]}
print(json.dumps(node(ET.fromstring(sys.stdin.buffer.read()))))
`;
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", script], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString("utf8");
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as XmlNode) : reject(new Error(err))));
    child.stdin.end(xml, "utf8");
  });
}

let dir: string;
let hostile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pt-formats-"));
  // Every character XML or a CI page could trip over, in a folder name (the project) and a service name.
  const project = join(dir, "pr&<x>");
  await mkdir(project);
  hostile = join(project, "docker-compose.yml");
  await writeFile(
    hostile,
    `services:
  "w<&\\"'>\\x01\\u202e\\r":
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.workers: "2", io.pooltuner.database: main }
    environment: { DB_POOL_SIZE: "0", DB_URL: "mysql://app:hunter2-secret@db:3306/app" }
  calm:
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.workers: "1", io.pooltuner.database: other }
    environment: { DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "0" }
`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("-o junit", { timeout: 120_000 }, () => {
  it("one testsuite for the command, one testcase per workload, the error finding as its failure", async () => {
    const r = await runCli(["check", COMPOSE, ...OFFLINE, "-o", "junit"]);
    expect(r.code).toBe(1);
    const root = await parseXml(r.stdout);
    expect(root.tag).toBe("testsuites");
    expect(root.children.map((c) => [c.tag, c.attrib.name])).toEqual([["testsuite", "pooltuner check"]]);
    const suite = root.children[0] as XmlNode;
    const cases = suite.children.filter((c) => c.tag === "testcase");
    expect(cases.map((c) => c.attrib.name)).toEqual(["compose:lineage/app"]);
    expect(cases[0]?.attrib.file).toBe(COMPOSE);
    const appLine = (await readFile(join(REPO, COMPOSE), "utf8")).split("\n").indexOf("  app:") + 1;
    expect(cases[0]?.attrib.line).toBe(String(appLine));
    const failure = cases[0]?.children.find((c) => c.tag === "failure");
    expect(failure?.attrib.type).toBe("current-exceeds");
    expect(failure?.attrib.message).toBe(
      "database lineage: current settings can open 40 connections at peak, 18 available",
    );
    expect([suite.attrib.tests, suite.attrib.failures, root.attrib.tests, root.attrib.failures]).toEqual([
      "1",
      "1",
      "1",
      "1",
    ]);
  });

  it("passes: testcases without failures when the server is large enough", async () => {
    const r = await runCli(["check", COMPOSE, "--max-connections", "200", "--unmanaged", "0", "-o", "junit"]);
    expect(r.code).toBe(0);
    const suite = (await parseXml(r.stdout)).children[0] as XmlNode;
    expect(suite.attrib.failures).toBe("0");
    expect(suite.children.flatMap((c) => c.children).filter((c) => c.tag === "failure")).toEqual([]);
  });

  it("escapes names that are markup, controls or bidi characters; shows no secret", async () => {
    const r = await runCli(["check", hostile, ...TWO, "-o", "junit"]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("hunter2-secret");
    const suite = (await parseXml(r.stdout)).children[0] as XmlNode;
    const names = suite.children.filter((c) => c.tag === "testcase").map((c) => c.attrib.name);
    // The parser gives back the markup characters as they were; the control, CR and U+202E as visible escapes.
    expect(names.sort()).toEqual(["compose:prx/calm", "compose:prx/w<&\"'>\\u{1}\\u{202e}\\u{d}"]);
    const unsafe = suite.children.find((c) => c.attrib.name?.startsWith("compose:prx/w"));
    expect(unsafe?.attrib.file).toBe(hostile);
    expect(unsafe?.children.find((c) => c.tag === "failure")?.attrib.type).toBe("current-exceeds");
    const calm = suite.children.find((c) => c.attrib.name === "compose:prx/calm");
    expect(calm?.children.filter((c) => c.tag === "failure")).toEqual([]);
  });

  it("bad input: one testcase with an <error>, exit 2, the error on stderr too", async () => {
    const r = await runCli(["check", join(dir, "missing<&>.yml"), ...OFFLINE, "-o", "junit"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing<&>.yml: no such file or folder");
    const suite = (await parseXml(r.stdout)).children[0] as XmlNode;
    expect(suite.attrib.errors).toBe("1");
    const error = suite.children[0]?.children[0];
    expect(error?.tag).toBe("error");
    expect(error?.attrib.message).toBe(`${join(dir, "missing<&>.yml")}: no such file or folder`);
  });
});

// ---- SARIF 2.1.0: required and allowed properties of the objects a log of ours may hold (OASIS SARIF 2.1.0, §3).
type Json = Record<string, unknown>;
const SPEC: Record<string, { required: string[]; allowed: string[] }> = {
  sarifLog: {
    required: ["version", "runs"],
    allowed: ["$schema", "version", "runs", "inlineExternalProperties", "properties"],
  },
  run: {
    required: ["tool"],
    allowed: ["tool", "results", "invocations", "artifacts", "originalUriBaseIds", "properties"],
  },
  tool: { required: ["driver"], allowed: ["driver", "extensions", "properties"] },
  toolComponent: {
    required: ["name"],
    allowed: [
      "name",
      "version",
      "semanticVersion",
      "informationUri",
      "rules",
      "fullName",
      "organization",
      "properties",
    ],
  },
  reportingDescriptor: {
    required: ["id"],
    allowed: [
      "id",
      "name",
      "shortDescription",
      "fullDescription",
      "help",
      "helpUri",
      "defaultConfiguration",
      "properties",
    ],
  },
  multiformatMessageString: { required: ["text"], allowed: ["text", "markdown", "properties"] },
  result: {
    required: ["message"],
    allowed: [
      "ruleId",
      "ruleIndex",
      "rule",
      "kind",
      "level",
      "message",
      "locations",
      "partialFingerprints",
      "properties",
    ],
  },
  message: { required: [], allowed: ["text", "markdown", "id", "arguments", "properties"] },
  location: {
    required: [],
    allowed: ["id", "physicalLocation", "logicalLocations", "message", "annotations", "properties"],
  },
  physicalLocation: { required: [], allowed: ["address", "artifactLocation", "region", "contextRegion", "properties"] },
  artifactLocation: { required: [], allowed: ["uri", "uriBaseId", "index", "description", "properties"] },
  region: { required: [], allowed: ["startLine", "startColumn", "endLine", "endColumn", "properties"] },
  logicalLocation: {
    required: [],
    allowed: ["name", "index", "fullyQualifiedName", "decoratedName", "parentIndex", "kind", "properties"],
  },
};

function conforms(o: unknown, type: string, at: string, problems: string[]): Json {
  const spec = SPEC[type] as { required: string[]; allowed: string[] };
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    problems.push(`${at}: not an object`);
    return {};
  }
  const obj = o as Json;
  for (const k of spec.required) if (!(k in obj)) problems.push(`${at}: missing ${k}`);
  for (const k of Object.keys(obj))
    if (!spec.allowed.includes(k)) problems.push(`${at}: ${k} is not a ${type} property`);
  return obj;
}

/** Every problem with `log` as a SARIF 2.1.0 log; [] when it conforms. */
function sarifProblems(log: unknown): string[] {
  const p: string[] = [];
  const root = conforms(log, "sarifLog", "log", p);
  if (root.version !== "2.1.0") p.push("log.version is not 2.1.0");
  if (!Array.isArray(root.runs) || root.runs.length === 0) return [...p, "log.runs is not a non-empty array"];
  root.runs.forEach((r, i) => {
    const run = conforms(r, "run", `runs[${i}]`, p);
    const driver = conforms(conforms(run.tool, "tool", "tool", p).driver, "toolComponent", "driver", p);
    if (typeof driver.name !== "string" || driver.name === "") p.push("driver.name is not a non-empty string");
    const rules = (Array.isArray(driver.rules) ? driver.rules : []).map((x, j) => {
      const rule = conforms(x, "reportingDescriptor", `rules[${j}]`, p);
      if (rule.shortDescription !== undefined)
        conforms(rule.shortDescription, "multiformatMessageString", "rule.shortDescription", p);
      return rule.id;
    });
    if (new Set(rules).size !== rules.length) p.push("rule ids are not unique");
    (Array.isArray(run.results) ? run.results : []).forEach((x, j) => {
      const at = `results[${j}]`;
      const result = conforms(x, "result", at, p);
      const message = conforms(result.message, "message", `${at}.message`, p);
      if (typeof message.text !== "string" && typeof message.id !== "string") p.push(`${at}.message has no text or id`);
      if (!["none", "note", "warning", "error", undefined].includes(result.level as string)) p.push(`${at}.level`);
      if (typeof result.ruleId !== "string" || !rules.includes(result.ruleId)) p.push(`${at}.ruleId is not a rule`);
      for (const l of (result.locations as unknown[] | undefined) ?? []) {
        const loc = conforms(l, "location", `${at}.location`, p);
        if (loc.physicalLocation !== undefined) {
          const phys = conforms(loc.physicalLocation, "physicalLocation", `${at}.physicalLocation`, p);
          if (!("address" in phys) && !("artifactLocation" in phys))
            p.push(`${at}: physicalLocation needs one of address, artifactLocation`);
          const art = conforms(phys.artifactLocation, "artifactLocation", `${at}.artifactLocation`, p);
          if (typeof art.uri !== "string" || !URL.canParse(art.uri, "file:///base/"))
            p.push(`${at}: uri is not a URI reference`);
          if (phys.region !== undefined) conforms(phys.region, "region", `${at}.region`, p);
        }
        for (const ll of (loc.logicalLocations as unknown[] | undefined) ?? [])
          conforms(ll, "logicalLocation", `${at}.logicalLocation`, p);
      }
    });
  });
  return p;
}

describe("-o sarif", { timeout: 120_000 }, () => {
  it("is a SARIF 2.1.0 log: ruleId = finding kind, levels, the input file as location", async () => {
    const r = await runCli(["check", COMPOSE, "--max-connections", "20", "-o", "sarif"]);
    expect(r.code).toBe(1);
    const log = JSON.parse(r.stdout) as { runs: { results: Json[] }[] };
    expect(sarifProblems(log)).toEqual([]);
    const results = log.runs[0]?.results ?? [];
    const exceeds = results.find((x) => x.ruleId === "current-exceeds") as Json & { locations: Json[] };
    expect(exceeds.level).toBe("error");
    // The service's key, found in the file's text.
    const appLine = (await readFile(join(REPO, COMPOSE), "utf8")).split("\n").indexOf("  app:") + 1;
    expect(appLine).toBeGreaterThan(0);
    expect(exceeds.locations[0]).toEqual({
      physicalLocation: { artifactLocation: { uri: COMPOSE }, region: { startLine: appLine } },
      logicalLocations: [{ name: "service app", fullyQualifiedName: "compose:lineage/app", kind: "resource" }],
    });
    // --unmanaged not given: an assumption, a warning.
    expect(results.find((x) => x.ruleId === "unseen-unmanaged")?.level).toBe("warning");
  });

  it("an absolute path with markup characters is a file: URL that resolves back to the file; no secret shown", async () => {
    const r = await runCli(["check", hostile, ...TWO, "-o", "sarif"]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("hunter2-secret");
    const log = JSON.parse(r.stdout) as { runs: { results: { locations?: Json[] }[] }[] };
    expect(sarifProblems(log)).toEqual([]);
    const uris = (log.runs[0]?.results ?? []).flatMap((x) =>
      (x.locations ?? []).map(
        (l) => (l as { physicalLocation: { artifactLocation: { uri: string } } }).physicalLocation.artifactLocation.uri,
      ),
    );
    expect(uris.length).toBeGreaterThan(0);
    for (const uri of uris) expect(decodeURIComponent(new URL(uri).pathname)).toBe(hostile);
  });

  it("points at the line a manifest's document starts on", async () => {
    const file = join(dir, "shop.yaml");
    const deployment = (name: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: shop
  annotations: { pooltuner.io/enabled: "true", pooltuner.io/workers: "2" }
spec:
  replicas: 3
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: ${name}
          image: x
          env: [{ name: DB_POOL_SIZE, value: "0" }]
`;
    // The first document is a ConfigMap (not a workload): the second starts after it and its separator.
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c, namespace: shop }\n---\n${deployment("web")}---\n${deployment("api")}`;
    await writeFile(file, text);
    const starts = text.split("\n").flatMap((l, i) => (l === "apiVersion: apps/v1" ? [i + 1] : []));
    expect(starts).toHaveLength(2);
    const r = await runCli(["check", file, ...OFFLINE, "-o", "sarif"]);
    expect(r.code).toBe(1);
    const log = JSON.parse(r.stdout) as { runs: { results: { ruleId: string; locations?: Json[] }[] }[] };
    expect(sarifProblems(log)).toEqual([]);
    const lineOf = (id: string) =>
      (log.runs[0]?.results ?? [])
        .flatMap((x) => x.locations ?? [])
        .map((l) => l as { physicalLocation: { region?: { startLine: number } }; logicalLocations: Json[] })
        .find((l) => l.logicalLocations[0]?.fullyQualifiedName === id)?.physicalLocation.region?.startLine;
    expect([lineOf("kube:shop/Deployment/web"), lineOf("kube:shop/Deployment/api")]).toEqual(starts);
  });

  it("bad input is an error result per line, exit 2", async () => {
    const r = await runCli(["check", join(dir, "missing.yml"), ...OFFLINE, "-o", "sarif"]);
    expect(r.code).toBe(2);
    const log = JSON.parse(r.stdout) as { runs: { results: Json[] }[] };
    expect(sarifProblems(log)).toEqual([]);
    expect(log.runs[0]?.results).toEqual([
      { ruleId: "bad-input", level: "error", message: { text: `${join(dir, "missing.yml")}: no such file or folder` } },
    ]);
  });
});

describe("-o yaml", { timeout: 120_000 }, () => {
  it("holds the same document as -o json", async () => {
    const [y, j] = await Promise.all([
      runCli(["plan", COMPOSE, ...OFFLINE, "-o", "yaml"]),
      runCli(["plan", COMPOSE, ...OFFLINE, "-o", "json"]),
    ]);
    expect([y.code, j.code]).toEqual([0, 0]);
    expect(parseYaml(y.stdout)).toEqual(JSON.parse(j.stdout));
  });
});

// ---- `-` for standard input.
const execFileP = promisify(execFile);

/** The CLI with `input` piped to its standard input. */
function withStdin(args: string[], input: string | Buffer, cwd = REPO): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, join(REPO, "src/cli/main.ts"), ...args], { cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === null) reject(new Error(`killed: ${stderr}`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => {}); // the CLI may stop reading at the cap
    child.stdin.end(input);
  });
}

describe("- reads standard input", { timeout: 120_000 }, () => {
  it("gives the plan the file gives; relative env files resolve against the current directory", async () => {
    const text = await readFile(join(REPO, COMPOSE), "utf8");
    const lineage = join(REPO, "examples/lineage");
    const piped = await withStdin(["plan", "-", ...OFFLINE, "-o", "json"], text, lineage);
    const given = await runCli(["plan", COMPOSE, ...OFFLINE, "-o", "json"]);
    expect([piped.code, given.code]).toEqual([0, 0]);
    const plan = (s: string) => (JSON.parse(s) as { plan: unknown }).plan;
    expect(plan(piped.stdout)).toEqual(plan(given.stdout));
    expect((JSON.parse(piped.stdout) as { inputs: { files: unknown } }).inputs.files).toEqual([
      { file: "<stdin>", kind: "compose" },
    ]);
    // From another directory the compose file's env_file (lineage.env) is not found: it is relative to the cwd.
    const elsewhere = await withStdin(["plan", "-", ...OFFLINE], text, REPO);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain("<stdin>: service app: env_file: lineage.env does not exist");
  });

  it("obeys --max-file-size", async () => {
    const r = await withStdin(["check", "-", ...OFFLINE, "--max-file-size", "1KiB"], Buffer.alloc(64 * 1024, "a"));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      "error: <stdin>: is larger than the 1 KiB allowed for an input file (raise it with --max-file-size)",
    );
  });

  it("stops reading at the cap when the writer never stops", async () => {
    const child = spawn(
      process.execPath,
      [TSX_CLI, "src/cli/main.ts", "check", "-", ...OFFLINE, "--max-file-size", "1MiB"],
      { cwd: REPO, stdio: ["pipe", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    child.stdin.on("error", () => {}); // EPIPE once the CLI has stopped reading
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    let running = true;
    void exited.then(() => {
      running = false;
    });
    const chunk = Buffer.alloc(64 * 1024, "a");
    let written = 0;
    const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
    while (running && written < 1024 * 1024 * 1024) {
      if (!child.stdin.write(chunk)) await new Promise((r) => setTimeout(r, 5));
      written += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    const code = await exited;
    clearTimeout(deadline);
    expect(code).toBe(2);
    expect(stderr).toContain("<stdin>: is larger than the 1 MiB allowed for an input file");
  });

  it("refuses a terminal at once, exit 2 (never waits for typing)", async () => {
    // A real pseudo-terminal as standard input (Python's pty module); the run is bounded by the timeout.
    const script = "import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))";
    const started = performance.now();
    const r = await execFileP(
      "python3",
      ["-c", script, process.execPath, TSX_CLI, "src/cli/main.ts", "check", "-", ...OFFLINE],
      { cwd: REPO, timeout: 60_000 },
    ).then(
      (x) => ({ code: 0, out: x.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code, out: e.stdout ?? "" }),
    );
    expect(r.code).toBe(2);
    expect(r.out).toContain("error: <stdin>: is a terminal: pipe a file into it");
    expect(performance.now() - started).toBeLessThan(50_000);
  });
});

describe("-o patch", { timeout: 120_000 }, () => {
  it("a name with a newline cannot forge a KEY=VALUE line: every line is a comment or a pool setting", async () => {
    const file = join(dir, "forge", "docker-compose.yml");
    await mkdir(join(dir, "forge"));
    await writeFile(
      file,
      `services:
  "w\\nLD_PRELOAD=/tmp/evil.so\\r\\u2028x":
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.workers: "2", io.pooltuner.database: main }
    environment: { DB_POOL_SIZE: "5" }
`,
    );
    const r = await runCli(["plan", file, ...OFFLINE, "-o", "patch"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => l !== "");
    expect(lines.filter((l) => !l.startsWith("# "))).toEqual(["DB_POOL_SIZE=1", "DB_MAX_OVERFLOW=2"]);
    expect(r.stdout).not.toMatch(/[\r\u2028]/);
  });

  it("infeasible: keeps today's values in the document (an overwrite of the committed file drops nothing)", async () => {
    // 16 processes (4 pods x 4 workers) cannot get 1 connection each from 8 - 2 (reserve) - 0: no safe values.
    const r = await runCli([
      "plan",
      "examples/lineage/kubernetes",
      "--max-connections",
      "8",
      "--unmanaged",
      "0",
      "-o",
      "patch",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "# Deployment lineage/lineage-app: no safe values (see `pooltuner plan`): keeps today's",
    );
    const doc = parseYaml(r.stdout.split("\n---\n")[1] as string) as {
      spec: { template: { spec: { containers: { env: unknown[] }[] } } };
    };
    expect(doc.spec.template.spec.containers[0]?.env).toEqual([
      { name: "LINEAGE_DB_POOL_SIZE", value: "2" },
      { name: "LINEAGE_DB_MAX_OVERFLOW", value: "3" },
    ]);
  });

  it("writes each profile's own variables: a Hikari service gets its maximumPoolSize (and minimumIdle), nothing else", async () => {
    const file = join(dir, "spring", "docker-compose.yml");
    await mkdir(join(dir, "spring"));
    await writeFile(
      file,
      `services:
  api:
    image: x
    labels: { io.pooltuner.enabled: "true", io.pooltuner.database: main, io.pooltuner.profile: hikari }
    environment: { SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE: "40", SPRING_DATASOURCE_HIKARI_MINIMUMIDLE: "40" }
`,
    );
    const r = await runCli(["plan", file, ...OFFLINE, "-o", "patch"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => l !== "" && !l.startsWith("# "));
    // One JVM (stop-first compose: no surge) on a budget far above the table: the row's 2 workers x 3 = 6 per container.
    expect(lines).toEqual(["SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=6", "SPRING_DATASOURCE_HIKARI_MINIMUMIDLE=6"]);
    expect(r.stdout).toContain(
      "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=40 -> SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=6",
    );
  });

  it("refuses Kubernetes manifests and compose files in one run (exit 2, one line, nothing on stdout)", async () => {
    const r = await runCli(["plan", COMPOSE, "examples/lineage/kubernetes", ...OFFLINE, "-o", "patch"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim()).toBe(
      "error: -o patch: plan Kubernetes manifests and compose files in separate runs (one prints YAML patches, the other .env lines)",
    );
  });
});
