// The sidecar files of examples/lineage work as written: the config loads, the monitoring account's grants let the
// probe in even when the app has filled every max_connections slot, and the service's command parses.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { probe } from "../../../src/mysql/probe.js";
import { loadConfig } from "../../../src/runtime/config.js";
import { startTestDatabase, type TestDatabase } from "./support.js";

const EXAMPLE = new URL("../../../examples/lineage/", import.meta.url).pathname;
let database: TestDatabase;

beforeAll(async () => {
  database = await startTestDatabase("compose-example", 10);
});
afterAll(async () => {
  await database?.db.stop();
});

it("pooltuner.yaml loads, and monitor.sql's account can probe a server the app has filled", async () => {
  const url = `mysql://pooltuner:monitor-example@127.0.0.1:${database.db.port}/`;
  const config = await loadConfig(await readFile(`${EXAMPLE}pooltuner/pooltuner.yaml`, "utf8"), "pooltuner.yaml", {
    POOLTUNER_MONITOR_URL: url,
  });
  expect(config.databases).toEqual([{ name: "lineage", url, reserve: { absolute: 2, percent: 5 } }]);

  const sql = (await readFile(`${EXAMPLE}pooltuner/monitor.sql`, "utf8")).replace(/^\s*--.*$/gm, "");
  for (const statement of sql
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean))
    await database.db.query(statement);
  // The root helper holds one slot; the app takes the rest until the server refuses it with 1040.
  const held: mysql.Connection[] = [];
  let refused: unknown;
  try {
    for (let i = 0; i < 20 && !refused; i++) {
      try {
        held.push(await mysql.createConnection({ uri: database.appUrl.replace("mysql+pymysql", "mysql") }));
      } catch (err) {
        refused = err;
      }
    }
    expect((refused as { errno?: number }).errno).toBe(1040);
    const p = await probe(url);
    expect(p.maxConnections).toBe(10);
    expect(p.connectionsByUser.lineage).toBe(held.length);
  } finally {
    for (const c of held) await c.end();
  }
});

it("compose.pooltuner.yml runs `pooltuner compose` with flags the command accepts", async () => {
  const doc = parseYaml(await readFile(`${EXAMPLE}compose.pooltuner.yml`, "utf8")) as {
    services: { pooltuner: { command: string[]; volumes: string[]; user: string } };
  };
  const svc = doc.services.pooltuner;
  expect(svc.command[0]).toBe("compose");
  expect(svc.volumes).toContain("/var/run/docker.sock:/var/run/docker.sock");
  const { stdout } = await promisify(execFile)("npx", ["tsx", "src/cli/main.ts", "compose", "--help"]);
  for (const flag of svc.command.slice(1)) expect(stdout).toContain(flag.split("=")[0]);
  const compose = parseYaml(await readFile(`${EXAMPLE}docker-compose.yml`, "utf8")) as {
    services: { app: { env_file: unknown[] } };
  };
  // The persisted file comes last, so its values win over lineage.env on the next `up`.
  expect(compose.services.app.env_file.at(-1)).toEqual({ path: ".pooltuner/app.env", required: false });
});
