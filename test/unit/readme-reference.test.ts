// The README is the front door: every flag of every command and every annotation/label key must be in it.
// Reads the flags from the real CLI's --help, so a new flag without documentation fails here.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { OPTION_KEYS } from "../../src/sources/annotations.js";

const run = promisify(execFile);

async function flagsOf(command: string): Promise<string[]> {
  const { stdout } = await run("npx", ["tsx", "src/cli/main.ts", command, "--help"], { timeout: 60_000 });
  return [...new Set([...stdout.matchAll(/(?:^|\s)(--[a-z][a-z-]+)/g)].map((m) => m[1] as string))].filter(
    (f) => f !== "--help",
  );
}

describe("README reference", () => {
  it.each(["plan", "check", "controller", "compose"])(
    "documents every flag of `pooltuner %s`",
    async (command) => {
      const readme = await readFile("README.md", "utf8");
      const flags = await flagsOf(command);
      expect(flags.length).toBeGreaterThan(3);
      expect(flags.filter((f) => !readme.includes(`\`${f}`))).toEqual([]);
    },
    60_000,
  );

  it("documents every annotation/label key", async () => {
    const readme = await readFile("README.md", "utf8");
    expect(OPTION_KEYS.filter((k) => !readme.includes(`| \`${k}\` |`))).toEqual([]);
    expect(readme).toContain("`pooltuner.io/`");
    expect(readme).toContain("`io.pooltuner.`");
  });

  // The monitoring values (issue 12) are listed one by one: read from values.yaml, so a new one must be added.
  it("documents every value of metrics.serviceMonitor, metrics.prometheusRule and metrics.dashboard", async () => {
    const readme = await readFile("README.md", "utf8");
    const values = parse(await readFile("charts/pooltuner/values.yaml", "utf8")) as {
      metrics: Record<string, unknown>;
    };
    const leaves = (path: string, v: unknown): string[] =>
      v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0
        ? Object.entries(v).flatMap(([k, x]) => leaves(`${path}.${k}`, x))
        : [path];
    const keys = ["serviceMonitor", "prometheusRule", "dashboard"].flatMap((k) =>
      leaves(`metrics.${k}`, values.metrics[k]),
    );
    expect(keys).toContain("metrics.prometheusRule.for.canExceed");
    expect(keys.length).toBeGreaterThanOrEqual(17);
    expect(keys.filter((k) => !readme.includes(`\`${k}\``))).toEqual([]);
  });
});
