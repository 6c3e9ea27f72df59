// Which database user a workload connects as (issue 8 item 7): every env value that is a MySQL/MariaDB or PostgreSQL URL, any
// name, SQLAlchemy `dialect+driver://` schemes included; several users told apart by the database's host:port.
// Read through the real compose reader and the real `plan` run (fake probe only: no database needed here).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/run.js";
import type { ProbeResult } from "../../src/mysql/probe.js";
import { accountCandidates, catalogFor, resolveAccount } from "../../src/sources/account.js";
import { loadSources } from "../../src/sources/load.js";
import type { EnvValue } from "../../src/sources/workers.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pooltuner-account-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One compose service with the seed's labels (workers given) and `env`. */
async function composeFile(name: string, env: Record<string, string>): Promise<string> {
  const lines = Object.entries(env).map(([k, v]) => `      ${k}: "${v}"`);
  const file = join(dir, name);
  await writeFile(
    file,
    `name: lineage
services:
  app:
    image: app
    labels:
      io.pooltuner.enabled: "true"
      io.pooltuner.database: lineage
      io.pooltuner.workers: "4"
      io.pooltuner.pool-size-env: LINEAGE_DB_POOL_SIZE
      io.pooltuner.max-overflow-env: LINEAGE_DB_MAX_OVERFLOW
    environment:
      LINEAGE_DB_POOL_SIZE: "1"
      LINEAGE_DB_MAX_OVERFLOW: "1"
${lines.join("\n")}
`,
  );
  return file;
}

const env = (vars: Record<string, string>): ReadonlyMap<string, EnvValue> =>
  new Map(Object.entries(vars).map(([k, v]) => [k, { kind: "value", value: v }]));

