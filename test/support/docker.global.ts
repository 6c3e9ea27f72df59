// Global setup of the "docker" vitest project: the test bed's private dockerd with its base images, shared through
// inject("dockerSocket") and DOCKER_HOST. If the daemon cannot start, this throws and the project fails: it never
// skips. The daemon is left running for the next run (docker.sh reuses it); `docker.sh stop` stops it.
import type { TestProject } from "vitest/node";
import { ensureDockerTestbed } from "./docker.js";

export default async function setup(project: TestProject): Promise<() => void> {
  const started = Date.now();
  const socketPath = await ensureDockerTestbed();
  process.stderr.write(
    `[docker.global] dockerd and base images ready on ${socketPath} in ${Date.now() - started} ms\n`,
  );
  project.provide("dockerSocket", socketPath);
  const previous = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = `unix://${socketPath}`;
  return () => {
    if (previous === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = previous;
  };
}
