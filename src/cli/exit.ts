// The CLI's few outcomes and the one place that turns them into exit codes (STYLE 9).
import type { Plan } from "../core/index.js";

export const EXIT = {
  /** The plan fits (and for `check`: the current settings cannot exceed any budget). */
  ok: 0,
  /** `check`: the current settings can exceed a budget; any command: no plan fits. */
  exceeds: 1,
  /** Bad input: a file, an annotation or label, a flag, an unknown database. */
  badInput: 2,
  /** A part could not be reached or read: the MySQL probe failed (unreachable, auth, privilege, full). */
  unreachable: 3,
  /** A bug: an error nobody expected. */
  internal: 70,
} as const;

export type Command = "plan" | "check";

/** An expected failure that ends the command; `lines` are printed as they are, one per line. */
export class CliError extends Error {
  constructor(
    readonly kind: "bad-input" | "unreachable",
    readonly lines: readonly string[],
  ) {
    super(lines.join("\n"));
    this.name = "CliError";
  }
}

export type Outcome =
  | { readonly kind: "planned"; readonly command: Command; readonly plan: Plan }
  | { readonly kind: "failed"; readonly error: CliError }
  | { readonly kind: "crashed" };

export function exitCodeFor(outcome: Outcome): number {
  switch (outcome.kind) {
    case "failed":
      return outcome.error.kind === "bad-input" ? EXIT.badInput : EXIT.unreachable;
    case "crashed":
      return EXIT.internal;
    case "planned": {
      const { plan, command } = outcome;
      if (!plan.feasible) return EXIT.exceeds;
      if (command === "check" && !plan.currentSafe) return EXIT.exceeds;
      return EXIT.ok;
    }
  }
}
