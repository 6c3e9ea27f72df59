// A TCP proxy between one client and the real API server that can be told to stall: from hold() on, nothing it
// receives is passed on in either direction (the connections stay open, as when a network path or an overloaded
// server stops answering). The client speaks plain HTTP to the proxy and the proxy speaks TLS to the API server, so
// the proxy sees every request line: it records when each request reached it (method and path), which is what the
// client sent and when — the observable a test needs to show that a client made no write after a moment. It can also
// gate one request: hold that request (and its connection) back until the test lets it go, e.g. to delete the object
// a PATCH is about between the client's read and the moment the API server sees the PATCH.
import { createServer, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { KubeConfig } from "@kubernetes/client-node";

export interface SeenRequest {
  /** Date.now() when the request line reached the proxy. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  /** It arrived while the proxy held: it was never passed on. */
  readonly held: boolean;
}

export interface StallProxy {
  /** `http://127.0.0.1:port` */
  readonly url: string;
  readonly requests: readonly SeenRequest[];
  /** Stop passing anything on, in both directions, on every connection (open or new). */
  hold(): void;
  /**
   * Hold back the first request `match` accepts from now on (with anything after it on its connection), until
   * release(); other connections go on. `seen` resolves when that request reached the proxy.
   */
  gate(match: (method: string, path: string) => boolean): { seen: Promise<SeenRequest>; release(): void };
  /** Close every connection and stop listening. */
  close(): Promise<void>;
  /** A kubeConfig like `kc` (same user) that reaches the API server through this proxy. */
  kubeConfigFrom(kc: KubeConfig): KubeConfig;
}

const REQUEST_LINE = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\S+) HTTP\/1\.[01]$/;

export async function startStallProxy(target: KubeConfig): Promise<StallProxy> {
  const cluster = target.getCurrentCluster();
  if (!cluster) throw new Error("stall proxy: the kubeconfig has no current cluster");
  const server = new URL(cluster.server);
  const ca = cluster.caData ? Buffer.from(cluster.caData, "base64") : undefined;
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let held = false;
  let gate: { match: (method: string, path: string) => boolean; seen: (r: SeenRequest) => void } | undefined;
  /** Per gated connection, what it sent meanwhile; flushed by release(). */
  const gated = new Map<Socket, Buffer[]>();
  const upstreamOf = new WeakMap<Socket, Socket>();

  const proxy = createServer((client) => {
    sockets.add(client);
    const upstream = tlsConnect({
      host: server.hostname,
      port: Number(server.port || 443),
      servername: server.hostname === "127.0.0.1" ? undefined : server.hostname,
      ...(ca ? { ca } : { rejectUnauthorized: false }),
    });
    sockets.add(upstream);
    upstreamOf.set(client, upstream);
    let carry = "";
    client.on("data", (chunk: Buffer) => {
      // Request lines are ASCII and bodies here are JSON: a line that looks like a request line is one.
      const lines = (carry + chunk.toString("latin1")).split("\r\n");
      carry = (lines.pop() ?? "").slice(-4096);
      for (const line of lines) {
        const m = REQUEST_LINE.exec(line);
        if (!m) continue;
        const seen = { at: Date.now(), method: m[1] as string, path: m[2] as string, held };
        requests.push(seen);
        if (gate?.match(seen.method, seen.path) && !gated.has(client)) {
          gated.set(client, []);
          gate.seen(seen);
          gate = undefined;
        }
      }
      const waiting = gated.get(client);
      if (waiting) waiting.push(chunk);
      else if (!held) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!held) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      gated.delete(client);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const address = proxy.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    requests,
    hold() {
      held = true;
    },
    gate(match) {
      let resolveSeen: (r: SeenRequest) => void = () => undefined;
      const seen = new Promise<SeenRequest>((r) => {
        resolveSeen = r;
      });
      gate = { match, seen: resolveSeen };
      return {
        seen,
        release() {
          for (const [client, chunks] of gated) {
            gated.delete(client);
            const upstream = upstreamOf.get(client);
            for (const chunk of chunks) if (!held) upstream?.write(chunk);
          }
        },
      };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
    },
    kubeConfigFrom(kc) {
      const user = kc.getCurrentUser();
      if (!user) throw new Error("stall proxy: the kubeconfig has no current user");
      const out = new (kc.constructor as new () => KubeConfig)();
      out.loadFromOptions({
        // The client allows plain HTTP only with skipTLSVerify (there is no TLS to verify on this hop).
        clusters: [{ name: "via-proxy", server: url, skipTLSVerify: true }],
        users: [user],
        contexts: [{ name: "via-proxy", cluster: "via-proxy", user: user.name }],
        currentContext: "via-proxy",
      });
      return out;
    },
  };
}
