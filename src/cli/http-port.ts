// The daemons' /healthz, /readyz and /metrics server, started from the CLI: a port that cannot be taken (in use,
// privileged, not an address here) is bad input that names the port and the flag, not an internal error.
import { HttpListenError, type HttpServerOptions, startHttpServer } from "../runtime/http-server.js";
import { CliError } from "./exit.js";

export async function listen(port: number, flag: string, options: HttpServerOptions) {
  try {
    return await startHttpServer(options);
  } catch (err) {
    throw listenFailure(err, port, flag);
  }
}

/** A CliError for an HttpListenError; anything else unchanged. */
export function listenFailure(err: unknown, port: number, flag: string): unknown {
  if (!(err instanceof HttpListenError)) return err;
  const why =
    err.code === "EADDRINUSE"
      ? "is already in use"
      : err.code === "EACCES" || err.code === "EPERM"
        ? "needs privileges this process does not have"
        : `cannot be opened (${err.code})`;
  return new CliError("bad-input", [
    `${flag} ${port}: port ${port} ${why}; choose another with ${flag} (0 turns the server off)`,
  ]);
}
