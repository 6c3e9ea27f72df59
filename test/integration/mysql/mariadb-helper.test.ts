// The test helper itself: it must fail loudly with the server's own words, and leave nothing behind.
import { existsSync } from "node:fs";
import { expect, test } from "vitest";
import { startMariaDb } from "../../support/mariadb.js";

test("a server that cannot start fails with the tail of its error log, and its temp dir is removed", async () => {
  const err = await startMariaDb({ label: "broken", extraArgs: ["--no-such-option-pooltuner=1"] }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(Error);
  expect(err?.message).toMatch(/^broken: mariadbd exited during start-up/);
  expect(err?.message).toMatch(/unknown (variable|option).*no-such-option-pooltuner/);
});

test("start, options applied, stop removes the datadir and the process", async () => {
  const db = await startMariaDb({ label: "helper", maxConnections: 13, performanceSchema: true });
  try {
    const rows = await db.query<Array<{ m: number; ps: number; port: number }>>(
      "SELECT @@max_connections AS m, @@performance_schema AS ps, @@port AS port",
    );
    expect(rows[0]).toEqual({ m: 13, ps: 1, port: db.port });
    expect(db.rootUrl).toBe(`mysql://root:${db.rootPassword}@127.0.0.1:${db.port}/`);
    expect(existsSync(db.baseDir)).toBe(true);
  } finally {
    await db.stop();
  }
  expect(existsSync(db.baseDir)).toBe(false);
  expect(() => process.kill(db.pid, 0)).toThrow();
  await db.stop(); // idempotent
});
