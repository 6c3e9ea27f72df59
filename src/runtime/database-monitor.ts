// Polls every configured database through its driver (the database seam) and keeps what the planner needs:
// the live limits, and other clients' connections smoothed over a window (a brief dip must not inflate the budget).
// The reconcile pass asks it for a DatabaseSnapshot; a database that does not answer yields none.
// Each database is read over one long-lived connection (the driver's ProbeSession): when the server is full, a new
// connection is refused, and that is exactly when the limits are needed. close() ends them on shutdown.
// Several configured databases on one server (one MariaDB holding many applications' schemas) are probed over as
// many connections, all under the monitoring login: each probe sees the others as another client's. They are
// counted as what they are at full strength, a constant, whatever part of them is connected at the moment: a
// restarted process whose probes reconnect a few at a time must not see a server with room that is not there
// (issue 13: 27 writes after a controller restart, from budgets planned while 92 of 99 sibling probes were away).
import type { DatabaseSnapshot } from "../core/index.js";
import type { DatabaseAddress } from "../sources/account.js";
import type { DatabaseConfig } from "./config.js";
import {
  type DatabaseDriver,
  DatabaseProbeError,
  type DatabaseReading,
  type ProbeSession,
  type UsageSample,
} from "./database-probe.js";
import { addressOf, driverFor } from "./drivers.js";

export type DatabaseStatus =
  | { readonly ok: true; readonly at: number; readonly reading: DatabaseReading }
  | { readonly ok: false; readonly at: number; readonly kind: string; readonly message: string };

export interface MonitorOptions {
  readonly windowMs: number;
  readonly now: () => number;
  /** The driver per URL; default: by scheme (src/runtime/drivers.ts). */
  readonly driverFor?: (url: string) => DatabaseDriver;
  /** Told after every probe: how long it took (s), whether it answered, and when it ended (ms, `now`). */
  readonly onProbe?: (database: string, seconds: number, ok: boolean, at: number) => void;
}

interface Tracked {
  readonly config: DatabaseConfig;
  status?: DatabaseStatus;
  /** Raw connections per user over the window; unmanaged is derived per plan from the managed users. */
  samples: UsageSample[];
  session?: ProbeSession;
  /** The read in progress: polls of one database never overlap (they share its one connection). */
  inflight?: Promise<boolean>;
  /** Its probe's login, and how many other configured databases this process probes as the same login on the same server. */
  siblings?: Siblings;
}

/** This process's other probes of a database's server under the same login. */
interface Siblings {
  /** The login's user. */
  readonly user: string;
  /** How many. */
  readonly count: number;
  /** The user a connection in its handshake shows as (the driver's handshakeUser). */
  readonly handshakeUser: string;
}

export class DatabaseMonitor {
  private readonly tracked = new Map<string, Tracked>();
  private readonly driverOf: (url: string) => DatabaseDriver;
  private closed = false;

  constructor(
    databases: readonly DatabaseConfig[],
    private readonly options: MonitorOptions,
  ) {
    for (const config of databases) this.tracked.set(config.name, { config, samples: [] });
    this.driverOf = options.driverFor ?? driverFor;
    this.countSiblings();
  }

  /** Groups the configured databases by the probe's login (user and server); a URL that cannot be parsed is alone. */
  private countSiblings(): void {
    const logins = new Map<Tracked, { user: string; key: string; handshakeUser: string }>();
    const perKey = new Map<string, number>();
    for (const t of this.tracked.values()) {
      try {
        const driver = this.driverOf(t.config.url);
        const l = driver.login(t.config.url);
        const key = JSON.stringify([driver.schemes[0], l.user, l.server]);
        logins.set(t, { user: l.user, key, handshakeUser: driver.handshakeUser });
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
      } catch {
        // a bad URL: its probe reports that itself
      }
    }
    for (const [t, l] of logins) {
      const count = (perKey.get(l.key) ?? 1) - 1;
      if (count > 0) t.siblings = { user: l.user, count, handshakeUser: l.handshakeUser };
    }
  }

  names(): string[] {
    return [...this.tracked.keys()].sort();
  }

  has(name: string): boolean {
    return this.tracked.has(name);
  }

  status(name: string): DatabaseStatus | undefined {
    return this.tracked.get(name)?.status;
  }

