// Recreate one container with new env values and nothing else changed, without ever leaving it deleted.
// Rename-then-create: the old container steps aside under a backup name (it keeps its config, volumes and
// endpoints), the new one takes the name; only when the new one runs (healthy, if it has a healthcheck) is the
// old one removed. Any failure removes the new one and puts the old one back. A crash in between leaves the
// backup, which `recoverInterrupted` settles on the next start (watchtower #1906: containers deleted, never recreated).
import type Docker from "dockerode";
import { sleep } from "../runtime/sleep.js";
import { createRequest } from "./create-options.js";
import { backupName, COMPOSE, containerName, parseBackupName } from "./labels.js";

export interface RecreateOptions {
  /** How long the new container may take to run (and turn healthy). */
  readonly startTimeoutMs: number;
  /** A container without a healthcheck must keep running, unrestarted, this long after its start. */
  readonly settleMs: number;
  /** Poll interval while waiting; default 250 ms. */
  readonly pollMs?: number;
}

export type RecreateResult =
  | { readonly ok: true; readonly name: string; readonly id: string; readonly dependents: readonly string[] }
  | {
      readonly ok: false;
      readonly name: string;
      readonly reason: string;
      /** The original container is back under its name (running again if it ran before). */
      readonly restored: boolean;
      readonly restoreError?: string;
    };

/** Recreate `containerId` with `env` values replaced; others sharing its network namespace follow it. */
export async function recreateWithEnv(
  docker: Docker,
  containerId: string,
  env: Readonly<Record<string, string>>,
  options: RecreateOptions,
): Promise<RecreateResult> {
  const old = await docker.getContainer(containerId).inspect();
  const dependents = await networkDependents(docker, old);
  const result = await replace(docker, old, (o) => createRequest(o, env, o.Config.Image), options);
  if (!result.ok) return result;
  const moved: string[] = [];
  for (const dep of dependents) {
    // They joined the old container's network namespace, which is gone: point them at the new one.
    const r = await replace(docker, dep, (o) => repointed(o, result.id), options);
    if (r.ok) {
      await removeQuietly(docker, r.backupId);
      moved.push(r.name);
      continue;
    }
    await removeQuietly(docker, result.backupId);
    return {
      ok: false,
      name: result.name,
      reason: `recreated, but ${r.name} (network_mode container:${result.name}) could not follow: ${r.reason}`,
      restored: false,
    };
  }
  await removeQuietly(docker, result.backupId);
  return { ok: true, name: result.name, id: result.id, dependents: moved };
}

type Replaced = { ok: true; name: string; id: string; backupId: string } | Exclude<RecreateResult, { ok: true }>;

/** Swap `old` for a container built by `build`; the old one stays (renamed, stopped) until the caller removes it. */
async function replace(
  docker: Docker,
  old: Docker.ContainerInspectInfo,
  build: (old: Docker.ContainerInspectInfo) => ReturnType<typeof createRequest>,
  options: RecreateOptions,
): Promise<Replaced> {
  const name = containerName(old);
  const wasRunning = old.State.Running || old.State.Restarting;
  const request = build({ ...old, Config: { ...old.Config, Image: await imageFor(docker, old) } });
  const oldC = docker.getContainer(old.Id);
  const fail = async (reason: string, newId?: string): Promise<Replaced> => {
    const restore = await restoreOriginal(docker, old.Id, name, wasRunning, newId);
    return {
      ok: false,
      name,
      reason,
      restored: restore.ok,
      ...(restore.ok ? {} : { restoreError: restore.error }),
    };
  };

  try {
    await oldC.rename({ name: backupName(name, wasRunning) });
  } catch (err) {
    return { ok: false, name, reason: `cannot rename it aside: ${message(err)}`, restored: true };
  }
  if (wasRunning) {
    try {
      await oldC.stop({ t: stopTimeoutSeconds(old) });
    } catch (err) {
      if (!/already stopped|not running|304/i.test(message(err))) return fail(`cannot stop it: ${message(err)}`);
    }
  }
  let newId: string | undefined;
  try {
    const created = await docker.createContainer(request.options);
    newId = created.id;
    for (const net of request.extraNetworks) {
      await docker.getNetwork(net.name).connect({ Container: newId, EndpointConfig: net.endpoint });
    }
    if (wasRunning) {
      await created.start();
      const ready = await waitReady(docker, newId, hasHealthcheck(old), options);
      if (!ready.ok) return fail(ready.reason, newId);
    }
  } catch (err) {
    return fail(message(err), newId);
  }
  return { ok: true, name, id: newId, backupId: old.Id };
}

/** Put the original back under its name: remove the new container, rename, start it again if it ran. */
async function restoreOriginal(
  docker: Docker,
  oldId: string,
  name: string,
  wasRunning: boolean,
  newId: string | undefined,
): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    if (newId) await docker.getContainer(newId).remove({ force: true, v: false });
    const oldC = docker.getContainer(oldId);
    await oldC.rename({ name });
    if (wasRunning) await oldC.start();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: message(err) };
  }
}

