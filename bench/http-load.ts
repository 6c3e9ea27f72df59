// A bounded HTTP load generator for the example app: N concurrent clients for a fixed time against loopback URLs,
// round-robin over the replicas, a new connection per request unless told otherwise. Counts successes, "server
// full" (the app answers with error_code 1040 for MySQL, "53300" for PostgreSQL: `serverFullCode`), other failures
// (the first few kept), the answers per worker process, and latency. Bounded on purpose: loopback only, at most 256
// clients, at most 60 s.
import { Agent, request } from "node:http";

export interface LoadOptions {
  readonly urls: readonly string[];
  readonly concurrency: number;
  readonly durationMs: number;
  /** Per request; a request waiting on a full pool counts as failed after this. */
  readonly timeoutMs?: number;
  /** The `error_code` in the app's JSON body that means "server full": 1040 (MySQL, the default) or "53300". */
  readonly serverFullCode?: number | string;
  /** false (default): a new TCP connection per request, so each request goes to whichever Gunicorn worker accepts
   * it, and the load spreads over the workers as many clients' would. true: each client keeps its connection and
   * stays with the worker that first accepted it; measured on the example app (2 x 4 workers, 64 clients, 8 s) the
   * busiest worker then served up to 9x the requests of the idlest (about 1.3x without keep-alive), and so few
   * workers can open so few connections that the seed's settings may never reach the server's limit. */
  readonly keepAlive?: boolean;
}

export interface LoadResult {
  readonly requests: number;
  readonly ok: number;
  /** Responses that carried the server-full code (MySQL 1040 Too many connections, PostgreSQL 53300). */
  readonly tooManyConnections: number;
  /** Any other failure: other status codes, timeouts, refused connections. */
  readonly otherErrors: number;
  /** The first few other failures as `status body` (status 0: no answer), so they can be explained. */
  readonly otherSamples: readonly string[];
  /** Answers per worker process, keyed `port/pid` (the app puts its pid in every JSON body): how evenly the load
   * reached the workers, which decides how many connections their pools open. */
  readonly servedBy: Readonly<Record<string, number>>;
  readonly seconds: number;
  /** Successful requests per second. */
  readonly okPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const MAX_CONCURRENCY = 256;
const MAX_DURATION_MS = 60_000;
const OTHER_SAMPLES = 5;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.urls.length === 0) throw new Error("no URLs to load");
  const targets = options.urls.map((u) => {
    const { hostname, port } = new URL(u);
    if (hostname !== "127.0.0.1" && hostname !== "localhost" && hostname !== "[::1]")
      throw new Error(`refusing to load ${u}: loopback only`);
    return { url: u, port };
  });
  const concurrency = Math.min(MAX_CONCURRENCY, Math.max(1, options.concurrency));
  const durationMs = Math.min(MAX_DURATION_MS, Math.max(100, options.durationMs));
  const agent = new Agent({ keepAlive: options.keepAlive ?? false, maxSockets: concurrency });
  const latencies: number[] = [];
  let ok = 0;
  let tooMany = 0;
  let other = 0;
  const otherSamples: string[] = [];
  const servedBy: Record<string, number> = {};
  let next = 0;
  const code = String(options.serverFullCode ?? 1040).replace(/[^0-9A-Za-z]/g, "");
  const serverFull = new RegExp(`"error_code":\\s*"?${code}\\b`);
  const start = performance.now();
  const end = start + durationMs;

  const client = async () => {
    while (performance.now() < end) {
      const { url, port } = targets[next++ % targets.length] as (typeof targets)[number];
      const t0 = performance.now();
      const r = await get(url, agent, options.timeoutMs ?? 40_000);
      latencies.push(performance.now() - t0);
      const pid = /"pid":\s*(\d+)/.exec(r.body)?.[1];
      if (pid !== undefined) {
        const key = `${port}/${pid}`;
        servedBy[key] = (servedBy[key] ?? 0) + 1;
      }
      if (r.status === 200) ok++;
      else if (serverFull.test(r.body)) tooMany++;
      else {
        other++;
        if (otherSamples.length < OTHER_SAMPLES) otherSamples.push(`${r.status} ${r.body.slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  agent.destroy();
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  return {
    requests: ok + tooMany + other,
    ok,
    tooManyConnections: tooMany,
    otherErrors: other,
    otherSamples,
    servedBy,
    seconds: Math.round(seconds * 100) / 100,
    okPerSecond: Math.round(ok / seconds),
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
  };
}

/** How the answers spread over the worker processes, e.g. "8 workers answered, 573 to 882 each". */
export function describeSpread(r: LoadResult): string {
  const counts = Object.values(r.servedBy);
  if (counts.length === 0) return "no worker answered";
  return `${counts.length} workers answered, ${Math.min(...counts)} to ${Math.max(...counts)} each`;
}

/** One GET (status and the body's first 4 KiB); a failure or timeout is status 0, never a throw. */
export function get(url: string, agent: Agent, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", () => resolve({ status: 0, body: "" }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.end();
  });
}