  /** host:port of the database as configured, to tell which database URL in a workload's env points at it. */
  address(name: string): DatabaseAddress | undefined {
    const t = this.tracked.get(name);
    return t ? addressOf(t.config.url) : undefined;
  }

  /**
   * Probe one database now. Returns true when what the planner sees may have changed
   * (limits, reachability, or other clients' usage).
   */
  poll(name: string): Promise<boolean> {
    const t = this.tracked.get(name);
    if (!t || this.closed) return Promise.resolve(false);
    t.inflight ??= this.read(t).finally(() => {
      t.inflight = undefined;
    });
    return t.inflight;
  }

  /** Ends every database's connection (shutdown); later polls do nothing. */
  async close(): Promise<void> {
    this.closed = true;
    await this.release();
  }

  /** Ends every database's connection; a later poll opens a new one (one-shot runs such as `compose --once`). */
  async release(): Promise<void> {
    for (const t of this.tracked.values()) {
      await t.inflight?.catch(() => {});
      await t.session?.close();
      t.session = undefined;
    }
  }

  private async read(t: Tracked): Promise<boolean> {
    const before = t.status;
    const at = this.options.now();
    const started = performance.now();
    try {
      t.session ??= this.driverOf(t.config.url).open(t.config.url);
      const reading = withSiblingProbes(await t.session.read(), t.siblings);
      t.status = { ok: true, at, reading };
      t.samples.push({ at, byUser: reading.connectionsByUser });
      t.samples = t.samples.filter((s) => s.at > at - this.options.windowMs);
    } catch (err) {
      const kind = err instanceof DatabaseProbeError ? err.kind : "error";
      const message = err instanceof Error ? err.message : String(err);
      t.status = { ok: false, at, kind, message };
    }
    const now = t.status;
    this.options.onProbe?.(t.config.name, (performance.now() - started) / 1000, now.ok, this.options.now());
    if (!before || before.ok !== now.ok) return true;
    // Full after unreachable (or back) changes what the pass may do.
    if (!before.ok || !now.ok) return !before.ok && !now.ok && before.kind !== now.kind;
    return readingKey(before.reading) !== readingKey(now.reading);
  }

  /**
   * The database as the planner should see it, given which users the managed workloads connect as.
   * Undefined when the database has never answered or does not answer now.
   */
  snapshot(name: string, managedUsers: ReadonlySet<string>): DatabaseSnapshot | undefined {
    const t = this.tracked.get(name);
    if (!t?.status?.ok) return undefined;
    return this.driverOf(t.config.url).snapshot({
      config: t.config,
      reading: t.status.reading,
      managedUsers,
      samples: t.samples,
      now: this.options.now(),
      windowMs: this.options.windowMs,
    });
  }
}

/**
 * The reading with the login's connections counted as at least this process's other probes of the server (its own
 * is not in the reading): those that are connected are in the server's count already, the others are on their way
 * (a restart, a reconnect) and hold a slot again in a moment. Those on their way may be in their handshake right
 * now, shown under the driver's handshake user: as many of those as are missing are taken to be them, not counted
 * twice. More connections under the login than there are siblings are another client's (another process with the
 * same account) and stay counted.
 */
export function withSiblingProbes<R extends DatabaseReading>(r: R, siblings: Siblings | undefined): R {
  const seen = siblings ? (r.connectionsByUser[siblings.user] ?? 0) : 0;
  if (!siblings || seen >= siblings.count) return r;
  const byUser = { ...r.connectionsByUser, [siblings.user]: siblings.count };
  const handshaking = byUser[siblings.handshakeUser] ?? 0;
  if (siblings.handshakeUser !== siblings.user && handshaking > 0) {
    const left = handshaking - Math.min(handshaking, siblings.count - seen);
    if (left > 0) byUser[siblings.handshakeUser] = left;
    else delete byUser[siblings.handshakeUser];
  }
  return { ...r, connectionsByUser: byUser };
}

/** What the planner reads from a reading, in a comparable form (the rest drifts without changing any plan). */
function readingKey(r: DatabaseReading): string {
  return JSON.stringify([
    r.maxConnections,
    r.maxUserConnections,
    r.connectionsByUser,
    r.accountLimits,
    r.databaseLimits ?? [],
  ]);
}
