// Recreate one container with new env values and nothing else changed, without ever leaving it deleted.
// Rename-then-create: the old container steps aside under a backup name (it keeps its config, volumes and
// endpoints), the new one takes the name; only when the new one runs (healthy, if it has a healthcheck) is the
// old one removed. Any failure removes the new ones and puts the old ones back, for every container of the apply
// (recreateAll: all or none). A crash in between leaves the
// backup, which `recoverInterrupted` settles on the next start (watchtower #1906: containers deleted, never recreated).
// Recovery touches only what pooltuner marked: a backup whose name carries its own id, and a replacement labelled
// with the backup's id; it never removes a container it did not create and never brings back a replaced env.
import type Docker from "dockerode";
import { sleep } from "../runtime/sleep.js";
import { createRequest } from "./create-options.js";
import { backupName, COMPOSE, containerName, parseBackupName, REPLACED_LABEL } from "./labels.js";

export interface RecreateOptions {
  /** How long the new container may take to run (and turn healthy). */
  readonly startTimeoutMs: number;
  /** A container without a healthcheck must keep running, unrestarted, this long after its start. */
  readonly settleMs: number;
  /** Poll interval while waiting; default 250 ms. */
  readonly pollMs?: number;
}

type Failure = {
  readonly ok: false;
  readonly name: string;
  readonly reason: string;
  /** The original container is back under its name (running again if it ran before). */
  readonly restored: boolean;
  readonly restoreError?: string;
  /**
   * The replacement did not fail outright: it never became ready (running, healthy when it has a healthcheck) within
   * the start timeout, or its healthcheck reports unhealthy. The shell freezes the database on it (src/docker/frozen.ts).
   */
  readonly stuck?: boolean;
};

export type RecreateResult =
  | { readonly ok: true; readonly name: string; readonly id: string; readonly dependents: readonly string[] }
  | Failure;

/** Recreate one container; see recreateAll. */
export async function recreateWithEnv(
  docker: Docker,
  containerId: string,
  env: Readonly<Record<string, string>>,
  options: RecreateOptions,
): Promise<RecreateResult> {
  const r = await recreateAll(docker, [{ id: containerId, name: containerId.slice(0, 12) }], env, options);
  return r.ok ? (r.recreated[0] as RecreateResult) : r;
}

export type RecreateAllResult =
  | {
      readonly ok: true;
      readonly recreated: readonly { ok: true; name: string; id: string; dependents: readonly string[] }[];
    }
  | Failure;

/**
 * Recreate the containers of one service with `env` values replaced, one at a time (stop first), all or none:
 * each original waits under its backup name until the last replacement runs; when one fails, every replacement of
 * this apply is removed and every original put back (a rename and a start, no new container), so the service is
 * never left with some containers on the new values and some on the old. Containers sharing a recreated
 * container's network namespace follow it, and are put back with it: a `network_mode: container:` dependent is
 * never left pointing at a container that is gone.
 */
export async function recreateAll(
  docker: Docker,
  containers: readonly { readonly id: string; readonly name: string }[],
  env: Readonly<Record<string, string>>,
  options: RecreateOptions,
): Promise<RecreateAllResult> {
  const done: Group[] = [];
  for (const c of containers) {
    let r: { ok: true; group: Group } | Failure;
    try {
      r = await swapGroup(docker, c.id, env, options);
    } catch (err) {
      // Before any change to this one (it vanished, the Engine stopped answering).
      r = { ok: false, name: c.name, reason: message(err), restored: true };
    }
    if (r.ok) {
      done.push(r.group);
      continue;
    }
    const errors: string[] = r.restoreError ? [r.restoreError] : [];
    for (const g of [...done].reverse()) {
      const back = await rollBack(docker, g.target, g.followers);
      if (!back.ok) errors.push(back.error);
    }
    const restored = r.restored && errors.length === 0;
    return {
      ok: false,
      name: r.name,
      reason: r.reason,
      restored,
      ...(restored ? {} : { restoreError: errors.join("; ") }),
      ...(r.stuck ? { stuck: true } : {}),
    };
  }
  for (const g of done) for (const m of [g.target, ...g.followers]) await removeQuietly(docker, m.backupId);
  return {
    ok: true,
    recreated: done.map((g) => ({
      ok: true,
      name: g.target.name,
      id: g.target.id,
      dependents: g.followers.map((f) => f.name),
    })),
  };
}

/** One container swapped for its replacement, with the containers of its network namespace that followed. */
interface Group {
  readonly target: Swapped;
  readonly followers: readonly Swapped[];
}

