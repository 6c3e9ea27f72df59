// The Kubernetes API connection, loaded once by the entry point (the in-cluster service account, a kubeconfig
// file, or the default search), so the client library stays inside src/kube/.
//
// The generated client sends every call through undici's fetch, whose only limit is its own 300 s: a call that
// hangs would hold a reconcile (or a lease renewal) for five minutes. `limitRequests` gives every API call made
// through a KubeConfig a timeout, and, for the controller's writers, refuses a write outright once this replica's
// right to write has run out (the renew deadline of its lease) and cuts a write short when it runs out meanwhile.
// Both go through the one hook every generated API call passes (applySecurityAuthentication), so no write path can
// forget them. Watches pass there too but send with their own signal: a watch is long by design, and the client's
// Watch has its own inactivity timeout (see informer.ts).
import { HttpMethod, KubeConfig, type RequestContext } from "@kubernetes/client-node";

export type { KubeConfig } from "@kubernetes/client-node";

/** Default of `--kube-request-timeout`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Loads `file`, or the default (in-cluster, then $KUBECONFIG, then ~/.kube/config), with every API call limited to
 * the default request timeout. Throws what the loader throws.
 */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return limitRequests(kc, { timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS });
}

export interface RequestLimits {
  /** Every API call fails after this long (asked per call when a function). */
  readonly timeoutMs: number | (() => number);
  /** Every call still running when this aborts is cut off (the controller's shutdown). */
  readonly signal?: AbortSignal;
  /**
   * How long this replica may still write (ms; Infinity without leader election). Asked before every call that is
   * not a read: at 0 or less the call is refused before anything is sent; otherwise it is cut off when it runs out.
   */
  readonly writableForMs?: () => number;
  /** Told of every call before it is sent: `watch`, `list`, `get` or the write's method (for a request counter). */
  readonly onRequest?: (verb: string) => void;
}

/** What a call does, from its method and URL: a GET is a watch, a list or a get. */
export function requestVerb(method: string, url: string): string {
  if (method !== HttpMethod.GET) return method.toLowerCase();
  const u = new URL(url);
  if (u.searchParams.get("watch") === "true" || u.searchParams.get("watch") === "1") return "watch";
  // A collection path ends in the resource's plural; a single object's path has its name after it. Lists carry
  // paging or selector parameters, or end at a known collection.
  const parts = u.pathname.split("/").filter(Boolean);
  const core = parts[0] === "api";
  // /api/v1/[namespaces/NS/]RES[/NAME] or /apis/GROUP/VERSION/[namespaces/NS/]RES[/NAME]
  let rest = parts.slice(core ? 2 : 3);
  if (rest[0] === "namespaces" && rest.length >= 3) rest = rest.slice(2);
  return rest.length <= 1 ? "list" : "get";
}

/** A write refused because this replica may no longer write (its lease was not renewed within the deadline). */
export class WriteRefusedError extends Error {
  readonly code = "write-refused";
}

const READS: ReadonlySet<string> = new Set([HttpMethod.GET, HttpMethod.HEAD, HttpMethod.OPTIONS]);

class LimitedKubeConfig extends KubeConfig {
  constructor(private readonly limits: RequestLimits) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const { timeoutMs, signal } = this.limits;
    this.limits.onRequest?.(requestVerb(context.getHttpMethod(), context.getUrl()));
    let ms = typeof timeoutMs === "function" ? timeoutMs() : timeoutMs;
    if (this.limits.writableForMs && !READS.has(context.getHttpMethod())) {
      const left = this.limits.writableForMs();
      if (!(left > 0)) {
        throw new WriteRefusedError("write refused: this replica is not leading (its lease was not renewed in time)");
      }
      ms = Math.min(ms, left);
    }
    const signals = [AbortSignal.timeout(Math.max(1, Math.ceil(ms)))];
    const own = context.getSignal();
    if (own) signals.push(own);
    if (signal) signals.push(signal);
    context.setSignal(signals.length === 1 ? (signals[0] as AbortSignal) : AbortSignal.any(signals));
  }
}

/** A copy of `kc` whose API calls all obey `limits` (the original is left as it is). */
export function limitRequests(kc: KubeConfig, limits: RequestLimits): KubeConfig {
  const limited = new LimitedKubeConfig(limits);
  limited.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return limited;
}
