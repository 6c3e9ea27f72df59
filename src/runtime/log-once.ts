// A level-based loop sees the same finding on every pass: each line is logged when it appears and again only after
// it has gone away and come back, per scope (a database, or a daemon's discovery).
import type { Logger } from "./logger.js";

export type LogLevel = "error" | "warn" | "info" | "debug";

export class LogOnce {
  private readonly said = new Map<string, Set<string>>();

  constructor(private readonly log: Logger) {}

  /** Logs the lines of `scope` that its previous call did not have; the rest are remembered as still true. */
  say(scope: string, lines: ReadonlyMap<string, LogLevel>, fields: Record<string, unknown> = {}): void {
    const before = this.said.get(scope) ?? new Set<string>();
    for (const [line, level] of lines) if (!before.has(line)) this.log[level](fields, line);
    this.said.set(scope, new Set(lines.keys()));
  }
}
