// /healthz (the process loop is alive), /readyz (caches synced and databases probed once), /metrics.
import { createServer, type Server } from "node:http";
import type { Metrics } from "./metrics.js";

export interface HttpServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly metrics: Metrics;
  readonly healthy: () => boolean;
  readonly ready: () => boolean;
}

/** The port could not be taken: `code` is the socket error (EADDRINUSE, EACCES, ...). */
export class HttpListenError extends Error {
  constructor(
    readonly port: number,
    readonly code: string,
  ) {
    super(`cannot listen on port ${port}: ${code}`);
    this.name = "HttpListenError";
  }
}

export async function startHttpServer(
  options: HttpServerOptions,
): Promise<{ server: Server; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz" || path === "/readyz") {
      const ok = path === "/healthz" ? options.healthy() : options.ready();
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ok\n" : "not ready\n");
      return;
    }
    if (path === "/metrics") {
      options.metrics.registry
        .metrics()
        .then((body) => res.writeHead(200, { "content-type": options.metrics.registry.contentType }).end(body))
        .catch(() => res.writeHead(500).end());
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new HttpListenError(options.port, err.code ?? "error")),
    );
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