describe("the account from env", () => {
  it("takes the user of a URL in any env var (the seed's LINEAGE_DB_URL), never keeping the password", async () => {
    const file = await composeFile("seed.yml", {
      LINEAGE_DB_URL: "mysql+pymysql://lineage:Zx9%40pw@db:3306/lineage?charset=utf8mb4",
    });
    const r = await loadSources([file], { environment: {} });
    expect(r.errors).toEqual([]);
    const w = r.workloads[0];
    expect(w?.workload.account).toBe("lineage");
    expect(w?.accountFrom).toBe("user in env LINEAGE_DB_URL");
    expect(w?.accountCandidates).toEqual([{ env: "LINEAGE_DB_URL", user: "lineage", host: "db", port: 3306 }]);
    expect(JSON.stringify(r)).not.toContain("Zx9");
  });

  it.each([
    ["mysql://app:pw@h/db"],
    ["mariadb://app:pw@h/db"],
    ["mysql+pymysql://app:pw@h:3306/db"],
    ["mysql+mysqldb://app:pw@h/db"],
    ["mysql+mysqlconnector://app:pw@h/db"],
    ["mariadb+mariadbconnector://app:pw@h/db"],
    ["mysql+aiomysql://app:pw@h/db"],
    ["MYSQL+ASYNCMY://app:pw@h/db"],
    ["  mysql+pymysql://app:p:w/x@h/db  "],
    ["mysql+pymysql://app@h/db"],
    ["postgres://app:pw@h/db"],
    ["postgresql://app:pw@h:5433/db?sslmode=require"],
    ["postgresql+psycopg2://app:pw@h/db"],
    ["postgresql+asyncpg://app:p:w/x@h/db"],
  ])("reads the user of %s", (url) => {
    expect(accountCandidates(env({ SOME_URL: url })).map((c) => c.user)).toEqual(["app"]);
  });

  it("ignores values that are not MySQL/MariaDB/PostgreSQL URLs or name no user", () => {
    const c = accountCandidates(
      env({
        PG_NO_USER: "postgresql:///db?host=/run/postgresql",
        SQLITE: "sqlite:///x.db",
        WEB: "https://user:pw@example.com/",
        NO_USER: "mysql+pymysql://h:3306/db",
        TEXT: "uses mysql://somewhere",
      }),
    );
    expect(c).toEqual([]);
  });

  it("decodes a percent-encoded user, defaults the port and the host (socket) like the client", () => {
    expect(accountCandidates(env({ A: "mysql+pymysql://app%2Bro:pw@/db?unix_socket=/run/mysqld.sock" }))).toEqual([
      { env: "A", user: "app+ro", host: "localhost", port: 3306 },
    ]);
    expect(accountCandidates(env({ B: "mysql://app:pw@[::1]:3307/db" }))).toEqual([
      { env: "B", user: "app", host: "::1", port: 3307 },
    ]);
  });

  it("PostgreSQL URLs: port 5432 by default, a percent-encoded socket directory as the host", () => {
    expect(
      accountCandidates(
        env({ DATABASE_URL: "postgresql+psycopg2://shop:pw@pg/shop", LOCAL: "postgres://shop@%2Frun%2Fpostgresql/x" }),
      ),
    ).toEqual([
      { env: "DATABASE_URL", user: "shop", host: "pg", port: 5432, catalog: "shop" },
      { env: "LOCAL", user: "shop", host: "/run/postgresql", port: 5432, catalog: "x" },
    ]);
    // No path: libpq's default database, the user's name.
    expect(accountCandidates(env({ U: "postgres://ledger:pw@pg:5433" }))[0]?.catalog).toBe("ledger");
    // A MySQL and a PostgreSQL URL with different users: the database's host:port picks.
    const both = accountCandidates(
      env({ MYSQL_URL: "mysql://lineage:pw@db:3306/x", DATABASE_URL: "postgresql://shop:pw@db:5432/x" }),
    );
    expect(resolveAccount(both, { host: "db", port: 5432 }, "pooltuner.io/")).toMatchObject({ account: "shop" });
    expect(resolveAccount(both, { host: "db", port: 3306 }, "pooltuner.io/")).toMatchObject({ account: "lineage" });
  });

  it("the catalog: the one database every PostgreSQL URL of the account names; at the database's address when they differ", () => {
    const one = accountCandidates(env({ A: "postgresql://shop:pw@pg/shop", B: "postgres://shop:pw@replica/shop" }));
    expect(catalogFor(one, "shop")).toBe("shop");
    const two = accountCandidates(env({ A: "postgresql://shop:pw@pg:5432/shop", B: "postgres://shop:pw@dw:5433/dw" }));
    expect(catalogFor(two, "shop")).toBeUndefined();
    expect(catalogFor(two, "shop", { host: "dw", port: 5433 })).toBe("dw");
    expect(catalogFor(accountCandidates(env({ A: "mysql://shop:pw@db/shop" })), "shop")).toBeUndefined();
  });

  it("one user among several URLs is the account whatever their host (compose reaches the database as `db`)", () => {
    const candidates = accountCandidates(
      env({ DATABASE_URL: "mysql://app:pw@db/x", READ_URL: "mysql+pymysql://app:pw@replica:3307/x" }),
    );
    expect(resolveAccount(candidates, { host: "127.0.0.1", port: 13306 }, "io.pooltuner.")).toEqual({
      account: "app",
      from: "user in env DATABASE_URL, READ_URL",
    });
  });

  it("several users: the one at the database's host:port; none or several matching: unknown, naming only the vars", () => {
    const candidates = accountCandidates(
      env({
        APP_DB_URL: "mysql+pymysql://app:s3cret@db.internal:3306/app",
        ANALYTICS_URL: "mysql://reporter:s3cret@warehouse:3307/dw",
      }),
    );
    expect(resolveAccount(candidates, { host: "DB.internal", port: 3306 }, "io.pooltuner.")).toEqual({
      account: "app",
      from: "user in env APP_DB_URL",
    });
    expect(resolveAccount(candidates, { host: "warehouse", port: 3307 }, "io.pooltuner.")).toMatchObject({
      account: "reporter",
    });
    const none = resolveAccount(candidates, { host: "db.internal", port: 3307 }, "io.pooltuner.");
    expect(none.account).toBeUndefined();
    expect("warning" in none && none.warning).toBe(
      "database URLs in env ANALYTICS_URL, APP_DB_URL name different users and none or several of them point at the database's host:port db.internal:3307: the account is unknown; set io.pooltuner.account",
    );
    expect(JSON.stringify(none)).not.toMatch(/s3cret|reporter|warehouse:3307\/dw/);
    // localhost and 127.0.0.1 are the same host.
    const local = accountCandidates(env({ A: "mysql://a:pw@localhost:3306/x", B: "mysql://b:pw@10.0.0.9:3306/x" }));
    expect(resolveAccount(local, { host: "127.0.0.1", port: 3306 }, "pooltuner.io/")).toMatchObject({ account: "a" });
  });
});

