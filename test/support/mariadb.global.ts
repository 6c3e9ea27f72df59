// Global setup of the "mysql" vitest project: one private MariaDB for the whole run, shared through inject().
// Tests that change server state (SET GLOBAL, accounts) restore it; files run one at a time (fileParallelism).
import type { TestProject } from "vitest/node";
import { startMariaDb } from "./mariadb.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const db = await startMariaDb({ label: "mysql-suite", maxConnections: 30 });
  project.provide("mariadb", { host: db.host, port: db.port, rootUrl: db.rootUrl });
  return () => db.stop();
}
