// PostgreSQL URLs and error mapping: pure parts. Real server behaviour is in test/integration/postgres/.
import { describe, expect, test } from "vitest";
import { describeTarget, PostgresDsnError, parsePostgresUrl } from "../../src/postgres/dsn.js";
import { PostgresProbeError, toProbeError } from "../../src/postgres/errors.js";
import type { PostgresReading } from "../../src/postgres/probe.js";
import { databaseSnapshotFromReading, ordinarySlots } from "../../src/postgres/snapshot.js";
import { driverFor } from "../../src/runtime/drivers.js";
import { redactUrl, urlSecrets } from "../../src/runtime/url-redaction.js";

describe("parsePostgresUrl", () => {
  test("reads every part of a full URL", () => {
    expect(parsePostgresUrl("postgres://monitor:s3cret@db.internal:5433/shop?sslmode=require")).toEqual({
      host: "db.internal",
      port: 5433,
      user: "monitor",
      password: "s3cret",
      database: "shop",
      sslMode: "require",
    });
  });

  test("defaults: port 5432, database postgres, sslmode prefer, empty password", () => {
    expect(parsePostgresUrl("postgresql://monitor@db")).toEqual({
      host: "db",
      port: 5432,
      user: "monitor",
      password: "",
      database: "postgres",
      sslMode: "prefer",
    });
  });

  test("SQLAlchemy dialect URLs, percent-decoding, IPv6", () => {
    const app = parsePostgresUrl("postgresql+psycopg2://app:p%40ss%2Fw@[::1]:6432/my%20db");
    expect(app).toMatchObject({ user: "app", password: "p@ss/w", host: "::1", port: 6432, database: "my db" });
    expect(describeTarget(app)).toBe("app@[::1]:6432");
  });

  test("a unix socket directory as an encoded host or as ?host=", () => {
    expect(parsePostgresUrl("postgres://app@%2Frun%2Fpostgresql/db").host).toBe("/run/postgresql");
    expect(parsePostgresUrl("postgres:///db?host=/tmp/pg&port=5499&user=app")).toMatchObject({
      host: "/tmp/pg",
      port: 5499,
    });
  });

  test("libpq query parameters: password, user, dbname", () => {
    expect(parsePostgresUrl("postgres://db/?user=mon&password=hunter22&dbname=x")).toMatchObject({
      user: "mon",
      password: "hunter22",
      database: "x",
    });
  });

  const bad: Array<[string, RegExp]> = [
    ["mysql://u:hunter22@h/d", /unsupported scheme/],
    ["postgres://h/d", /missing user/],
    ["postgres://u:hunter22@h:99999/d", /not a valid PostgreSQL URL|invalid port/],
    ["postgres://u:hunter22@h/d?sslmode=sometimes", /invalid sslmode "sometimes"/],
    ["postgres://u:hunter22@h/d?sslpassword=hunter22", /unknown parameter "sslpassword"/],
    ["postgres://u:hunter22@h/d?password=hunter22", /password is given twice/],
    ["postgres://u:hunter22@h1:5432,h2:5432/d", /several hosts|not a valid/],
    ["postgres://u:hunter22@h/a/b", /invalid database name/],
    ["postgres://u:hunter%zz@h/d", /invalid percent-encoding in the password/],
    ["host=db user=app password=hunter22 dbname=x", /not a valid PostgreSQL URL/],
  ];
  test.each(bad)("rejects %s with a message that hides the password", (url, message) => {
    let caught: unknown;
    try {
      parsePostgresUrl(url);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PostgresDsnError);
    const err = caught as PostgresDsnError;
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain("hunter");
    expect(String(err.stack)).not.toContain("hunter");
  });
});

