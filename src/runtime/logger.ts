// pino JSON logs for the daemons. Anything that could carry a credential is redacted at the logger,
// so a careless field cannot leak a DSN (DESIGN §4: secrets never reach logs).
import { type Logger, pino } from "pino";

const REDACT = ["url", "dsn", "password", "*.url", "*.dsn", "*.password", "config.databases[*].url", "err.config"];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? "pooltuner",
    level: options.level ?? "info",
    redact: { paths: REDACT, censor: "[redacted]" },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type { Logger };
