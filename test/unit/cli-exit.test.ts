import { describe, expect, it } from "vitest";
import { EXIT, exitCodeFor } from "../../src/cli/exit.js";

describe("exitCodeFor: daemons", () => {
  const ok = { outcome: "planned", failed: [] };
  it("compose --once: 3 when a database could not be probed, 1 when an apply failed, else 0", () => {
    expect(exitCodeFor({ kind: "passes", reports: [ok, ok] })).toBe(EXIT.ok);
    expect(exitCodeFor({ kind: "passes", reports: [ok, { outcome: "planned", failed: [{}] }] })).toBe(EXIT.exceeds);
    expect(exitCodeFor({ kind: "passes", reports: [{ outcome: "unreachable", failed: [] }, ok] })).toBe(
      EXIT.unreachable,
    );
    // A database nobody uses is not a failure.
    expect(exitCodeFor({ kind: "passes", reports: [{ outcome: "not-configured", failed: [] }] })).toBe(EXIT.ok);
  });
  it("a daemon that lost its lease exits non-zero; one stopped by a signal exits 0", () => {
    expect(exitCodeFor({ kind: "daemon-ended", how: "lost" })).toBe(1);
    expect(exitCodeFor({ kind: "daemon-ended", how: "stopped" })).toBe(0);
  });
});