async function swapGroup(
  docker: Docker,
  containerId: string,
  env: Readonly<Record<string, string>>,
  options: RecreateOptions,
): Promise<{ ok: true; group: Group } | Failure> {
  const old = await docker.getContainer(containerId).inspect();
  const dependents = await networkDependents(docker, old);
  const result = await replace(docker, old, (o) => createRequest(o, env, o.Config.Image), options);
  if (!result.ok) return result;
  const moved: Swapped[] = [];
  for (const dep of dependents) {
    // They joined the old container's network namespace, which is gone: point them at the new one.
    const r = await replace(docker, dep, (o) => repointed(o, result.id), options);
    if (r.ok) {
      moved.push(r);
      continue;
    }
    const back = await rollBack(docker, result, moved, r);
    return {
      ok: false,
      name: result.name,
      reason: `${r.name} (network_mode container:${result.name}) could not follow: ${r.reason}`,
      restored: back.ok,
      ...(back.ok ? {} : { restoreError: back.error }),
    };
  }
  return { ok: true, group: { target: result, followers: moved } };
}

/** A swap that made it: the new container runs under `name`, the old one waits as the backup. */
interface Swapped {
  readonly ok: true;
  readonly name: string;
  readonly id: string;
  readonly backupId: string;
  readonly wasRunning: boolean;
}

/**
 * Undo one container's swap: the followers' new containers go, the target's original comes back (so its namespace
 * exists again), then every follower's original, and `failed` (the follower that could not follow) started again.
 */
async function rollBack(
  docker: Docker,
  target: Swapped,
  moved: readonly Swapped[],
  failed?: Exclude<Replaced, { ok: true }>,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const errors: string[] = [];
  for (const m of moved) await removeQuietly(docker, m.id);
  const t = await restoreOriginal(docker, target.backupId, target.name, target.wasRunning, target.id);
  if (!t.ok) errors.push(`${target.name}: ${t.error}`);
  for (const m of moved) {
    const r = await restoreOriginal(docker, m.backupId, m.name, m.wasRunning, undefined);
    if (!r.ok) errors.push(`${m.name}: ${r.error}`);
  }
  // Its own failure already renamed it back; its start failed while the target's original was away.
  if (failed?.oldId && failed.wasRunning) {
    try {
      const c = docker.getContainer(failed.oldId);
      if (!(await c.inspect()).State.Running) await c.start();
    } catch (err) {
      errors.push(`${failed.name}: ${message(err)}`);
    }
  }
  return errors.length === 0 ? { ok: true } : { ok: false, error: errors.join("; ") };
}

type Replaced = Swapped | (Failure & { readonly oldId?: string; readonly wasRunning?: boolean });

/** Swap `old` for a container built by `build`; the old one stays (renamed, stopped) until the caller removes it. */
async function replace(
  docker: Docker,
  old: Docker.ContainerInspectInfo,
  build: (old: Docker.ContainerInspectInfo) => ReturnType<typeof createRequest>,
  options: RecreateOptions,
): Promise<Replaced> {
  const name = containerName(old);
  const wasRunning = old.State.Running || old.State.Restarting;
  const built = build({ ...old, Config: { ...old.Config, Image: await imageFor(docker, old) } });
  // The mark recovery trusts: this container stands in for `old`, which waits under its backup name.
  const labels = { ...(built.options.Labels ?? {}), [REPLACED_LABEL]: old.Id };
  const request = { ...built, options: { ...built.options, Labels: labels } };
  const oldC = docker.getContainer(old.Id);
  const fail = async (reason: string, newId?: string, stuck = false): Promise<Replaced> => {
    const restore = await restoreOriginal(docker, old.Id, name, wasRunning, newId);
    return {
      ok: false,
      name,
      reason,
      restored: restore.ok,
      ...(restore.ok ? {} : { restoreError: restore.error }),
      ...(stuck ? { stuck: true } : {}),
      oldId: old.Id,
      wasRunning,
    };
  };

  try {
    await oldC.rename({ name: backupName(name, wasRunning, old.Id) });
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
      if (!ready.ok) return fail(ready.reason, newId, ready.stuck === true);
    }
  } catch (err) {
    return fail(message(err), newId);
  }
  return { ok: true, name, id: newId, backupId: old.Id, wasRunning };
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

/** `stuck`: not a crash or an exit, it just never got ready (timeout) or its healthcheck says unhealthy. */
export type WaitResult = { ok: true } | { ok: false; reason: string; stuck?: boolean };

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
      if (h === "unhealthy")
        return { ok: false, reason: "the new container's healthcheck reports unhealthy", stuck: true };
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
        stuck: true,
      };
    await sleep(options.pollMs ?? 250);
  }
}

export interface Recovery {
  /** What was settled, one line each. */
  readonly actions: string[];
  /** Backups left as they are, with why and what a person can do; recovery went on with the others. */
  readonly problems: string[];
}

/**
 * Settle recreates that a crash interrupted, for pooltuner's own backups only (parseBackupName):
 * - the original name is free (the crash came before the create): the backup is put back, as it was;
 * - the name holds pooltuner's replacement of this backup: the replacement stays (it has the new values, never
 *   swapped back for the old ones); started again if the backup ran and it does not (a dockerd restart stops
 *   containers), and the backup removed once it runs; if it cannot run, both are kept and reported;
 * - the name holds any other container: neither is touched, and it is reported.
 * One backup that cannot be settled is reported and the others are still settled.
 */
