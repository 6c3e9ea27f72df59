// The CLI's few outcomes and the one place that turns them into exit codes (STYLE 9).
import type { Plan } from "../core/index.js";

export const EXIT = {
  /** The plan fits (and for `check`: the current settings cannot exceed any budget). */
  ok: 0,
  /**
   * `check`: the current settings can exceed a budget; any command: no plan fits; `compose --once`: an apply failed;
   * a daemon: it lost its leader lease.
   */
  exceeds: 1,
  /** Bad input: a file, an annotation or label, a flag, an unknown database. */
  badInput: 2,
  /** A part could not be reached or read: the database probe failed (unreachable, auth, privilege, full). */
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

/** What a daemon pass reports, as far as the exit code is concerned. */
export interface PassSummary {
  readonly outcome: string;
  readonly plan?: Plan;
  readonly failed: readonly unknown[];
}

export type Outcome =
  | { readonly kind: "planned"; readonly command: Command; readonly plan: Plan }
  | { readonly kind: "failed"; readonly error: CliError }
  | { readonly kind: "crashed" }
  /** `pooltuner compose --once`: one pass per database. */
  | { readonly kind: "passes"; readonly reports: readonly PassSummary[] }
  /** A daemon ended: by a signal (`stopped`), or because it lost its leader lease (`lost`). */
  | { readonly kind: "daemon-ended"; readonly how: "stopped" | "lost" };

export function exitCodeFor(outcome: Outcome): number {
  switch (outcome.kind) {
    case "failed":
      return outcome.error.kind === "bad-input" ? EXIT.badInput : EXIT.unreachable;
    case "crashed":
      return EXIT.internal;
    case "passes": {
      const { reports } = outcome;
      if (reports.some((r) => r.outcome === "unreachable" || r.outcome === "cannot-plan")) return EXIT.unreachable;
      if (reports.some((r) => r.failed.length > 0 || (r.plan && !r.plan.feasible))) return EXIT.exceeds;
      return EXIT.ok;
    }
    case "daemon-ended":
      // Lost the lease: exit non-zero so Kubernetes restarts the pod as a standby with a fresh cache; it never keeps
      // writing without the lease.
      return outcome.how === "lost" ? EXIT.exceeds : EXIT.ok;
    case "planned": {
      const { plan, command } = outcome;
      if (!plan.feasible) return EXIT.exceeds;
      if (command === "check" && !plan.currentSafe) return EXIT.exceeds;
      return EXIT.ok;
    }
  }
}
