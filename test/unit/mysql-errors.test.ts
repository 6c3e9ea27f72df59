// The mapping is pure; real server errors are covered in test/integration/mysql/probe.test.ts.
import { describe, expect, test } from "vitest";
import { ProbeError, toProbeError } from "../../src/mysql/errors.js";

const target = "app@db:3306";

describe("toProbeError", () => {
  test.each([
    [{ code: "ER_ACCESS_DENIED_ERROR", errno: 1045, sqlState: "28000" }, "auth"],
    [{ code: "ER_HOST_NOT_PRIVILEGED", errno: 1130 }, "auth"],
    [{ code: "ER_CON_COUNT_ERROR", errno: 1040 }, "server-full"],
    [{ code: "ER_TOO_MANY_USER_CONNECTIONS", errno: 1203 }, "account-limit"],
    [{ code: "ER_USER_LIMIT_REACHED", errno: 1226 }, "account-limit"],
    [{ code: "ER_SPECIFIC_ACCESS_DENIED_ERROR", errno: 1227 }, "privilege"],
    [{ code: "ER_TABLEACCESS_DENIED_ERROR", errno: 1142 }, "privilege"],
    [{ code: "ER_DBACCESS_DENIED_ERROR", errno: 1044 }, "privilege"],
    [{ code: "ECONNREFUSED", errno: -111 }, "unreachable"],
    [{ code: "ENOTFOUND", errno: -3008 }, "unreachable"],
    [{ code: "EHOSTUNREACH", errno: -113 }, "unreachable"],
    [{ code: "ETIMEDOUT" }, "timeout"],
    [{ code: "PROTOCOL_SEQUENCE_TIMEOUT" }, "timeout"],
    [{ code: "PROTOCOL_CONNECTION_LOST" }, "protocol"],
    [{ code: "ER_UNKNOWN_ERROR", errno: 1105 }, "protocol"],
  ])("%o -> %s", (fields, kind) => {
    const err = toProbeError(Object.assign(new Error("server said no"), fields), target);
    expect(err).toBeInstanceOf(ProbeError);
    expect(err.kind).toBe(kind);
    expect(err.target).toBe(target);
    expect(err.message).toContain(target);
  });

  test("scrubs the password if a message ever contains it", () => {
    const err = toProbeError(Object.assign(new Error("weird: password hunter22 rejected"), { errno: 1045 }), target, [
      "hunter22",
    ]);
    expect(err.message).not.toContain("hunter22");
    expect(err.stack).not.toContain("hunter22");
  });

  test("passes a ProbeError through unchanged", () => {
    const original = new ProbeError("x", { kind: "timeout", target });
    expect(toProbeError(original, target)).toBe(original);
  });
});