export type WaitResult = { ok: true } | { ok: false; reason: string };

/** Running (and healthy when it has a healthcheck), without a restart or exit on the way. */
export async function waitReady(
  docker: Docker,
  id: string,
  healthcheck: boolean,
  options: RecreateOptions,
): Promise<WaitResult> {
  const deadline = Date.now() + options.startTimeoutMs;
  const c = docker.getContainer(id);
  let last = "";
  for (;;) {
    const s = await c.inspect();
    const st = s.State;
    if (st.Restarting || s.RestartCount > 0 || (!st.Running && st.Status !== "created")) {
      const how = st.OOMKilled ? "was OOM-killed" : `exited with code ${st.ExitCode}`;
      return { ok: false, reason: `the new container ${how}${st.Error ? ` (${st.Error})` : ""}` };
    }
    if (healthcheck) {
      const h = st.Health?.Status;
      if (h === "healthy") return { ok: true };
      if (h === "unhealthy") return { ok: false, reason: "the new container's healthcheck reports unhealthy" };
      last = `health ${h ?? "unknown"}`;
    } else if (st.Running) {
      const since = Date.parse(st.StartedAt);
      if (Date.now() - since >= options.settleMs) return { ok: true };
      last = "running, settling";
    } else {
      last = st.Status;
    }
    if (Date.now() > deadline)
      return {
        ok: false,
        reason: `the new container was not ready after ${options.startTimeoutMs / 1000} s (${last})`,
      };
    await sleep(options.pollMs ?? 250);
  }
}

/**
 * Settle recreates that a crash interrupted: a backup whose original name is free is put back; a backup next to
 * a running replacement is removed (the replacement made it); a backup next to a replacement that does not run
 * means the replacement failed: it is removed and the backup restored. Returns one line per action taken.
 */
export async function recoverInterrupted(docker: Docker, projects?: readonly string[]): Promise<string[]> {
  // A daemon limited to some compose projects leaves every other container alone, backups included.
  const all = (await docker.listContainers({ all: true })).filter(
    (c) => !projects || projects.includes(c.Labels?.[COMPOSE.project] ?? ""),
  );
  const byName = new Map(all.map((c) => [(c.Names[0] ?? "").replace(/^\//, ""), c]));
  const done: string[] = [];
  for (const [name, c] of byName) {
    const backup = parseBackupName(name);
    if (!backup) continue;
    const current = byName.get(backup.original);
    if (current && current.State === "running") {
      await docker.getContainer(c.Id).remove({ force: true, v: false });
      done.push(`${backup.original}: removed the previous container left by an interrupted recreate`);
      continue;
    }
    const r = await restoreOriginal(docker, c.Id, backup.original, backup.wasRunning, current?.Id);
    if (!r.ok) throw new Error(`${backup.original}: cannot restore the container from ${name}: ${r.error}`);
    done.push(`${backup.original}: restored the original container after an interrupted recreate`);
  }
  return done;
}

/** Containers whose network_mode is `container:<this one>` (by id or name). */
async function networkDependents(
  docker: Docker,
  target: Docker.ContainerInspectInfo,
): Promise<Docker.ContainerInspectInfo[]> {
  const modes = new Set([`container:${target.Id}`, `container:${containerName(target)}`]);
  const list = await docker.listContainers({ all: true });
  const hits = list.filter((c) => modes.has(c.HostConfig?.NetworkMode ?? ""));
  return Promise.all(hits.map((c) => docker.getContainer(c.Id).inspect()));
}

function repointed(old: Docker.ContainerInspectInfo, newTargetId: string): ReturnType<typeof createRequest> {
  const req = createRequest(old, {}, old.Config.Image);
  return {
    ...req,
    options: {
      ...req.options,
      HostConfig: { ...req.options.HostConfig, NetworkMode: `container:${newTargetId}` },
    },
  };
}

/**
 * The image reference to create with: the same name when it still points at the image the container runs,
 * else the image id, so a recreate never upgrades the image behind the user's back.
 */
async function imageFor(docker: Docker, old: Docker.ContainerInspectInfo): Promise<string> {
  try {
    const img = await docker.getImage(old.Config.Image).inspect();
    if (img.Id === old.Image) return old.Config.Image;
  } catch {
    // The tag is gone: the id still works.
  }
  return old.Image;
}

function hasHealthcheck(c: Docker.ContainerInspectInfo): boolean {
  const test = c.Config.Healthcheck?.Test;
  return Array.isArray(test) && test.length > 0 && test[0] !== "NONE";
}

function stopTimeoutSeconds(c: Docker.ContainerInspectInfo): number {
  const t = (c.Config as { StopTimeout?: number }).StopTimeout;
  return typeof t === "number" && t >= 0 ? t : 10;
}

async function removeQuietly(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: false });
  } catch {
    // Already gone; recovery removes any leftover backup by name.
  }
}

function message(err: unknown): string {
  const e = err as { json?: { message?: string }; reason?: string; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}
