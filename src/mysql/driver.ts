// MySQL and MariaDB behind the database seam (src/runtime/database-probe.ts).
import type { DatabaseDriver } from "../runtime/database-probe.js";
import { parseMysqlUrl } from "./dsn.js";
import { type ProbeResult, ProbeSession, probe } from "./probe.js";
import { databaseSnapshotFromProbe } from "./snapshot.js";

export const mysqlDriver: DatabaseDriver<ProbeResult> = {
  schemes: ["mysql", "mariadb"],
  probe: (url, options) => probe(url, options),
  open: (url, options) => new ProbeSession(url, options),
  address: (url) => {
    const dsn = parseMysqlUrl(url);
    return { host: dsn.host, port: dsn.port };
  },
  handshakeUser: "unauthenticated user",
  login: (url) => {
    const dsn = parseMysqlUrl(url);
    return { user: dsn.user, server: dsn.socketPath ?? `${dsn.host}:${dsn.port}` };
  },
  snapshot: (i) => databaseSnapshotFromProbe(i.config, i.reading, i.managedUsers, i.samples, i.now, i.windowMs),
};