const probe = (over: Partial<ProbeResult> = {}): ProbeResult => ({
  target: "monitor@db.internal:3306",
  version: "10.11",
  account: { user: "monitor", host: "%" },
  maxConnections: 100,
  maxUserConnections: 0,
  threadsConnected: 12,
  maxUsedConnections: 20,
  connectionErrorsMaxConnections: 0,
  abortedConnects: 0,
  visibility: "processlist",
  connectionsByUser: { app: 8, reporter: 3 },
  accountLimits: [],
  accountLimitsReadable: true,
  warnings: [],
  ...over,
});

const flags = (over: Partial<Record<"mysqlUrl" | "maxConnections" | "unmanaged", string[]>>) => ({
  mysqlUrl: [],
  maxConnections: [],
  reserve: [],
  unmanaged: [],
  maxUserConnections: [],
  ...over,
});

describe("`plan` settles the account where the database is known", () => {
  it("with --mysql-url, the URL at the database's host:port names the account; its connections are its own", async () => {
    const file = await composeFile("two-urls.yml", {
      APP_DB_URL: "mysql+pymysql://app:s3cret@db.internal:3306/app",
      ANALYTICS_URL: "mysql://reporter:s3cret@warehouse:3307/dw",
    });
    const r = await run({
      command: "plan",
      paths: [file],
      flags: flags({ mysqlUrl: ["mysql://monitor:m0n@db.internal:3306/"] }),
      environment: {},
      probe: async () => probe(),
    });
    expect(r.outcome.kind).toBe("planned");
    const w = r.report?.workloads[0];
    expect(w?.workload.account).toBe("app");
    expect(w?.accountFrom).toBe("user in env APP_DB_URL");
    // app's 8 are its own; reporter's 3 are another client's.
    expect(r.report?.databases[0]?.snapshot).toMatchObject({ unmanaged: 3, unattributed: [3] });
    expect(JSON.stringify(r)).not.toMatch(/s3cret|m0n/);
  });

  it("offline, several users cannot be told apart: unknown, with a warning naming the env vars only", async () => {
    const file = await composeFile("two-urls-offline.yml", {
      APP_DB_URL: "mysql+pymysql://app:s3cret@db.internal:3306/app",
      ANALYTICS_URL: "mysql://reporter:s3cret@warehouse:3307/dw",
    });
    const r = await run({
      command: "plan",
      paths: [file],
      flags: flags({ maxConnections: ["100"], unmanaged: ["0"] }),
      environment: {},
      probe: async () => {
        throw new Error("offline: no probe");
      },
    });
    expect(r.report?.workloads[0]?.workload.account).toBeUndefined();
    expect(r.warnings).toContain(
      `${file}: service app: database URLs in env ANALYTICS_URL, APP_DB_URL name different users and the database's host:port is not known here to pick one: the account is unknown; set io.pooltuner.account`,
    );
    expect(JSON.stringify(r.warnings)).not.toMatch(/s3cret|reporter/);
  });
});
