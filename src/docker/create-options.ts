// From a container's inspect to the request that creates the same container again with some env values changed.
// Pure: the caller resolves the image and applies the result. Everything the Engine reports about the container
// is carried over (DESIGN §6, watchtower #1013/#1906): name, image, command, entrypoint, labels, mounts,
// networks with aliases, ports, restart policy, healthcheck, resources, network_mode including `container:`.
// The few fixups below are values the daemon derived itself and would refuse (or misapply) if sent back.
import type Docker from "dockerode";
import { containerName } from "./labels.js";

export interface ExtraNetwork {
  readonly name: string;
  readonly endpoint: Docker.EndpointSettings;
}

export interface CreateRequest {
  readonly options: Docker.ContainerCreateOptions;
  /** The Engine (API < 1.44) attaches one network at create; these are connected before the start. */
  readonly extraNetworks: readonly ExtraNetwork[];
}

type Json = Record<string, unknown>;

/** Replace the values of `overrides` in a `KEY=VALUE` list where they stand; append the ones not there yet. */
export function withEnv(
  env: readonly string[] | null | undefined,
  overrides: Readonly<Record<string, string>>,
): string[] {
  const done = new Set<string>();
  const out: string[] = [];
  for (const line of env ?? []) {
    const eq = line.indexOf("=");
    const key = eq < 0 ? line : line.slice(0, eq);
    if (!Object.hasOwn(overrides, key)) {
      out.push(line);
    } else if (!done.has(key)) {
      // A key listed twice would let the later one win in Docker: keep one entry, with the new value.
      out.push(`${key}=${overrides[key]}`);
      done.add(key);
    }
  }
  for (const [k, v] of Object.entries(overrides)) if (!done.has(k)) out.push(`${k}=${v}`);
  return out;
}

export function createRequest(
  inspect: Docker.ContainerInspectInfo,
  envOverrides: Readonly<Record<string, string>>,
  image: string,
): CreateRequest {
  const config = structuredClone(inspect.Config) as unknown as Json;
  const host = structuredClone(inspect.HostConfig) as unknown as Json;
  const mode = String(host.NetworkMode ?? "default");
  const joinsOther = mode.startsWith("container:");

  config.Env = withEnv(inspect.Config.Env, envOverrides);
  config.Image = image;
  // The daemon names a container's host after its id; the new one gets its own. A set hostname stays.
  if (config.Hostname === inspect.Id.slice(0, 12)) delete config.Hostname;
  if (joinsOther) {
    // Filled from the joined container or the image; the Engine refuses them with `container:` (they come back).
    delete config.Hostname;
    delete config.Domainname;
    delete config.ExposedPorts;
    delete config.MacAddress;
  }

  // Links are reported as `/target:/this/alias`; create takes `target:alias`.
  if (Array.isArray(host.Links)) {
    host.Links = (host.Links as string[]).map((l) => {
      const [target, alias] = l.split(":");
      return `${(target ?? "").replace(/^\//, "")}:${(alias ?? "").split("/").pop()}`;
    });
  }
  carryAnonymousVolumes(inspect, host);

  const { first, extra } = networks(inspect, mode);
  const options: Docker.ContainerCreateOptions = {
    ...(config as Docker.ContainerCreateOptions),
    name: containerName(inspect),
    HostConfig: host as Docker.HostConfig,
    ...(first ? { NetworkingConfig: { EndpointsConfig: { [first.name]: first.endpoint } } } : {}),
  };
  return { options, extraNetworks: extra };
}

/**
 * Anonymous volumes (image VOLUME, compose `- /data`) would be created afresh by a new container: the data
 * would stay behind in the old one. Mount the same volumes by name, as compose does when it recreates.
 */
function carryAnonymousVolumes(inspect: Docker.ContainerInspectInfo, host: Json): void {
  const named = new Set<string>();
  for (const bind of (host.Binds as string[] | null | undefined) ?? []) {
    const parts = bind.split(":");
    if (parts.length >= 2) named.add(parts[1] as string);
  }
  const mounts = ((host.Mounts as Json[] | null | undefined) ?? []).map((m) => ({ ...m }));
  for (const m of mounts) if (m.Source) named.add(String(m.Target));
  let changed = false;
  for (const m of inspect.Mounts ?? []) {
    if (m.Type !== "volume" || !m.Name || named.has(m.Destination)) continue;
    const declared = mounts.find((x) => x.Target === m.Destination);
    if (declared) declared.Source = m.Name;
    else mounts.push({ Type: "volume", Source: m.Name, Target: m.Destination, ReadOnly: !m.RW });
    changed = true;
  }
  if (changed) host.Mounts = mounts;
}

/** The endpoint settings a create or connect accepts, from what inspect reports. */
function endpointFor(inspect: Docker.ContainerInspectInfo, reported: Json): Docker.EndpointSettings {
  const shortId = inspect.Id.slice(0, 12);
  // The daemon adds the container's short id as an alias itself; the new container gets its own.
  const aliases = ((reported.Aliases as string[] | null | undefined) ?? []).filter(
    (a) => a !== shortId && a !== inspect.Id,
  );
  const out: Json = {};
  if (reported.IPAMConfig) out.IPAMConfig = reported.IPAMConfig;
  if (Array.isArray(reported.Links) && reported.Links.length > 0) out.Links = reported.Links;
  if (aliases.length > 0) out.Aliases = aliases;
  if (reported.DriverOpts) out.DriverOpts = reported.DriverOpts;
  return out as Docker.EndpointSettings;
}

function networks(inspect: Docker.ContainerInspectInfo, mode: string): { first?: ExtraNetwork; extra: ExtraNetwork[] } {
  if (mode === "host" || mode === "none" || mode.startsWith("container:")) return { extra: [] };
  const reported = (inspect.NetworkSettings?.Networks ?? {}) as Record<string, Json>;
  const names = Object.keys(reported).sort();
  if (names.length === 0) return { extra: [] };
  // The network named by NetworkMode is the one the container was created on; it goes first.
  const primary = names.includes(mode) ? mode : mode === "default" && names.includes("bridge") ? "bridge" : names[0];
  const ordered = [primary as string, ...names.filter((n) => n !== primary)];
  const all = ordered.map((name) => ({ name, endpoint: endpointFor(inspect, reported[name] as Json) }));
  const [first, ...extra] = all;
  return first ? { first, extra } : { extra };
}
