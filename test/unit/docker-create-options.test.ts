import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { createRequest, withEnv } from "../../src/docker/create-options.js";

describe("withEnv", () => {
  it("replaces values where they stand and appends missing keys", () => {
    expect(withEnv(["A=1", "POOL=2", "B=x=y"], { POOL: "1", OVER: "1" })).toEqual(["A=1", "POOL=1", "B=x=y", "OVER=1"]);
  });
  it("keeps one entry for a key listed twice (Docker would let the later one win)", () => {
    expect(withEnv(["POOL=2", "X=1", "POOL=3"], { POOL: "1" })).toEqual(["POOL=1", "X=1"]);
  });
});

// The shape the Engine (API 1.41) reports; only the fields the mapping reads or must carry over matter.
function inspect(over: { Config?: object; HostConfig?: object; NetworkSettings?: object; Mounts?: object[] }) {
  return {
    Id: "0123456789abcdef0123456789abcdef",
    Name: "/lineage-app-1",
    Image: "sha256:feed",
    State: { Running: true },
    Mounts: over.Mounts ?? [],
    Config: {
      Hostname: "0123456789ab",
      Env: ["PATH=/usr/bin", "LINEAGE_DB_POOL_SIZE=2"],
      Cmd: ["gunicorn", "app:app"],
      Image: "lineage:latest",
      Labels: { "com.docker.compose.service": "app" },
      ExposedPorts: { "8000/tcp": {} },
      ...over.Config,
    },
    HostConfig: { NetworkMode: "lineage_default", RestartPolicy: { Name: "unless-stopped" }, ...over.HostConfig },
    NetworkSettings: over.NetworkSettings ?? {
      Networks: {
        lineage_default: {
          Aliases: ["lineage-app-1", "app", "0123456789ab"],
          NetworkID: "n1",
          IPAddress: "172.18.0.2",
        },
        backend: { Aliases: ["api"], IPAMConfig: { IPv4Address: "10.9.0.5" }, NetworkID: "n2" },
      },
    },
  } as unknown as Docker.ContainerInspectInfo;
}

describe("createRequest", () => {
  it("carries everything over, changes the env, lets the new container name its own host", () => {
    const req = createRequest(inspect({}), { LINEAGE_DB_POOL_SIZE: "1" }, "lineage:latest");
    expect(req.options.name).toBe("lineage-app-1");
    expect(req.options.Env).toEqual(["PATH=/usr/bin", "LINEAGE_DB_POOL_SIZE=1"]);
    expect(req.options.Hostname).toBeUndefined();
    expect(req.options.Cmd).toEqual(["gunicorn", "app:app"]);
    expect(req.options.Labels).toEqual({ "com.docker.compose.service": "app" });
    expect(req.options.HostConfig?.RestartPolicy).toEqual({ Name: "unless-stopped" });
    // The network named by NetworkMode goes first; its own short id is not carried as an alias.
    expect(req.options.NetworkingConfig?.EndpointsConfig).toEqual({
      lineage_default: { Aliases: ["lineage-app-1", "app"] },
    });
    expect(req.extraNetworks).toEqual([
      { name: "backend", endpoint: { Aliases: ["api"], IPAMConfig: { IPv4Address: "10.9.0.5" } } },
    ]);
  });

  it("keeps a hostname the user set", () => {
    const req = createRequest(inspect({ Config: { Hostname: "web" } }), {}, "lineage:latest");
    expect(req.options.Hostname).toBe("web");
  });

  it("drops what the Engine refuses with network_mode container: and attaches no network", () => {
    const req = createRequest(
      inspect({
        Config: { Hostname: "sidecar-host", Domainname: "x" },
        HostConfig: { NetworkMode: "container:abc" },
        NetworkSettings: { Networks: {} },
      }),
      {},
      "img",
    );
    expect(req.options.HostConfig?.NetworkMode).toBe("container:abc");
    expect(req.options.Hostname).toBeUndefined();
    expect(req.options.Domainname).toBeUndefined();
    expect(req.options.ExposedPorts).toBeUndefined();
    expect(req.options.NetworkingConfig).toBeUndefined();
  });

  it("attaches no network for host mode", () => {
    const req = createRequest(
      inspect({ HostConfig: { NetworkMode: "host" }, NetworkSettings: { Networks: { host: {} } } }),
      {},
      "img",
    );
    expect(req.options.NetworkingConfig).toBeUndefined();
    expect(req.extraNetworks).toEqual([]);
  });

  it("mounts anonymous volumes by name so their data follows, and converts links", () => {
    const req = createRequest(
      inspect({
        HostConfig: { Binds: ["/srv/conf:/etc/app:ro", "named:/named"], Links: ["/db:/lineage-app-1/database"] },
        Mounts: [
          { Type: "bind", Source: "/srv/conf", Destination: "/etc/app", RW: false },
          { Type: "volume", Name: "named", Destination: "/named", RW: true },
          { Type: "volume", Name: "3f2a", Destination: "/data", RW: true },
        ],
      }),
      {},
      "img",
    );
    expect(req.options.HostConfig?.Mounts).toEqual([
      { Type: "volume", Source: "3f2a", Target: "/data", ReadOnly: false },
    ]);
    expect(req.options.HostConfig?.Binds).toEqual(["/srv/conf:/etc/app:ro", "named:/named"]);
    expect(req.options.HostConfig?.Links).toEqual(["db:database"]);
  });

  it("does not modify the inspect it was given", () => {
    const i = inspect({});
    const before = JSON.stringify(i);
    createRequest(i, { LINEAGE_DB_POOL_SIZE: "1" }, "img");
    expect(JSON.stringify(i)).toBe(before);
  });
});
