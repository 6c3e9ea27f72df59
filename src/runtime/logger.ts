// pino logs for the daemons. Anything that could carry a credential is redacted at the logger,
// so a careless field cannot leak a DSN (DESIGN §4: secrets never reach logs).
// Logs are diagnostics: they go to stderr, like the CLI's errors and warnings; stdout carries only results
// (`plan`/`check` output). `format: "text"` turns each redacted JSON line into a line for a terminal.
import { type DestinationStream, type Logger, pino } from "pino";
import { textLogLine } from "./log-text.js";

const REDACT = ["url", "dsn", "password", "*.url", "*.dsn", "*.password", "config.databases[*].url", "err.config"];

export const LOG_FORMATS = ["json", "text"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  readonly level?: string;
  readonly name?: string;
  /** `json` (default): one JSON object per line; `text`: `time LEVEL name: message key=value ...`. */
  readonly format?: LogFormat;
  /** Where lines go (default: stderr, written synchronously so the last lines before an exit are not lost). */
  readonly destination?: { write(line: string): unknown };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const out = options.destination ?? pino.destination({ dest: 2, sync: true });
  const stream: DestinationStream =
    options.format === "text"
      ? { write: (line: string) => void out.write(textLogLine(line)) }
      : (out as DestinationStream);
  return pino(
    {
      name: options.name ?? "pooltuner",
      level: options.level ?? "info",
      redact: { paths: REDACT, censor: "[redacted]" },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}

export type { Logger };
