// PostgreSQL behind the database seam (src/runtime/database-probe.ts).
import type { DatabaseDriver } from "../runtime/database-probe.js";
import { parsePostgresUrl } from "./dsn.js";
import { type PostgresReading, ProbeSession, probe } from "./probe.js";
import { databaseSnapshotFromReading } from "./snapshot.js";

export const postgresDriver: DatabaseDriver<PostgresReading> = {
  schemes: ["postgres", "postgresql"],
  probe: (url, options) => probe(url, options),
  open: (url, options) => new ProbeSession(url, options),
  address: (url) => {
    const dsn = parsePostgresUrl(url);
    return { host: dsn.host, port: dsn.port };
  },
  handshakeUser: "",
  login: (url) => {
    const dsn = parsePostgresUrl(url);
    return { user: dsn.user, server: `${dsn.host}:${dsn.port}` };
  },
  snapshot: databaseSnapshotFromReading,
};
