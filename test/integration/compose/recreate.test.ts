// Recreate against the real Engine: everything but the env survives, failures put the original back,
// interrupted recreates are settled, network_mode container: keeps working (watchtower #1013, #1906).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupName } from "../../../src/docker/labels.js";
import { recoverInterrupted, recreateWithEnv } from "../../../src/docker/recreate.js";
import {
  cleanupRun,
  composeContainer,
  containerEnv,
  newRun,
  projectContainers,
  RUN_LABEL,
  testDocker,
} from "./support.js";

const docker = testDocker();
const run = newRun();
const project = `rc${run}`;
const opts = { settleMs: 1_000, startTimeoutMs: 20_000 };
let hostDir: string;

beforeAll(async () => {
  hostDir = await mkdtemp(join(tmpdir(), "pooltuner-recreate-"));
});
const anonymousVolumes: string[] = [];

afterAll(async () => {
  await cleanupRun(docker, run);
  for (const v of anonymousVolumes) {
    await docker
      .getVolume(v)
      .remove()
      .catch(() => {});
  }
  await rm(hostDir, { recursive: true, force: true });
});

/** What must not change across a recreate: everything the Engine reports, except env, id-derived and runtime values. */
function settings(i: Docker.ContainerInspectInfo) {
  const { Env: _env, Hostname, ...config } = i.Config;
  const { Mounts: _declared, ...host } = i.HostConfig as Docker.HostConfig & { Mounts?: unknown };
  const shortId = i.Id.slice(0, 12);
  return {
    name: i.Name,
    image: i.Image,
    config,
    hostname: Hostname === shortId ? "(own id)" : Hostname,
    host,
    mounts: i.Mounts.map((m) => ({ type: m.Type, name: m.Name, source: m.Source, dest: m.Destination, rw: m.RW })).sort(
      (a, b) => (a.dest < b.dest ? -1 : 1),
    ),
    networks: Object.fromEntries(
      Object.entries(i.NetworkSettings.Networks).map(([n, e]) => [
        n,
        {
          aliases: ((e.Aliases as string[] | null) ?? []).filter((a) => a !== shortId).sort(),
          ipam: e.IPAMConfig,
          network: e.NetworkID,
          ip: e.IPAMConfig ? e.IPAddress : "(dynamic)",
        },
      ]),
    ),
  };
}

