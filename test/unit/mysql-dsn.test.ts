import { describe, expect, test } from "vitest";
import { DsnError, describeTarget, parseMysqlUrl, redact } from "../../src/mysql/dsn.js";

describe("parseMysqlUrl", () => {
  test("reads every part of a full URL", () => {
    expect(parseMysqlUrl("mysql://monitor:s3cret@db.internal:3307/lineage?ssl=true")).toEqual({
      host: "db.internal",
      port: 3307,
      user: "monitor",
      password: "s3cret",
      database: "lineage",
      ssl: true,
    });
  });

  test("defaults: port 3306, no database, no TLS, empty password", () => {
    expect(parseMysqlUrl("mysql://monitor@db")).toEqual({
      host: "db",
      port: 3306,
      user: "monitor",
      password: "",
      database: "",
      ssl: false,
    });
  });

  test("percent-decodes user, password and database", () => {
    const dsn = parseMysqlUrl("mysql://mon%40ops:p%40ss%2Fw%3Ard%23@db/my%20db");
    expect(dsn.user).toBe("mon@ops");
    expect(dsn.password).toBe("p@ss/w:rd#");
    expect(dsn.database).toBe("my db");
  });

  test("an unencoded @ in the password is taken as part of it", () => {
    const dsn = parseMysqlUrl("mysql://app:p@ss@db:3306/x");
    expect(dsn.password).toBe("p@ss");
    expect(dsn.host).toBe("db");
  });

  test("IPv6 hosts lose their brackets", () => {
    const dsn = parseMysqlUrl("mysql://u:p@[::1]:3310/");
    expect(dsn.host).toBe("::1");
    expect(dsn.port).toBe(3310);
    expect(describeTarget(dsn)).toBe("u@[::1]:3310");
  });

  test("accepts mariadb:// and SQLAlchemy schemes with charset", () => {
    expect(parseMysqlUrl("mariadb://u:p@h/d").host).toBe("h");
    const app = parseMysqlUrl("mysql+pymysql://lineage:pw@mysql:3306/lineage?charset=utf8mb4");
    expect(app).toMatchObject({ user: "lineage", host: "mysql", database: "lineage" });
  });

  test("socket parameter", () => {
    const dsn = parseMysqlUrl("mysql://root@localhost/?socket=%2Frun%2Fmysqld%2Fmysqld.sock");
    expect(dsn.socketPath).toBe("/run/mysqld/mysqld.sock");
    expect(describeTarget(dsn)).toBe("root@/run/mysqld/mysqld.sock");
  });

  const bad: Array<[string, RegExp]> = [
    ["postgres://u:hunter22@h/d", /unsupported scheme/],
    ["mysql://:hunter22@h/d", /percent-encode|missing user/],
    ["mysql://h/d", /missing user/],
    ["mysql://u:hunter22@h:99999/d", /not a valid MySQL URL|invalid port/],
    ["mysql://u:hunter22@h/d?sslmode=require", /unknown parameter "sslmode"/],
    ["mysql://u:hunter22@h/d?ssl=maybe", /invalid ssl value/],
    ["mysql://u:hunter22@h/a/b", /invalid database name/],
    ["mysql://u:hunter%zz@h/d", /invalid percent-encoding in the password/],
    ["mysql://u:hunter22?x@h/d", /percent-encode|not a valid/],
    ["not a url hunter22", /not a valid MySQL URL/],
  ];
  test.each(bad)("rejects %s with a message that hides the password", (url, message) => {
    let caught: unknown;
    try {
      parseMysqlUrl(url);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DsnError);
    const err = caught as DsnError;
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain("hunter");
    expect(String(err.stack)).not.toContain("hunter");
  });
});

describe("redact", () => {
  test.each([
    ["mysql://app:hunter22@db:3306/x", "mysql://app:***@db:3306/x"],
    ["mysql://app:hun@ter22@db/x", "mysql://app:***@db/x"],
    ["mysql://app:hun/ter?22#@db/x", "mysql://app:***@db/x"],
    ["mysql://app:123?x@db", "mysql://app:***@db"],
    ["mysql+pymysql://app:hunter22@db/x?charset=utf8mb4", "mysql+pymysql://app:***@db/x?charset=utf8mb4"],
  ])("%s -> %s", (url, expected) => {
    expect(redact(url)).toBe(expected);
  });

  test("leaves URLs without a password unchanged", () => {
    expect(redact("mysql://app@db:3306/x")).toBe("mysql://app@db:3306/x");
    expect(redact("mysql://db:3306/x")).toBe("mysql://db:3306/x");
  });

  test("never echoes text that is not a URL", () => {
    expect(redact("app:hunter22@db")).toBe("<unparseable URL>");
    expect(redact("hunter22")).toBe("<unparseable URL>");
  });
});
