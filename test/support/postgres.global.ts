// Global setup of the "postgres" vitest project: one private PostgreSQL 15 for the whole run, shared through inject().
// Tests that change server state (roles, limits) restore it; files run one at a time (fileParallelism).
import type { TestProject } from "vitest/node";
import { startPostgres } from "./postgres.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres({
    label: "postgres-suite",
    maxConnections: 20,
    superuserReservedConnections: 3,
    // The autovacuum launcher looks every second, so a test can watch a worker run on a full server.
    settings: { autovacuum_naptime: "1s" },
  });
  // Printed, not asserted (timing belongs in output, not in tests on a busy machine).
  console.log(`[postgres-suite] PostgreSQL 15 on ${server.host}:${server.port} up in ${server.startupMs} ms`);
  project.provide("postgres", {
    host: server.host,
    port: server.port,
    superUrl: server.superUrl,
    socketDir: server.socketDir,
    maxConnections: server.maxConnections,
    superuserReservedConnections: server.superuserReservedConnections,
  });
  return () => server.stop();
}