describe("redaction of PostgreSQL URLs and libpq parameters", () => {
  test.each([
    ["postgres://app:hunter22@db:5432/x", "postgres://app:***@db:5432/x"],
    ["postgresql://app@db/x?password=hunter22&sslmode=require", "postgresql://app@db/x?password=***&sslmode=require"],
    ["postgresql+psycopg2://app:hunter22@db/x", "postgresql+psycopg2://app:***@db/x"],
    ["postgres://app@db/x?sslpassword=hunter22&sslkey=%2Fk", "postgres://app@db/x?sslpassword=***&sslkey=***"],
    ["postgres://app@db/x?passfile=%2Fhunter22", "postgres://app@db/x?passfile=***"],
    ["host=db user=app password=hunter22", "<unparseable URL>"],
  ])("%s -> %s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
    if (url.includes("://")) expect(urlSecrets(url).some((s) => s.includes("hunter22"))).toBe(true);
  });

  test("the driver is picked by scheme, a +dialect suffix included", () => {
    for (const url of ["postgres://a@b/c", "postgresql://a@b/c", "postgresql+psycopg2://a@b/c"]) {
      expect(driverFor(url).schemes).toContain("postgres");
    }
    expect(driverFor("postgres://a:pw@db.internal:6543/x").address("postgres://a:pw@db.internal:6543/x")).toEqual({
      host: "db.internal",
      port: 6543,
    });
  });
});

describe("toProbeError", () => {
  const target = "app@db:5432";
  test.each([
    [{ code: "53300", message: "sorry, too many clients already" }, "server-full"],
    [
      { code: "53300", message: "remaining connection slots are reserved for non-replication superuser connections" },
      "server-full",
    ],
    [{ code: "53300", message: 'too many connections for role "app"' }, "account-limit"],
    [{ code: "53300", message: 'too many connections for database "shop"' }, "account-limit"],
    [{ code: "28P01", message: 'password authentication failed for user "app"' }, "auth"],
    [{ code: "28000", message: "no pg_hba.conf entry" }, "auth"],
    [{ code: "42501", message: 'permission denied for database "x"' }, "privilege"],
    [{ code: "57P03", message: "the database system is starting up" }, "unreachable"],
    [{ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" }, "unreachable"],
    [{ code: "ENOENT", message: "connect ENOENT /tmp/.s.PGSQL.5432" }, "unreachable"],
    [{ message: "Connection terminated due to connection timeout" }, "timeout"],
    [{ message: "Query read timeout" }, "timeout"],
    [{ message: "Connection terminated unexpectedly" }, "unreachable"],
    [{ code: "XX000", message: "internal error" }, "protocol"],
  ])("%o -> %s", (fields, kind) => {
    const err = toProbeError(Object.assign(new Error(fields.message), fields), target);
    expect(err).toBeInstanceOf(PostgresProbeError);
    expect(err.kind).toBe(kind);
    expect(err.message).toContain(target);
  });

  test("scrubs the password if a message ever contains it", () => {
    const err = toProbeError(Object.assign(new Error("odd: hunter22"), { code: "28P01" }), target, ["hunter22"]);
    expect(err.message).not.toContain("hunter22");
  });
});

describe("snapshot mapping", () => {
  const reading = (over: Partial<PostgresReading> = {}): PostgresReading => ({
    target: "mon@db:5432",
    version: "PostgreSQL 16.2",
    versionNum: 160002,
    account: { user: "mon" },
    maxConnections: 100,
    superuserReservedConnections: 3,
    reservedConnections: 5,
    maxUserConnections: 0,
    threadsConnected: 12,
    visibility: "pg_stat_activity",
    connectionsByUser: { app: 4, other: 6, admin: 1 },
    connectionsByDatabase: { shop: { app: 4, other: 6, admin: 1 } },
    accountLimits: [{ user: "app", maxUserConnections: 30 }],
    accountLimitsReadable: true,
    databaseLimits: [{ database: "shop", maxConnections: 40 }],
    warnings: [],
    ...over,
  });

  test("reserved slots are never planned into; other roles' sessions are other clients'", () => {
    expect(ordinarySlots(reading())).toBe(92);
    const s = databaseSnapshotFromReading({
      config: { name: "pg" },
      reading: reading(),
      managedUsers: new Set(["app"]),
    });
    expect(s).toMatchObject({ name: "pg", maxConnections: 100 - 3 - 5, unmanaged: 6 + 1, maxUserConnections: 0 });
    expect(s.accounts).toEqual({ app: { maxUserConnections: 30 } });
    // shop's CONNECTION LIMIT 40, of which other roles' sessions there (superuser's included) hold 7
    expect(s.catalogs).toEqual({ shop: { maxConnections: 40, unmanaged: 7 } });
  });

  test("never below zero", () => {
    expect(ordinarySlots(reading({ maxConnections: 5, superuserReservedConnections: 3, reservedConnections: 5 }))).toBe(
      0,
    );
  });
});
