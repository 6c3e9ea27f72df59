// Issue 10, secrets end to end: database URLs carrying a password in the query string (`?password=`, `?passwd=`) or
// in the userinfo, pointing at a server that refuses the login or at a port nobody listens on, with the controller
// running against the real cluster. Everything the controller leaves behind is read back — every Event in the
// workloads' namespaces, every annotation of the workloads, the /metrics page over HTTP, every log line (debug level)
// — and no secret appears in any of it, raw or percent-encoded; the messages still name the database and its host.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../../../src/kube/controller.js";
import type { DatabaseConfig } from "../../../src/runtime/config.js";
import { createLogger } from "../../../src/runtime/logger.js";
import {
  type Cluster,
  cluster,
  createApp,
  createNamespace,
  type Database,
  database,
  eventually2,
  getDeployment,
  runController,
  seedApp,
  statusOf,
} from "./harness.js";

let c: Cluster;
let db: Database;
const running: RunningController[] = [];

/** A secret with characters that must be percent-encoded, so the raw and the encoded forms both have to stay hidden. */
const secret = (tag: string) => `${tag}-${randomBytes(8).toString("hex")}@/#&=`;
const enc = encodeURIComponent;

/** A loopback port nobody listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  c = await cluster();
  db = await database("ctl-url-secrets", 60);
});

afterAll(async () => {
  for (const r of running) await r.stop();
  await db?.db.stop();
});

describe("database URLs with secrets, controller running", () => {
  it("no secret in Events, annotations, /metrics or logs; the messages name database and host", async () => {
    const { host, port } = db.db;
    const goodUser = "qsmon";
    const good = secret("good");
    await db.db.query(`CREATE USER '${goodUser}'@'%' IDENTIFIED BY '${good}'`);
    await db.db.query(`GRANT PROCESS ON *.* TO '${goodUser}'@'%'`);
    const wrongQuery = secret("wrongq");
    const wrongUserinfo = secret("wrongu");
    const unreachablePasswd = secret("passwd");
    const pgPassword = secret("pg");
    const closedMysql = await closedPort();
    const closedPg = await closedPort();
    const databases: (DatabaseConfig & { url: string })[] = [
      // Reachable, the password in the query string: the workloads get their status annotations.
      { name: "qs-ok", url: `mysql://${goodUser}@${host}:${port}/?charset=utf8mb4&password=${enc(good)}` },
      // The server refuses the login: a wrong password in the query string, and one in the userinfo.
      { name: "qs-refused", url: `mysql://${goodUser}@${host}:${port}/?password=${enc(wrongQuery)}` },
      { name: "userinfo-refused", url: `mysql://${goodUser}:${enc(wrongUserinfo)}@${host}:${port}/` },
      // Nobody listens: `?passwd=` (PyMySQL's spelling), and a PostgreSQL URL with `?password=`.
      {
        name: "passwd-unreachable",
        url: `mysql://${goodUser}@127.0.0.1:${closedMysql}/?passwd=${enc(unreachablePasswd)}`,
      },
      {
        name: "pg-unreachable",
        url: `postgresql://app@127.0.0.1:${closedPg}/orders?sslmode=disable&password=${enc(pgPassword)}`,
      },
    ];
    const secrets = [good, wrongQuery, wrongUserinfo, unreachablePasswd, pgPassword].flatMap((s) => [
      s,
      enc(s),
      // The random part alone: a secret cut or re-encoded somewhere must not show up either.
      s.split("-")[1]?.slice(0, 16) as string,
    ]);

    const nsA = await createNamespace(c, "secrets-a");
    const nsB = await createNamespace(c, "secrets-b");
    const apps = [
      { ns: nsA, name: "ok-app", database: "qs-ok" },
      { ns: nsA, name: "refused-q", database: "qs-refused" },
      { ns: nsA, name: "refused-u", database: "userinfo-refused" },
      { ns: nsB, name: "unreach-my", database: "passwd-unreachable" },
      { ns: nsB, name: "unreach-pg", database: "pg-unreachable" },
    ];
    for (const a of apps) await createApp(c, seedApp(a.name, a.ns, a.database));

    const logLines: string[] = [];
    const ctl = await runController(c, {
      databases,
      namespaces: [nsA, nsB],
      http: { port: 0, host: "127.0.0.1" },
      log: createLogger({ level: "debug", name: "url-secrets", destination: { write: (l) => logLines.push(l) } }),
    });
    running.push(ctl);

    // What each failing database's workloads are told: a DatabaseUnreachable Warning naming the database and host.
    const expectations = [
      { app: apps[1], what: [/qs-refused/, new RegExp(`${goodUser}@${host}:${port}`), /authentication/i] },
      { app: apps[2], what: [/userinfo-refused/, new RegExp(`${goodUser}@${host}:${port}`), /authentication/i] },
      { app: apps[3], what: [/passwd-unreachable/, new RegExp(`127\\.0\\.0\\.1:${closedMysql}`)] },
      { app: apps[4], what: [/pg-unreachable/, new RegExp(`127\\.0\\.0\\.1:${closedPg}`)] },
    ];
    for (const { app, what } of expectations) {
      const a = app as (typeof apps)[number];
      const ev = await eventually2(`DatabaseUnreachable on ${a.name}`, async () => {
        const list = await c.core.listNamespacedEvent({
          namespace: a.ns,
          fieldSelector: `involvedObject.name=${a.name}`,
        });
        return list.items.find((e) => e.reason === "DatabaseUnreachable");
      });
      expect(ev.type).toBe("Warning");
      for (const re of what) expect(ev.message).toMatch(re);
    }
    // The reachable one was planned with its query-string password: its status annotation is written.
    await eventually2("ok-app has a status annotation", async () =>
      statusOf(await getDeployment(c, nsA, "ok-app")) ? true : undefined,
    );
    expect(ctl.port).toBeGreaterThan(0);
    const metricsPage = await eventually2("the /metrics page shows every database", async () => {
      const text = await (await fetch(`http://127.0.0.1:${ctl.port}/metrics`)).text();
      return databases.every((d) => text.includes(`database="${d.name}"`)) ? text : undefined;
    });
    await ctl.idle();

    // Everything it left behind, read back.
    const events = [];
    for (const namespace of [nsA, nsB]) events.push(...(await c.core.listNamespacedEvent({ namespace })).items);
    expect(events.length).toBeGreaterThan(0);
    const annotations = [];
    for (const a of apps) annotations.push((await getDeployment(c, a.ns, a.name)).metadata?.annotations ?? {});
    const logs = logLines.join("");
    // The logs are useful too: each failing database is named with its host.
    expect(logs).toMatch(new RegExp(`qs-refused[^\\n]*${goodUser}@${host}:${port}`));
    expect(logs).toMatch(new RegExp(`passwd-unreachable[^\\n]*127\\.0\\.0\\.1:${closedMysql}`));
    expect(logs).toMatch(new RegExp(`pg-unreachable[^\\n]*127\\.0\\.0\\.1:${closedPg}`));

    const haystacks: [string, string][] = [
      ["events", JSON.stringify(events)],
      ["annotations", JSON.stringify(annotations)],
      ["/metrics", metricsPage],
      ["logs", logs],
    ];
    for (const [where, text] of haystacks) {
      for (const s of secrets)
        expect({ where, leaked: text.includes(s) ? s : undefined }).toEqual({ where, leaked: undefined });
    }
    await ctl.stop();
  });
});