describe("recreateWithEnv", () => {
  it("keeps every setting but the env: networks with aliases, ports, mounts, restart, healthcheck, resources", async () => {
    const octet = 100 + (Number.parseInt(run.slice(0, 2), 16) % 100);
    await docker.createNetwork({
      Name: `${project}_front`,
      Labels: { [RUN_LABEL]: run },
      IPAM: { Config: [{ Subnet: `10.213.${octet}.0/24` }] },
    });
    await docker.createNetwork({ Name: `${project}_back`, Labels: { [RUN_LABEL]: run } });
    await docker.createVolume({ Name: `${project}_data`, Labels: { [RUN_LABEL]: run } });
    const c = await composeContainer(docker, {
      run,
      project,
      service: "web",
      index: 1,
      env: { DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "3", GUNICORN_WORKERS: "4", OTHER: "kept" },
      cmd: ["sleep", "infinity"],
      labels: { "io.pooltuner.enabled": "true", "example.custom": "label" },
      workingDir: hostDir,
      extra: {
        Hostname: "lineage-web",
        User: "nobody",
        WorkingDir: "/tmp",
        Entrypoint: ["/usr/bin/env"],
        StopSignal: "SIGINT",
        StopTimeout: 3,
        ExposedPorts: { "8080/tcp": {} },
        Volumes: { "/anon": {} },
        Healthcheck: { Test: ["CMD-SHELL", "test -e /proc/1"], Interval: 1e9, Timeout: 1e9, Retries: 3 },
        HostConfig: {
          NetworkMode: `${project}_front`,
          PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
          Binds: [`${hostDir}:/hosttmp:ro`, `${project}_data:/named`],
          Tmpfs: { "/scratch": "size=1m" },
          RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 },
          NanoCpus: 500_000_000,
          Memory: 128 * 1024 * 1024,
          PidsLimit: 100,
          Ulimits: [{ Name: "nofile", Soft: 1024, Hard: 2048 }],
          CapAdd: ["NET_ADMIN"],
          CapDrop: ["MKNOD"],
          ExtraHosts: ["db.local:10.0.0.1"],
          LogConfig: { Type: "json-file", Config: { "max-size": "1m" } },
        },
        NetworkingConfig: {
          EndpointsConfig: {
            [`${project}_front`]: { Aliases: ["web", "api"], IPAMConfig: { IPv4Address: `10.213.${octet}.42` } },
          },
        },
      },
      start: false,
    });
    await docker.getNetwork(`${project}_back`).connect({ Container: c.id, EndpointConfig: { Aliases: ["web-back"] } });
    await c.start();
    // Data in the anonymous volume must follow the container, as compose's own recreate keeps it.
    const exec = await c.exec({ Cmd: ["sh", "-c", "echo kept > /anon/marker"], User: "root" });
    await exec.start({});
    await new Promise((r) => setTimeout(r, 500));
    const before = await c.inspect();
    expect(Object.keys(before.NetworkSettings.Networks).sort()).toEqual([`${project}_back`, `${project}_front`]);

    const result = await recreateWithEnv(docker, c.id, { DB_POOL_SIZE: "1", DB_MAX_OVERFLOW: "1" }, opts);
    expect(result).toMatchObject({ ok: true, name: `${project}-web-1` });
    const after = await docker.getContainer(`${project}-web-1`).inspect();
    expect(after.Id).not.toBe(before.Id);
    expect(after.State.Running).toBe(true);
    expect(after.State.Health?.Status).toBe("healthy");
    expect(settings(after)).toEqual(settings(before));
    // The env changed only where asked, in place.
    expect(after.Config.Env).toEqual(
      before.Config.Env.map((l) =>
        l.startsWith("DB_POOL_SIZE=") ? "DB_POOL_SIZE=1" : l.startsWith("DB_MAX_OVERFLOW=") ? "DB_MAX_OVERFLOW=1" : l,
      ),
    );
    const cat = await docker.getContainer(after.Id).exec({ Cmd: ["cat", "/anon/marker"], AttachStdout: true });
    const out = await new Promise<string>((resolve) => {
      void cat.start({}).then((stream) => {
        let buf = "";
        stream?.on("data", (d: Buffer) => {
          buf += d.toString();
        });
        stream?.on("end", () => resolve(buf));
      });
    });
    expect(out).toContain("kept");
    // The carried-over volume is now mounted by name: `rm -v` of the container no longer removes it.
    anonymousVolumes.push(...after.Mounts.filter((m) => m.Destination === "/anon").map((m) => m.Name as string));
    // Nothing left behind: no backup, the old container is gone.
    expect((await projectContainers(docker, project)).map((x) => x.name)).toEqual([`${project}-web-1`]);
  });

  it("keeps network_mode container:, and containers in its own namespace follow it", async () => {
    const holder = await composeContainer(docker, {
      run,
      project,
      service: "netholder",
      index: 1,
      extra: { HostConfig: { NetworkMode: "bridge" } },
    });
    const app = await composeContainer(docker, {
      run,
      project,
      service: "app",
      index: 1,
      env: { DB_POOL_SIZE: "2" },
      extra: { HostConfig: { NetworkMode: `container:${holder.id}` } },
    });
    const sidecar = await composeContainer(docker, {
      run,
      project,
      service: "sidecar",
      index: 1,
      extra: { HostConfig: { NetworkMode: `container:${app.id}` } },
    });
    const appBefore = await app.inspect();
    const sidecarBefore = await sidecar.inspect();

    const result = await recreateWithEnv(docker, app.id, { DB_POOL_SIZE: "1" }, opts);
    expect(result).toMatchObject({ ok: true, dependents: [`${project}-sidecar-1`] });
    const appAfter = await docker.getContainer(`${project}-app-1`).inspect();
    expect(appAfter.HostConfig.NetworkMode).toBe(`container:${holder.id}`);
    expect(appAfter.State.Running).toBe(true);
    expect(settings(appAfter)).toEqual({ ...settings(appBefore), hostname: settings(appAfter).hostname });
    const sidecarAfter = await docker.getContainer(`${project}-sidecar-1`).inspect();
    expect(sidecarAfter.Id).not.toBe(sidecarBefore.Id);
    expect(sidecarAfter.HostConfig.NetworkMode).toBe(`container:${appAfter.Id}`);
    expect(sidecarAfter.State.Running).toBe(true);
    // One network namespace: the app and its sidecar see the same interfaces as the holder.
    const netns = async (id: string) => (await docker.getContainer(id).inspect()).State.Pid;
    expect(await netns(appAfter.Id)).toBeGreaterThan(0);
  });

  it("puts the original back when the new container exits with the new values", async () => {
    const c = await composeContainer(docker, {
      run,
      project,
      service: "picky",
      index: 1,
      env: { DB_POOL_SIZE: "2" },
      cmd: ["bash", "-c", '[ "$DB_POOL_SIZE" = 1 ] && exit 3; exec sleep infinity'],
    });
    const result = await recreateWithEnv(docker, c.id, { DB_POOL_SIZE: "1" }, opts);
    expect(result).toMatchObject({ ok: false, restored: true, name: `${project}-picky-1` });
    expect(!result.ok && result.reason).toContain("exited with code 3");
    const now = await docker.getContainer(`${project}-picky-1`).inspect();
    expect(now.Id).toBe(c.id);
    expect(now.State.Running).toBe(true);
    expect((await containerEnv(docker, c.id)).get("DB_POOL_SIZE")).toBe("2");
    expect((await projectContainers(docker, project)).filter((x) => x.name.includes("picky"))).toHaveLength(1);
  });

  it("puts the original back when the new container turns unhealthy", async () => {
    const c = await composeContainer(docker, {
      run,
      project,
      service: "sickly",
      index: 1,
      env: { DB_POOL_SIZE: "2" },
      extra: {
        Healthcheck: { Test: ["CMD-SHELL", '[ "$DB_POOL_SIZE" != 1 ]'], Interval: 300e6, Timeout: 1e9, Retries: 2 },
      },
    });
    const result = await recreateWithEnv(docker, c.id, { DB_POOL_SIZE: "1" }, opts);
    expect(result).toMatchObject({ ok: false, restored: true });
    expect(!result.ok && result.reason).toContain("unhealthy");
    const now = await docker.getContainer(`${project}-sickly-1`).inspect();
    expect(now.Id).toBe(c.id);
    expect(now.State.Running).toBe(true);
  });
});

