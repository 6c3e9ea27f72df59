// charts/pooltuner/README.md is generated from values.yaml's `# --` comments (scripts/chart-readme.ts): it must be
// what the generator prints for the committed values, and every value must have a description.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHART_DIR, chartReadmeFromDisk, description, valueRows } from "../../scripts/chart-readme.js";

describe("chart README", () => {
  it("is up to date with values.yaml (run `npx tsx scripts/chart-readme.ts` after changing the values)", async () => {
    const committed = await readFile(join(CHART_DIR, "README.md"), "utf8");
    expect(committed).toBe(chartReadmeFromDisk());
  });

  it("documents every value: each row has a description", async () => {
    const rows = valueRows(await readFile(join(CHART_DIR, "values.yaml"), "utf8"));
    expect(rows.filter((r) => r.description === "").map((r) => r.key)).toEqual([]);
    // The values issue 15 asked for are there by name.
    const keys = rows.map((r) => r.key);
    for (const key of [
      "nameOverride",
      "fullnameOverride",
      "extraVolumes",
      "extraVolumeMounts",
      "podDisruptionBudget",
      "networkPolicy.enabled",
      "tests",
      "hostNetwork",
    ]) {
      expect(keys).toContain(key);
    }
  });

  it("takes the `# --` block only: commented-out examples above it and blank lines are left out", () => {
    expect(description(" - name: x\n   url: y\n\n -- First line\n second line.\n")).toBe("First line second line.");
    expect(description(" just a note")).toBe("");
    expect(description(undefined)).toBe("");
  });

  it("renders nested documented keys as rows of their own and undocumented maps as one row", () => {
    const rows = valueRows(
      [
        "# -- The image.",
        "image:",
        "  repository: x",
        "a:",
        "  # -- Inner.",
        "  b: 1",
        "  c: |",
        "    pipe | here",
        "",
      ].join("\n"),
    );
    expect(rows).toEqual([
      { key: "image", default: '`{"repository":"x"}`', description: "The image." },
      { key: "a.b", default: "`1`", description: "Inner." },
      { key: "a.c", default: '`"pipe | here\\n"`', description: "" },
    ]);
  });
});
