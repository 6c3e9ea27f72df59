// The daemons' probes keep one connection open between reads: a server that is full refuses a new connection but
// still answers one that is already in. The keeping is the same for every engine; a driver (src/mysql/,
// src/postgres/) supplies how to connect, read, close, and which errors leave the connection untrustworthy.

/** A client connection as both engines' libraries have it: it says when it fails or ends. */
interface Watched {
  on(event: "error" | "end", listener: () => void): unknown;
}

export interface KeptConnectionParts<C extends Watched, R> {
  connect(): Promise<C>;
  close(conn: C): Promise<void>;
  read(conn: C): Promise<R>;
  /** Whether `err` from read() leaves the connection untrustworthy (socket, protocol, timeout), so it is dropped. */
  broken(err: unknown): boolean;
  /** The error a caller sees for a failed read (a typed probe error; no password). */
  toError(err: unknown): Error;
  /** The error for a read after close(). */
  closedError(): Error;
}

/**
 * One connection kept between reads. A connection found dead (a fatal error, a timeout, a server restart, an
 * administrator's KILL or pg_terminate_backend) is dropped and opened again once within the same read; a read that
 * still fails throws, and the caller retries with backoff. Other errors (a missing privilege) keep the connection.
 */
export class KeptConnection<C extends Watched, R> {
  private conn: C | undefined;
  private dead = false;
  private closed = false;

  constructor(private readonly parts: KeptConnectionParts<C, R>) {}

  /** Whether a connection is open now (it may still turn out dead at the next read). */
  connected(): boolean {
    return this.conn !== undefined && !this.dead;
  }

  async read(): Promise<R> {
    if (this.closed) throw this.parts.closedError();
    const reused = this.connected();
    try {
      return await this.readOnce();
    } catch (err) {
      // A connection that was already open may have died quietly: one new connection is tried at once; a fresh
      // connection that fails is reported as is.
      if (!reused || this.connected()) throw this.parts.toError(err);
      try {
        return await this.readOnce();
      } catch (again) {
        throw this.parts.toError(again);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.drop();
  }

  private async readOnce(): Promise<R> {
    if (!this.connected()) {
      await this.drop();
      const conn = await this.parts.connect();
      if (this.closed) {
        await this.parts.close(conn);
        throw this.parts.closedError();
      }
      this.conn = conn;
      this.dead = false;
      // Any fatal error (the server went away) marks it dead; the listener also keeps it from crashing the process.
      conn.on("error", () => {
        if (this.conn === conn) this.dead = true;
      });
      conn.on("end", () => {
        if (this.conn === conn) this.dead = true;
      });
    }
    const conn = this.conn as C;
    try {
      return await this.parts.read(conn);
    } catch (err) {
      if (this.parts.broken(err)) {
        this.dead = true;
        await this.drop();
      }
      throw err;
    }
  }

  private async drop(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    this.dead = false;
    if (conn) await this.parts.close(conn);
  }
}
