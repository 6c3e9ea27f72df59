// Recreate against the real Engine: everything but the env survives, failures put the original back,
// interrupted recreates are settled, network_mode container: keeps working (watchtower #1013, #1906).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupName, REPLACED_LABEL } from "../../../src/docker/labels.js";
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
  const { Env: _env, Hostname, Labels, ...rest } = i.Config;
  // The replacement says which container it replaced (recovery's mark); every other label is the same.
  const { [REPLACED_LABEL]: _replaced, ...labels } = Labels ?? {};
  const config = { ...rest, labels };
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

  it("puts everything back when a container in its network namespace cannot follow: none left unstartable", async () => {
    const app = await composeContainer(docker, {
      ...{ run, project, service: "nsapp", index: 1, env: { DB_POOL_SIZE: "2" } },
      extra: { HostConfig: { NetworkMode: "bridge" } },
    });
    // Runs only beside the app it was started with: it takes its hostname, the app's short id.
    const sidecar = await composeContainer(docker, {
      ...{ run, project, service: "nsside", index: 1 },
      cmd: [
        "bash",
        "-c",
        `[ "$(cat /proc/sys/kernel/hostname)" = ${app.id.slice(0, 12)} ] || exit 3; exec sleep infinity`,
      ],
      extra: { HostConfig: { NetworkMode: `container:${app.id}` } },
    });
    expect((await sidecar.inspect()).State.Running).toBe(true);

    const result = await recreateWithEnv(docker, app.id, { DB_POOL_SIZE: "1" }, opts);
    expect(result).toMatchObject({ ok: false, restored: true, name: `${project}-nsapp-1` });
    expect(!result.ok && result.reason).toContain(`${project}-nsside-1 (network_mode container:${project}-nsapp-1)`);
    const appNow = await docker.getContainer(`${project}-nsapp-1`).inspect();
    expect([appNow.Id, appNow.State.Running]).toEqual([app.id, true]);
    expect((await containerEnv(docker, app.id)).get("DB_POOL_SIZE")).toBe("2");
    const sideNow = await docker.getContainer(`${project}-nsside-1`).inspect();
    expect([sideNow.Id, sideNow.State.Running, sideNow.HostConfig.NetworkMode]).toEqual([
      sidecar.id,
      true,
      `container:${app.id}`,
    ]);
    const names = (await projectContainers(docker, project)).map((x) => x.name);
    expect(names.filter((n) => n.startsWith(`${project}-ns`))).toEqual([`${project}-nsapp-1`, `${project}-nsside-1`]);
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
  const recover = () => recoverInterrupted(docker, { projects: [project], recreate: opts });
  /** The state right after rename + stop, before the new container existed. */
  async function interrupted(c: Docker.Container, name: string): Promise<string> {
    const backup = backupName(name, true, c.id);
    await c.rename({ name: backup });
    await c.stop();
    return backup;
  }

  it("restores a container a crash left under its backup name", async () => {
    const c = await composeContainer(docker, { run, project, service: "crash", index: 1, env: { DB_POOL_SIZE: "2" } });
    await interrupted(c, `${project}-crash-1`);
    const r = await recover();
    expect(r.actions).toContain(`${project}-crash-1: restored the original container after an interrupted recreate`);
    expect(r.problems).toEqual([]);
    const now = await docker.getContainer(`${project}-crash-1`).inspect();
    expect(now.Id).toBe(c.id);
    expect(now.State.Running).toBe(true);
  });

  it("keeps pooltuner's replacement, running or stopped, and removes the backup; never brings the old env back", async () => {
    const ok = await composeContainer(docker, { run, project, service: "done", index: 1, env: { DB_POOL_SIZE: "2" } });
    await interrupted(ok, `${project}-done-1`);
    const replacement = await composeContainer(docker, {
      ...{ run, project, service: "done", index: 1, env: { DB_POOL_SIZE: "1" } },
      labels: { [REPLACED_LABEL]: ok.id },
    });
    // A dockerd restart stops every container without a restart policy: the replacement is merely stopped.
    const half = await composeContainer(docker, {
      run,
      project,
      service: "half",
      index: 1,
      env: { DB_POOL_SIZE: "2" },
    });
    await interrupted(half, `${project}-half-1`);
    const stopped = await composeContainer(docker, {
      ...{ run, project, service: "half", index: 1, env: { DB_POOL_SIZE: "1" } },
      labels: { [REPLACED_LABEL]: half.id },
      start: false,
    });

    const r = await recover();
    expect(r.problems).toEqual([]);
    expect(r.actions).toEqual(
      expect.arrayContaining([
        `${project}-done-1: removed the previous container left by an interrupted recreate`,
        `${project}-half-1: started the replacement an interrupted recreate left stopped`,
        `${project}-half-1: removed the previous container left by an interrupted recreate`,
      ]),
    );
    expect((await docker.getContainer(`${project}-done-1`).inspect()).Id).toBe(replacement.id);
    const now = await docker.getContainer(`${project}-half-1`).inspect();
    expect([now.Id, now.State.Running]).toEqual([stopped.id, true]);
    expect((await containerEnv(docker, now.Id)).get("DB_POOL_SIZE")).toBe("1");
    const names = (await projectContainers(docker, project)).map((x) => x.name);
    expect(names.filter((n) => n.includes("pooltuner-prev"))).toEqual([]);
  });

  it("keeps both, and says so, when pooltuner's replacement cannot run: the old values are not brought back", async () => {
    const old = await composeContainer(docker, { run, project, service: "sour", index: 1, env: { DB_POOL_SIZE: "2" } });
    const backup = await interrupted(old, `${project}-sour-1`);
    const replacement = await composeContainer(docker, {
      ...{ run, project, service: "sour", index: 1, env: { DB_POOL_SIZE: "1" }, start: false },
      labels: { [REPLACED_LABEL]: old.id },
      cmd: ["bash", "-c", "exit 5"],
    });
    const r = await recover();
    expect(r.problems.filter((p) => p.startsWith(`${project}-sour-1:`))).toEqual([
      `${project}-sour-1: the replacement pooltuner created does not run (the new container exited with code 5); ${backup} (the previous container, with the previous values) is kept stopped and not brought back`,
    ]);
    const ids = Object.fromEntries((await projectContainers(docker, project)).map((x) => [x.name, x.id]));
    expect([ids[`${project}-sour-1`], ids[backup]]).toEqual([replacement.id, old.id]);
    expect((await docker.getContainer(old.id).inspect()).State.Running).toBe(false);
    await docker.getContainer(old.id).remove({ force: true }); // settled by hand, as the line says
  });

  it("never removes or renames a container it did not create, and one failure does not stop the others", async () => {
    // Named like a backup, but not by pooltuner: an old-style name, and a name with another container's id.
    const lookalike = await composeContainer(docker, { run, project, service: "look", index: 1 });
    await lookalike.rename({ name: `${project}-look-1_pooltuner-prev-running` });
    const other = await composeContainer(docker, { run, project, service: "other", index: 1 });
    const wrongId = await composeContainer(docker, { run, project, service: "wrong", index: 1 });
    await wrongId.rename({ name: backupName(`${project}-wrong-1`, true, other.id) });
    // A real backup next to a stopped container someone else created under the name (a `compose up` in between).
    const mine = await composeContainer(docker, { run, project, service: "theirs", index: 1 });
    const theirsBackup = await interrupted(mine, `${project}-theirs-1`);
    const theirs = await composeContainer(docker, { run, project, service: "theirs", index: 1, start: false });
    // A backup whose original cannot start any more (the container it shares a network with is stopped):
    // reported, and the next backup is still settled.
    const holder = await composeContainer(docker, { run, project, service: "holder", index: 1, start: false });
    const broken = await composeContainer(docker, {
      ...{ run, project, service: "broken", index: 1, start: false },
      extra: { HostConfig: { NetworkMode: `container:${holder.id}` } },
    });
    await broken.rename({ name: backupName(`${project}-broken-1`, true, broken.id) });
    const fine = await composeContainer(docker, { run, project, service: "fine", index: 1 });
    await interrupted(fine, `${project}-fine-1`);

    const r = await recover();
    expect(r.actions).toEqual([`${project}-fine-1: restored the original container after an interrupted recreate`]);
    expect(r.problems).toHaveLength(2);
    expect(r.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(`^${project}-theirs-1: ${theirsBackup} is left as it is: the container now named`),
        ),
        expect.stringMatching(new RegExp(`^${project}-broken-1: cannot settle the interrupted recreate left as`)),
      ]),
    );
    const ids = Object.fromEntries((await projectContainers(docker, project)).map((x) => [x.name, x.id]));
    expect(ids[`${project}-look-1_pooltuner-prev-running`]).toBe(lookalike.id);
    expect(ids[backupName(`${project}-wrong-1`, true, other.id)]).toBe(wrongId.id);
    expect(ids[`${project}-theirs-1`]).toBe(theirs.id);
    expect(ids[theirsBackup]).toBe(mine.id);
    expect((await docker.getContainer(theirs.id).inspect()).State.Running).toBe(false);
    expect((await docker.getContainer(`${project}-fine-1`).inspect()).Id).toBe(fine.id);
  });

  it("makes containers in the backup's network namespace follow the replacement, whether a crash came before or during their move", async () => {
    // A crash after the app's replacement ran: one dependent not moved yet (still joined to the backup), one
    // renamed aside and stopped (its name free).
    const app = await composeContainer(docker, {
      ...{ run, project, service: "nsrec", index: 1, env: { DB_POOL_SIZE: "2" } },
      extra: { HostConfig: { NetworkMode: "bridge" } },
    });
    const joined = { HostConfig: { NetworkMode: `container:${app.id}` } };
    const waiting = await composeContainer(docker, { run, project, service: "nswait", index: 1, extra: joined });
    const moving = await composeContainer(docker, { run, project, service: "nsmove", index: 1, extra: joined });
    const appBackup = await interrupted(app, `${project}-nsrec-1`);
    await interrupted(moving, `${project}-nsmove-1`);
    const replacement = await composeContainer(docker, {
      ...{ run, project, service: "nsrec", index: 1, env: { DB_POOL_SIZE: "1" } },
      labels: { [REPLACED_LABEL]: app.id },
      extra: { HostConfig: { NetworkMode: "bridge" } },
    });

    const r = await recover();
    // (The look-alikes of the test above are still there and still reported; none of these is.)
    expect(r.problems.filter((p) => p.includes(`${project}-ns`))).toEqual([]);
    expect(r.actions).toEqual(
      expect.arrayContaining([
        `${project}-nswait-1: recreated to follow ${project}-nsrec-1, after an interrupted recreate`,
        `${project}-nsmove-1: recreated to follow the container it shares a network with, after an interrupted recreate`,
        `${project}-nsrec-1: removed the previous container left by an interrupted recreate`,
      ]),
    );
    for (const name of [`${project}-nswait-1`, `${project}-nsmove-1`]) {
      const now = await docker.getContainer(name).inspect();
      expect([now.HostConfig.NetworkMode, now.State.Running], name).toEqual([`container:${replacement.id}`, true]);
      expect(now.Id).not.toBe(name.includes("wait") ? waiting.id : moving.id);
    }
    const names = (await projectContainers(docker, project)).map((x) => x.name);
    expect(names).not.toContain(appBackup);
    expect(names.filter((n) => n.startsWith(`${project}-ns`) && n.includes("pooltuner-prev"))).toEqual([]);
  });
});
