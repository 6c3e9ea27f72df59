import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { DsnError, describeTarget, parseMysqlUrl, redact, urlSecrets } from "../../src/mysql/dsn.js";

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
    ["mysql://app:hun/ter?22#@db/x", "mysql://***"],
    ["mysql://app:123?x@db", "mysql://***"],
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

// Issue 10: secrets in the query string, under any spelling a driver accepts, and URLs that do not parse.
describe("redact: every secret-bearing part of a URL", () => {
  const SECRET_KEYS = [
    "password",
    "passwd",
    "pwd",
    "pass",
    "ssl-key",
    "sslkey",
    "ssl_key",
    "sslpassword",
    "ssl-password",
    "token",
    "access_token",
    "auth_token",
    "api_key",
    "apikey",
    "secret",
    "client_secret",
    "private_key",
    "credentials",
    "sig",
  ];
  const randomCase = (key: string, flips: boolean[]) =>
    [...key].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c)).join("");
  // Secrets made of characters that survive in a URL unencoded, plus ones that need percent-encoding.
  const secret = fc.string({ minLength: 8, maxLength: 24, unit: fc.constantFrom(..."abcXYZ0129-_.~!$'()*+,@:/? ") });
  const SHOWN = ["charset=utf8mb4", "ssl=true", "socket=%2Frun%2Fmysqld.sock"];

  test("a query-string secret under any spelling and case, first or later, raw or encoded, is never shown", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SECRET_KEYS),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
        secret,
        fc.subarray(SHOWN),
        fc.nat(3),
        fc.boolean(),
        fc.constantFrom("mysql://", "mariadb://", "mysql+pymysql://", "postgres://"),
        fc.constantFrom("app:pw-in-userinfo@", "app@", ""),
        (key, flips, value, others, position, encode, scheme, userinfo) => {
          const v = encode ? encodeURIComponent(value) : value.replace(/[#&]/g, "");
          const pairs = [...others];
          pairs.splice(Math.min(position, pairs.length), 0, `${randomCase(key, flips)}=${v}`);
          const url = `${scheme}${userinfo}db.internal:3306/app?${pairs.join("&")}`;
          const shown = redact(url);
          for (const s of [v, decodeURIComponent(v)]) if (s.length >= 4) expect(shown).not.toContain(s);
          expect(shown).not.toContain("pw-in-userinfo");
          expect(shown.startsWith(scheme)).toBe(true);
          for (const s of urlSecrets(url)) expect(shown).not.toContain(s);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  test("whatever the URL, the password and secret values never come out", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), secret, fc.string({ maxLength: 40 }), (before, value, after) => {
        const marked = `Zq${value.replace(/[^A-Za-z0-9]/g, "")}Qz`;
        for (const url of [
          `mysql://u:${marked}@${before}`,
          `mysql://u@h/x?password=${marked}${after}`,
          `mysql://${before}?pwd=${marked}&${after}`,
          `mysql://u@h/x#${marked}`,
          `mysql://u@h/${before}?${marked}`,
        ]) {
          expect(redact(url)).not.toContain(marked);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  test.each([
    ["mysql://app@db:3306/x?password=hunter22", "mysql://app@db:3306/x?password=***"],
    ["mysql://app@db/x?charset=utf8&PassWord=hunter22&ssl=true", "mysql://app@db/x?charset=utf8&PassWord=***&ssl=true"],
    ["mysql://app@db/x?ssl-key=hunter22;sslkey=hunter22", "mysql://app@db/x?ssl-key=***&sslkey=***"],
    ["mysql://app@db/x?hunter22", "mysql://app@db/x?***"],
    ["mysql://app@db/x#hunter22", "mysql://app@db/x#***"],
    ["mysql://app@db/?password=hun@ter22", "mysql://***"],
    ["mysql://app@db/x;password=hunter22", "mysql://app@db/***"],
  ])("%s -> %s", (url, expected) => {
    expect(redact(url)).toBe(expected);
  });

  test("a URL that does not parse is shown as its scheme alone", () => {
    const messageOf = (url: string) => {
      try {
        parseMysqlUrl(url);
      } catch (err) {
        return (err as Error).message;
      }
      return "";
    };
    expect(messageOf("mysql://u:hunter22@/x")).toBe(
      "not a valid MySQL URL: mysql://*** (expected mysql://user:password@host:port/database)",
    );
    expect(messageOf("mysql://u@h:1/?pwd=hunter22")).toMatch(
      /unknown parameter "pwd" in mysql:\/\/u@h:1\/\?pwd=\*\*\* /,
    );
    expect(messageOf("mysql://u@h:1/?hunter22")).toMatch(/^an unknown parameter in mysql:\/\/u@h:1\/\?\*\*\* /);
    for (const url of ["mysql://u@h:1/?pwd=hunter22", "mysql://u@h:1/?hunter22", "mysql://u:hunter22@/x"]) {
      expect(messageOf(url)).not.toContain("hunter");
    }
  });

  test("?password= and ?passwd= are the password (SQLAlchemy passes them to PyMySQL); not both ways at once", () => {
    expect(parseMysqlUrl("mysql://app@db/x?password=p%40ss").password).toBe("p@ss");
    expect(parseMysqlUrl("mysql://app@db/x?passwd=pw").password).toBe("pw");
    expect(() => parseMysqlUrl("mysql://app:one@db/x?password=two")).toThrow(/the password is given twice/);
  });

  test("urlSecrets lists what a scrubber must hide", () => {
    expect(urlSecrets("mysql://app:p%40ss@db/x?charset=utf8&token=t0k3n#frag")).toEqual(
      expect.arrayContaining(["p%40ss", "p@ss", "t0k3n", "frag"]),
    );
    expect(urlSecrets("mysql://app:p%40ss@db/x?charset=utf8")).not.toContain("utf8");
  });
});
