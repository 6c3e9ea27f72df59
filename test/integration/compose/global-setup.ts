// Global setup of the "compose" vitest project: the private Docker Engine of the test bed with its registry-free
// base images (scripts/testbed/docker.sh). A daemon that cannot start fails the run here, with the script's message.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import Docker from "dockerode";
import type { TestProject } from "vitest/node";

const execFileP = promisify(execFile);
export const BASE_IMAGES = ["pooltuner/base-python:bookworm", "pooltuner/base-slim:bookworm"];

declare module "vitest" {
  export interface ProvidedContext {
    dockerSocket: string;
  }
}

async function ready(socket: string): Promise<boolean> {
  const docker = new Docker({ socketPath: socket });
  try {
    await docker.ping();
    for (const image of BASE_IMAGES) await docker.getImage(image).inspect();
    return true;
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const script = "scripts/testbed/docker.sh";
  const status = await execFileP("bash", [script, "status"]).catch(() => undefined);
  let socket = status?.stdout.trim();
  // A running test-bed daemon with both base images is reused as is; anything else goes through `ensure`.
  if (!socket || !(await ready(socket))) {
    try {
      const out = await execFileP("bash", [script, "ensure"], { timeout: 40 * 60_000, maxBuffer: 64 * 1024 * 1024 });
      socket = out.stdout.trim().split("\n").pop();
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`compose suite: ${script} ensure failed: ${e.message}\n${(e.stderr ?? "").slice(-4000)}`);
    }
  }
  if (!socket || !(await ready(socket))) {
    throw new Error(
      `compose suite: the test-bed Docker Engine at ${socket} does not answer or lacks ${BASE_IMAGES.join(", ")}`,
    );
  }
  project.provide("dockerSocket", socket);
}
