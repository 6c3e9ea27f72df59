// The Docker Engine connection. The entry point reads DOCKER_HOST once and passes it here, so nothing below
// reads the environment (dockerode's own default would read process.env deep inside the modem).
import Docker from "dockerode";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** `unix:///path`, a bare socket path, or `tcp://host:port` (plain HTTP; TLS setups should use the socket). */
export function dockerClient(host: string | undefined): Docker {
  const target = host && host.trim() !== "" ? host.trim() : `unix://${DEFAULT_DOCKER_SOCKET}`;
  if (target.startsWith("unix://")) return new Docker({ socketPath: target.slice("unix://".length) });
  if (target.startsWith("/")) return new Docker({ socketPath: target });
  const m = /^(tcp|http):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(target);
  if (!m) throw new Error(`unsupported Docker host "${target}": use unix:///path/to/docker.sock or tcp://host:port`);
  return new Docker({ host: (m[2] as string).replace(/^\[|\]$/g, ""), port: Number(m[3]), protocol: "http" });
}

/** A short, secret-free description of where the daemon is, for logs. */
export function describeDockerHost(host: string | undefined): string {
  return host && host.trim() !== "" ? host.trim() : `unix://${DEFAULT_DOCKER_SOCKET}`;
}