export async function recoverInterrupted(
  docker: Docker,
  options: { readonly projects?: readonly string[]; readonly recreate: RecreateOptions },
): Promise<Recovery> {
  // A daemon limited to some compose projects leaves every other container alone, backups included.
  const all = (await docker.listContainers({ all: true })).filter(
    (c) => !options.projects || options.projects.includes(c.Labels?.[COMPOSE.project] ?? ""),
  );
  const byName = new Map(all.map((c) => [(c.Names[0] ?? "").replace(/^\//, ""), c]));
  const out: Recovery = { actions: [], problems: [] };
  for (const [name, c] of byName) {
    const backup = parseBackupName(name, c.Id);
    if (!backup) continue;
    try {
      const current = byName.get(backup.original);
      await settle(docker, { ...backup, name, id: c.Id }, current, { all, recreate: options.recreate }, out);
    } catch (err) {
      out.problems.push(`${backup.original}: cannot settle the interrupted recreate left as ${name}: ${message(err)}`);
    }
  }
  return out;
}

async function settle(
  docker: Docker,
  backup: { original: string; wasRunning: boolean; name: string; id: string },
  current: Docker.ContainerInfo | undefined,
  context: { all: readonly Docker.ContainerInfo[]; recreate: RecreateOptions },
  out: Recovery,
): Promise<void> {
  const { original } = backup;
  const options = context.recreate;
  if (!current) {
    const follow = replacementOfJoined(backup.id, context.all);
    if (follow) {
      out.actions.push(await refollow(docker, backup, follow, options));
      return;
    }
    const r = await restoreOriginal(docker, backup.id, original, backup.wasRunning, undefined);
    if (!r.ok) throw new Error(r.error);
    out.actions.push(`${original}: restored the original container after an interrupted recreate`);
    return;
  }
  if (current.Labels?.[REPLACED_LABEL] !== backup.id) {
    out.problems.push(
      `${original}: ${backup.name} is left as it is: the container now named ${original} was not created by pooltuner in its place (remove ${backup.name} by hand once ${original} is right)`,
    );
    return;
  }
  if (backup.wasRunning && current.State !== "running") {
    await docker.getContainer(current.Id).start();
    const ready = await waitReady(docker, current.Id, false, options);
    if (!ready.ok) {
      out.problems.push(
        `${original}: the replacement pooltuner created does not run (${ready.reason}); ${backup.name} (the previous container, with the previous values) is kept stopped and not brought back`,
      );
      return;
    }
    out.actions.push(`${original}: started the replacement an interrupted recreate left stopped`);
  }
  // Containers still joined to the backup's network namespace (the crash came before they followed) follow now.
  for (const dep of context.all.filter((c) => c.HostConfig?.NetworkMode === `container:${backup.id}`)) {
    const depName = (dep.Names[0] ?? "").replace(/^\//, "");
    if (parseBackupName(depName, dep.Id)) continue; // a backup itself: settled on its own
    const r = await replace(
      docker,
      await docker.getContainer(dep.Id).inspect(),
      (o) => repointed(o, current.Id),
      options,
    );
    if (!r.ok) {
      out.problems.push(
        `${original}: ${depName} (network_mode container:) cannot follow the replacement (${r.reason}); ${backup.name} is kept`,
      );
      return;
    }
    await removeQuietly(docker, r.backupId);
    out.actions.push(`${depName}: recreated to follow ${original}, after an interrupted recreate`);
  }
  await docker.getContainer(backup.id).remove({ force: true, v: false });
  out.actions.push(`${original}: removed the previous container left by an interrupted recreate`);
}

/**
 * For a backup that joined another container's network (`network_mode: container:<id>`) which pooltuner has
 * replaced since: that replacement's id. Restored as it was, the backup would point at a container that is gone.
 */
function replacementOfJoined(backupId: string, all: readonly Docker.ContainerInfo[]): string | undefined {
  const me = all.find((c) => c.Id === backupId);
  const mode = me?.HostConfig?.NetworkMode ?? "";
  if (!mode.startsWith("container:")) return undefined;
  const ref = mode.slice("container:".length);
  if (ref.length < 12 || !/^[0-9a-f]+$/.test(ref)) return undefined; // by name: Docker resolves it at start
  return all.find((c) => (c.Labels?.[REPLACED_LABEL] ?? "").startsWith(ref))?.Id;
}

/** Finish what the interrupted recreate was doing for a dependent: its original, pointed at the new container. */
async function refollow(
  docker: Docker,
  backup: { original: string; wasRunning: boolean; id: string },
  targetId: string,
  options: RecreateOptions,
): Promise<string> {
  const c = docker.getContainer(backup.id);
  await c.rename({ name: backup.original });
  const r = await replace(docker, await c.inspect(), (o) => repointed(o, targetId), options);
  if (!r.ok) throw new Error(r.reason);
  await removeQuietly(docker, r.backupId);
  if (backup.wasRunning) await docker.getContainer(r.id).start();
  return `${backup.original}: recreated to follow the container it shares a network with, after an interrupted recreate`;
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
