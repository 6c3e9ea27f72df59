// The chart's templates, values.yaml and values.schema.json name the same values: a template that reads a value
// values.yaml does not define (a typo renders as empty, silently), or a value the schema does not list (helm would
// refuse the chart's own default), fails here without needing helm.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CHART_DIR } from "../../scripts/chart-readme.js";

async function templates(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path);
      else out.set(path.slice(CHART_DIR.length + 1), await readFile(path, "utf8"));
    }
  };
  await walk(join(CHART_DIR, "templates"));
  return out;
}

const has = (root: unknown, path: string[]): boolean => {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object" || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
};

describe("chart values", () => {
  it("every .Values path a template reads is defined in values.yaml", async () => {
    const values = parse(await readFile(join(CHART_DIR, "values.yaml"), "utf8")) as Record<string, unknown>;
    const missing: string[] = [];
    let seen = 0;
    for (const [file, text] of await templates()) {
      for (const m of text.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) {
        seen++;
        const path = (m[1] as string).replace(/\.$/, "").split(".");
        if (!has(values, path)) missing.push(`${file}: .Values.${path.join(".")}`);
      }
      // templates/networkpolicy-egress.yaml reads networkPolicy through $np.
      for (const m of text.matchAll(/\$np\.([A-Za-z0-9_]+)/g)) {
        seen++;
        if (!has(values, ["networkPolicy", m[1] as string])) missing.push(`${file}: $np.${m[1]}`);
      }
    }
    expect(seen).toBeGreaterThan(80);
    expect(missing).toEqual([]);
  });

  it("values.yaml and values.schema.json list the same top-level values, and the schema closes networkPolicy and tests", async () => {
    const values = parse(await readFile(join(CHART_DIR, "values.yaml"), "utf8")) as Record<string, unknown>;
    const schema = JSON.parse(await readFile(join(CHART_DIR, "values.schema.json"), "utf8")) as {
      additionalProperties: boolean;
      properties: Record<string, { properties?: Record<string, unknown>; additionalProperties?: boolean }>;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(values).sort());
    for (const key of ["networkPolicy", "tests", "podDisruptionBudget"]) {
      expect(schema.properties[key]?.additionalProperties, key).toBe(false);
      expect(Object.keys(schema.properties[key]?.properties ?? {}).sort(), key).toEqual(
        Object.keys(values[key] as object).sort(),
      );
    }
  });
});
