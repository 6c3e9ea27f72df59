// The request limits of src/kube/client.ts against a real TCP server that accepts and never answers (the way a
// stalled API server looks to a client): a call ends at the timeout, and a write past the writer's deadline is
// refused before a byte is sent.
import { createServer, type Server, type Socket } from "node:net";
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { limitRequests, requestVerb, WriteRefusedError } from "../../src/kube/client.js";
import { errorSummary } from "../../src/kube/events.js";

let server: Server;
let port = 0;
const sockets: Socket[] = [];
/** Bytes received per connection: what reached the "API server". */
let received = 0;

beforeAll(async () => {
  server = createServer((s) => {
    sockets.push(s);
    s.on("data", (d) => {
      received += d.length;
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  port = typeof address === "object" && address ? address.port : 0;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

describe("limitRequests", () => {
  it("ends a call the server never answers at the timeout, with a line that says so", async () => {
    const api = limitRequests(kubeConfig(), { timeoutMs: 300 }).makeApiClient(CoreV1Api);
    const started = performance.now();
    const err = await api.listNamespace().then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = performance.now() - started;
    expect(err).toBeDefined();
    expect(errorSummary(err)).toBe("no answer from the API server within the request timeout");
    // Generous: the point is "not undici's 300 s".
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(20_000);
  });

  it("refuses a write once the writer may no longer write, before anything is sent; reads still go", async () => {
    let left = 0;
    const kc = limitRequests(kubeConfig(), { timeoutMs: 300, writableForMs: () => left });
    const apps = kc.makeApiClient(AppsV1Api);
    const before = received;
    await expect(
      apps.patchNamespacedDeployment({ name: "web", namespace: "default", body: {} }),
    ).rejects.toBeInstanceOf(WriteRefusedError);
    expect(received).toBe(before);
    // A read is not a write: it is sent (and times out here).
    await expect(kc.makeApiClient(CoreV1Api).listNamespace()).rejects.toThrow();
    expect(received).toBeGreaterThan(before);
    // Allowed, but only for 200 ms: the write is cut off then, well before the 5 s timeout.
    left = 200;
    const long = limitRequests(kubeConfig(), { timeoutMs: 5_000, writableForMs: () => left });
    const started = performance.now();
    await expect(
      long.makeApiClient(AppsV1Api).patchNamespacedDeployment({ name: "web", namespace: "default", body: {} }),
    ).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(4_000);
  });

  it("cuts every call in flight when its signal aborts", async () => {
    const abort = new AbortController();
    const api = limitRequests(kubeConfig(), { timeoutMs: 60_000, signal: abort.signal }).makeApiClient(CoreV1Api);
    const call = api.listNamespace();
    setTimeout(() => abort.abort(), 100);
    await expect(call).rejects.toThrow();
  });
});

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const address = s.address();
  const p = typeof address === "object" && address ? address.port : 0;
  await new Promise((r) => s.close(r));
  return p;
}

function configFor(server: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return limitRequests(kc, { timeoutMs: 10_000 });
}

describe("errorSummary of a network error (the real client against a closed port)", () => {
  it("says the cause, not only `fetch failed`", async () => {
    const closed = await closedPort();
    for (const scheme of ["http", "https"]) {
      const api = configFor(`${scheme}://127.0.0.1:${closed}`, "tok-9f8e7d6c5b4a").makeApiClient(CoreV1Api);
      const err = await api.listNamespace().then(
        () => undefined,
        (e: unknown) => e,
      );
      // Independent expectation: the address and the errno name as the OS reports a refused connect.
      expect(errorSummary(err)).toBe(`fetch failed: connect ECONNREFUSED 127.0.0.1:${closed}`);
      expect(errorSummary(err)).not.toContain("tok-9f8e7d6c5b4a");
    }
  });

  it("names a host that does not resolve", async () => {
    const api = configFor("https://no-such-host.invalid:6443", "t").makeApiClient(CoreV1Api);
    const err = await api.listNamespace().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errorSummary(err)).toMatch(/^fetch failed: getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\.invalid$/);
  });

  it("never prints the credentials of a server URL that carries them", async () => {
    const closed = await closedPort();
    const api = configFor(`https://admin:hunter2-secret@127.0.0.1:${closed}`, "t").makeApiClient(CoreV1Api);
    const err = await api.listNamespace().then(
      () => undefined,
      (e: unknown) => e,
    );
    // fetch refuses such a URL and quotes it whole in its message.
    expect(String((err as Error).message)).toContain("hunter2-secret");
    const line = errorSummary(err);
    expect(line).not.toContain("hunter2-secret");
    expect(line).toContain("***");
  });

  it("joins the errors of an AggregateError (dual-stack connect) and walks nested causes", () => {
    const refused = (address: string) =>
      Object.assign(new Error(`connect ECONNREFUSED ${address}:6443`), { code: "ECONNREFUSED" });
    const aggregate = Object.assign(new AggregateError([refused("::1"), refused("127.0.0.1")], ""), {
      code: "ECONNREFUSED",
    });
    const wrapped = new TypeError("fetch failed", { cause: aggregate });
    expect(errorSummary(wrapped)).toBe(
      "fetch failed: connect ECONNREFUSED ::1:6443; connect ECONNREFUSED 127.0.0.1:6443",
    );
  });
});

describe("requestVerb", () => {
  const base = "https://127.0.0.1:6443";
  it("tells watches, lists and gets apart by URL, and names writes by their method", () => {
    expect(requestVerb("GET", `${base}/apis/apps/v1/namespaces/shop/deployments?watch=true&resourceVersion=5`)).toBe(
      "watch",
    );
    expect(requestVerb("GET", `${base}/apis/apps/v1/namespaces/shop/deployments?limit=500`)).toBe("list");
    expect(requestVerb("GET", `${base}/apis/apps/v1/deployments`)).toBe("list");
    expect(requestVerb("GET", `${base}/api/v1/namespaces`)).toBe("list");
    expect(requestVerb("GET", `${base}/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb`)).toBe("list");
    expect(requestVerb("GET", `${base}/api/v1/namespaces/shop`)).toBe("get");
    expect(requestVerb("GET", `${base}/apis/apps/v1/namespaces/shop/deployments/web`)).toBe("get");
    expect(requestVerb("PATCH", `${base}/apis/apps/v1/namespaces/shop/deployments/web`)).toBe("patch");
    expect(requestVerb("POST", `${base}/api/v1/namespaces/shop/events`)).toBe("post");
  });
});
