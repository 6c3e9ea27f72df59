// The test bed's private Docker Engine (scripts/testbed/docker.sh): Debian's dockerd on its own socket, and the base
// images imported from debootstrap rootfs tarballs (no registry is reachable here). Suites get the socket from
// inject("dockerSocket"), provided by a globalSetup that called ensureDockerTestbed().
import { spawn } from "node:child_process";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";

declare module "vitest" {
  export interface ProvidedContext {
    dockerSocket: string;
  }
}

/** Debian bookworm with python3, Flask, SQLAlchemy, PyMySQL, Gunicorn, curl and procps (Debian packages). */
export const BASE_PYTHON_IMAGE = "pooltuner/base-python:bookworm";
/** Debian bookworm minbase with ca-certificates: a runtime base for images that bring their own binary (node). */
export const BASE_SLIM_IMAGE = "pooltuner/base-slim:bookworm";
/** Debian bookworm with python3, Django 3.2, psycopg2, Gunicorn, curl and procps: the Django example's base. */
export const BASE_DJANGO_IMAGE = "pooltuner/base-django:bookworm";
export const BASE_IMAGES = [BASE_PYTHON_IMAGE, BASE_SLIM_IMAGE, BASE_DJANGO_IMAGE] as const;
/** Label docker.sh sets on each base image: the name of the rootfs tarball it was imported from. */
export const ROOTFS_LABEL = "org.pooltuner.testbed.rootfs";

const SCRIPT = fileURLToPath(new URL("../../scripts/testbed/docker.sh", import.meta.url));
// A cold run installs docker.io and debootstraps two root filesystems: minutes, not seconds.
const SCRIPT_TIMEOUT_MS = 30 * 60_000;

/** Where docker.sh keeps the daemon's data root and the rootfs tarballs. */
export function testbedCacheDir(): string {
  return process.env.POOLTUNER_CACHE || join(homedir(), ".cache", "pooltuner");
}

export function dockerClient(socketPath: string): Docker {
  return new Docker({ socketPath });
}

export type TestbedCommand = "ensure" | "daemon" | "images" | "status" | "stop" | "crash";

/**
 * Runs `docker.sh <command>`. Its progress goes to this process's stderr as it comes; the result is the last
 * line of its stdout (the socket path, for ensure/daemon/status). A failure rejects with the script's own message.
 */
export function runDockerTestbed(command: TestbedCommand): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [SCRIPT, command], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderrTail = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), SCRIPT_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`docker test bed: cannot run ${SCRIPT}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve(stdout.trim().split("\n").pop() ?? "");
        return;
      }
      const how = signal ? `was killed by ${signal} (timeout ${SCRIPT_TIMEOUT_MS / 60_000} min?)` : `exited ${code}`;
      reject(new Error(`docker test bed: \`${SCRIPT} ${command}\` ${how}:\n${stderrTail}`));
    });
  });
}

async function checkImages(docker: Docker): Promise<void> {
  for (const image of BASE_IMAGES) {
    try {
      await docker.getImage(image).inspect();
    } catch (err) {
      throw new Error(`docker test bed: base image ${image} is missing after ensure: ${(err as Error).message}`);
    }
  }
}

/** Starts (or reuses) the private dockerd, imports the base images when missing, and returns the socket path. */
export async function ensureDockerTestbed(): Promise<string> {
  const socketPath = await runDockerTestbed("ensure");
  if (!socketPath.startsWith("/")) {
    throw new Error(`docker test bed: ensure printed no socket path (got ${JSON.stringify(socketPath)})`);
  }
  const docker = dockerClient(socketPath);
  await docker.ping();
  await checkImages(docker);
  return socketPath;
}

/** Imports the base images into the running test-bed daemon if they are missing or outdated. */
export async function ensureBaseImages(docker: Docker): Promise<void> {
  await runDockerTestbed("images");
  await checkImages(docker);
}