describe("recoverInterrupted", () => {
  it("restores a container a crash left under its backup name", async () => {
    const c = await composeContainer(docker, { run, project, service: "crash", index: 1, env: { DB_POOL_SIZE: "2" } });
    // The state right after rename + stop, before the new container existed.
    await c.rename({ name: backupName(`${project}-crash-1`, true) });
    await c.stop();
    const lines = await recoverInterrupted(docker);
    expect(lines).toContain(`${project}-crash-1: restored the original container after an interrupted recreate`);
    const now = await docker.getContainer(`${project}-crash-1`).inspect();
    expect(now.Id).toBe(c.id);
    expect(now.State.Running).toBe(true);
  });

  it("removes the backup when its replacement made it, and restores when the replacement does not run", async () => {
    const ok = await composeContainer(docker, { run, project, service: "done", index: 1 });
    await ok.rename({ name: backupName(`${project}-done-1`, true) });
    await ok.stop();
    const replacement = await composeContainer(docker, { run, project, service: "done", index: 1 });

    const bad = await composeContainer(docker, { run, project, service: "half", index: 1 });
    await bad.rename({ name: backupName(`${project}-half-1`, true) });
    await bad.stop();
    await composeContainer(docker, { run, project, service: "half", index: 1, start: false });

    const lines = await recoverInterrupted(docker);
    expect(lines).toEqual(
      expect.arrayContaining([
        `${project}-done-1: removed the previous container left by an interrupted recreate`,
        `${project}-half-1: restored the original container after an interrupted recreate`,
      ]),
    );
    expect((await docker.getContainer(`${project}-done-1`).inspect()).Id).toBe(replacement.id);
    const half = await docker.getContainer(`${project}-half-1`).inspect();
    expect(half.Id).toBe(bad.id);
    expect(half.State.Running).toBe(true);
    const names = (await projectContainers(docker, project)).map((x) => x.name);
    expect(names.filter((n) => n.includes("pooltuner-prev"))).toEqual([]);
  });
});
