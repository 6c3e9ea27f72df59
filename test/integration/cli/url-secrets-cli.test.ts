// Issue 10: a password in the URL's query string (`?password=`, other spellings) never reaches the CLI's output —
// table, JSON, errors — against a real MariaDB (test/support/mariadb.global.ts), the CLI spawned as a process.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectRoot } from "../../support/mariadb.js";
import { type CliRun, runCli } from "./run-cli.js";

const server = inject("mariadb");
const COMPOSE = "examples/lineage/docker-compose.yml";
const user = "pt_cli_query_pw";
// Characters that need percent-encoding too, so the raw and the decoded forms both have to stay hidden.
const password = `Qs-${randomBytes(8).toString("hex")}@/#`;
const encoded = encodeURIComponent(password);
const base = `mysql://${user}@${server.host}:${server.port}/`;

type Root = Awaited<ReturnType<typeof connectRoot>>;
let root: Root;

function leaksNothing(r: CliRun, ...secrets: string[]): void {
  const all = `${r.stdout}${r.stderr}`;
  for (const s of [password, encoded, ...secrets]) expect(all).not.toContain(s);
  expect(all).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  root = await connectRoot(server.rootUrl);
  await root.query(`CREATE OR REPLACE USER '${user}'@'%' IDENTIFIED BY '${password.replace(/'/g, "''")}'`);
  await root.query(`GRANT PROCESS ON *.* TO '${user}'@'%'`);
  await root.query("SET GLOBAL max_connections = 100");
});

afterAll(async () => {
  await root.query(`DROP USER IF EXISTS '${user}'@'%'`);
  await root.query("SET GLOBAL max_connections = 20");
  await root.close();
});

describe("a URL with its password in the query string", { timeout: 60_000 }, () => {
  it.each(["password", "passwd"])("?%s= probes the server; the table names user@host only", async (key) => {
    const r = await runCli(["check", COMPOSE, "--mysql-url", `${base}?charset=utf8mb4&${key}=${encoded}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^lineage\\s+${user}@\\S+ \\([^)]+\\)\\s+100\\s+`, "m"));
    leaksNothing(r);
  });

  it("-o json from POOLTUNER_MYSQL_URL", async () => {
    const r = await runCli(["plan", COMPOSE, "-o", "json"], { POOLTUNER_MYSQL_URL: `${base}?password=${encoded}` });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).inputs.databases[0].origin).toMatchObject({ kind: "probe" });
    leaksNothing(r);
  });

  it("a wrong ?password=: exit 3, authentication failed, the wrong password not printed either", async () => {
    const wrong = `Wr0ng-${randomBytes(6).toString("hex")}`;
    const r = await runCli(["check", COMPOSE, "--mysql-url", `${base}?password=${wrong}`, "-o", "json"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/authentication failed for pt_cli_query_pw@/);
    leaksNothing(r, wrong);
  });

  it.each(["PASSWORD", "pwd", "ssl-key", "sslkey", "token", "Passwd"])(
    "?%s= is an unknown parameter: exit 2, one line, its value hidden",
    async (key) => {
      const r = await runCli(["check", COMPOSE, "--mysql-url", `${base}?${key}=${encoded}`]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`unknown parameter "${key}" in ${base}?${key}=***`);
      leaksNothing(r);
    },
  );

  it("a URL that cannot be parsed shows its scheme alone", async () => {
    const r = await runCli([
      "check",
      COMPOSE,
      "--mysql-url",
      `mysql://${user}:${password}@:99999/?password=${password}`,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mysql:\/\/\*\*\*/);
    leaksNothing(r);
  });
});

/** A loopback port nobody listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const address = srv.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise((r) => srv.close(r));
  return port;
}

describe("a URL whose server refuses the login or does not answer", { timeout: 60_000 }, () => {
  const wrong = `Wr0ng-${randomBytes(6).toString("hex")}@/#`;
  const cases = [
    {
      what: "a wrong password in the userinfo",
      url: () => `mysql://${user}:${encodeURIComponent(wrong)}@${server.host}:${server.port}/`,
      says: new RegExp(`authentication failed for ${user}@${server.host}:${server.port}`),
    },
    {
      what: "?password= on a port nobody listens on",
      url: async () => `mysql://${user}@127.0.0.1:${await closedPort()}/?password=${encodeURIComponent(wrong)}`,
      says: /cannot reach MySQL at pt_cli_query_pw@127\.0\.0\.1:\d+/,
    },
    {
      what: "?passwd= on a port nobody listens on",
      url: async () => `mysql://${user}@127.0.0.1:${await closedPort()}/?passwd=${encodeURIComponent(wrong)}`,
      says: /cannot reach MySQL at pt_cli_query_pw@127\.0\.0\.1:\d+/,
    },
  ];
  for (const command of ["plan", "check"]) {
    for (const format of ["table", "json"]) {
      it.each(cases)(`${command} -o ${format}, $what: exit 3, names user@host, no secret`, async (k) => {
        const r = await runCli([command, COMPOSE, "--mysql-url", await k.url(), "-o", format]);
        expect(r.code).toBe(3);
        expect(r.stderr).toMatch(k.says);
        leaksNothing(r, wrong, encodeURIComponent(wrong), wrong.slice(0, 18));
      });
    }
  }
});
