// The one place a database URL picks its driver. Adding an engine is one folder (src/<engine>/ with a DatabaseDriver)
// and one line here.
import { mysqlDriver } from "../mysql/driver.js";
import { postgresDriver } from "../postgres/driver.js";
import { type DatabaseDriver, type DatabaseReading, DatabaseUrlError, redactUrl } from "./database-probe.js";

const DRIVERS: readonly DatabaseDriver[] = [mysqlDriver, postgresDriver];

/** The driver for `url`'s scheme (`mysql+pymysql://` counts as `mysql`). Throws DatabaseUrlError for any other. */
export function driverFor(url: string): DatabaseDriver {
  const scheme = /^([a-z][a-z0-9]*)(\+[a-z0-9_]+)?:/i.exec(url)?.[1]?.toLowerCase();
  const driver = DRIVERS.find((d) => scheme !== undefined && d.schemes.includes(scheme));
  if (!driver) {
    const known = DRIVERS.flatMap((d) => d.schemes.map((s) => `${s}://`)).join(", ");
    throw new DatabaseUrlError(
      `unsupported database URL ${redactUrl(url)}: ${scheme ? `scheme "${scheme}:"` : "no scheme"} (known: ${known})`,
    );
  }
  return driver;
}

/** Probe `url` with its driver. */
export function probeUrl(url: string, options?: Parameters<DatabaseDriver["probe"]>[1]): Promise<DatabaseReading> {
  return driverFor(url).probe(url, options);
}

/** host:port of a database URL; undefined when it cannot be parsed (the probe reports that itself). */
export function addressOf(url: string): { readonly host: string; readonly port: number } | undefined {
  try {
    return driverFor(url).address(url);
  } catch {
    return undefined;
  }
}
