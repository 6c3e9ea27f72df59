// The database seam: what the reconcile pass and `plan` need from a database server, whatever its engine. A driver
// (src/mysql/ today; PostgreSQL next) reads the server once per call and maps a reading to the planner's
// DatabaseSnapshot; src/runtime/drivers.ts picks the driver by the URL's scheme. Nothing outside a driver's folder
// sees its client library or its types: a failed read is a DatabaseProbeError of one of a few kinds, and a bad URL a
// DatabaseUrlError, so shells and the CLI tell "full" from "unreachable" without knowing the engine.
import type { DatabaseSnapshot, Reserve } from "../core/index.js";

/** Why a probe got no answer. `server-full` (MySQL 1040) is the one the pass plans through: decreases only. */
export type ProbeFailureKind =
  | "unreachable"
  | "timeout"
  | "auth"
  | "privilege"
  | "server-full"
  | "account-limit"
  | "protocol";

/** A probe that got no answer; the message names user@host:port and never a password. */
export class DatabaseProbeError extends Error {
  constructor(
    message: string,
    readonly kind: ProbeFailureKind,
  ) {
    super(message);
  }
}

/** A database URL that cannot be used (bad syntax, unknown scheme, unknown parameter): bad input, not a failed probe. */
export class DatabaseUrlError extends Error {}

/** One read of a server: its limits, its clients, and how much of them the monitoring account could see. */
export interface DatabaseReading {
  /** `user@host:port` of the probe itself; never the password. */
  readonly target: string;
  readonly version: string;
  /** The server-wide connection limit (MySQL max_connections). */
  readonly maxConnections: number;
  /** A global per-account cap; 0 means none. */
  readonly maxUserConnections: number;
  /** Server-wide client connections now (includes the probe's own connection). */
  readonly threadsConnected: number;
  /** Where connectionsByUser comes from; `own-account-only` means other clients are invisible. */
  readonly visibility: string;
  /** Current connections per login user, without the probe's own connection. */
  readonly connectionsByUser: Readonly<Record<string, number>>;
  /** Accounts with their own connection limit (0 falls back to the global cap); `host` where the engine has one. */
  readonly accountLimits: readonly {
    readonly user: string;
    readonly host?: string;
    readonly maxUserConnections: number;
  }[];
  /** False when per-account limits could not be read: only the global cap is then planned for. */
  readonly accountLimitsReadable: boolean;
  /** Per-database connection limits where the engine has them (PostgreSQL's datconnlimit); absent for MySQL. */
  readonly databaseLimits?: readonly { readonly database: string; readonly maxConnections: number }[];
  /** Optional reads that failed, one line each. */
  readonly warnings: readonly string[];
}

/** Other clients' usage over the smoothing window, per sample. */
export interface UsageSample {
  readonly at: number;
  readonly byUser: Readonly<Record<string, number>>;
}

export interface SnapshotInput<R extends DatabaseReading> {
  readonly config: { readonly name: string; readonly reserve?: Reserve };
  readonly reading: R;
  /** Users the managed workloads connect as: their connections are not other clients'. */
  readonly managedUsers: ReadonlySet<string>;
  readonly samples?: readonly UsageSample[];
  readonly now?: number;
  readonly windowMs?: number;
}

export interface ProbeOptions {
  readonly connectTimeoutMs?: number;
  readonly queryTimeoutMs?: number;
}

/**
 * A probe that keeps its connection open between reads (the daemons): a full server still answers a connection
 * that is already in. `read()` reconnects when the connection died; `close()` ends it for good.
 */
export interface ProbeSession<R extends DatabaseReading = DatabaseReading> {
  read(): Promise<R>;
  close(): Promise<void>;
}

/** A database engine as the rest of pooltuner sees it. */
export interface DatabaseDriver<R extends DatabaseReading = DatabaseReading> {
  /** URL schemes it serves, without the colon or a `+dialect` suffix (`mysql`, `mariadb`). */
  readonly schemes: readonly string[];
  /** Reads the server once. Throws DatabaseUrlError or DatabaseProbeError, nothing else expected. */
  probe(url: string, options?: ProbeOptions): Promise<R>;
  /** A long-lived probe of `url` (no connection until the first read). Throws DatabaseUrlError for a bad URL. */
  open(url: string, options?: ProbeOptions): ProbeSession<R>;
  /** The planner's view of a reading (per-account limits, other clients at their highest over the window). */
  snapshot(input: SnapshotInput<R>): DatabaseSnapshot;
  /** host:port the URL points at (to tell which database URL in a workload's env is this database's). Throws DatabaseUrlError. */
  address(url: string): { readonly host: string; readonly port: number };
  /**
   * The login a probe of `url` connects as: its user (the name the server counts its connections under) and the
   * server it reaches, as `host:port`. Configured databases with the same login are probed over connections that one
   * server counts under one user (src/runtime/database-monitor.ts). Throws DatabaseUrlError.
   */
  login(url: string): { readonly user: string; readonly server: string };
  /**
   * The user a connection still in its handshake is counted under (MySQL's `unauthenticated user`; PostgreSQL's
   * backends before authentication have no role: ""). A probe of the same login connecting at that moment is one.
   */
  readonly handshakeUser: string;
}

export { redactUrl } from "./url-redaction.js";
