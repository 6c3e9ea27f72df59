// The chart's Grafana dashboard under Prometheus' own parser: every panel query and every variable query of the
// dashboard as the chart renders it (templates/dashboard.yaml's ConfigMap, from charts/pooltuner/files/dashboard.json)
// is wrapped as a recording rule, with Grafana's variables replaced by valid stand-ins, and `promtool check rules`
// must accept them all. A copy with one broken query must fail, naming it, so a pass means something; a query using
// a variable the dashboard does not define fails before promtool runs. promtool and helm are the test bed's
// (`kube.sh build-promtool`, `kube.sh build`); missing, this fails.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { testBedBinary } from "../../support/testbed-bin.js";

const REPO = join(import.meta.dirname, "../../..");
const CHART = join(REPO, "charts/pooltuner");
const run = promisify(execFile);

interface Target {
  readonly refId: string;
  readonly expr: string;
}
interface Panel {
  readonly id: number;
  readonly title: string;
  readonly type: string;
  readonly targets?: Target[];
  readonly panels?: Panel[];
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { query: string };
  readonly allValue?: string;
}
interface Dashboard {
  readonly panels: Panel[];
  readonly templating: { list: Variable[] };
  readonly annotations?: { list: { expr?: string }[] };
}
type Rules = { groups: { name: string; rules: { record: string; expr: string }[] }[] };

// Grafana's global interval variables ($__rate_interval, $__interval, $__range and their _s/_ms forms), with values
// Grafana could give them.
const BUILT_IN: Record<string, string> = {
  __rate_interval: "5m",
  __interval: "1m",
  __range: "1h",
  __range_s: "3600",
  __range_ms: "3600000",
  __interval_ms: "60000",
};

let helm: string;
let promtool: string;
let dir: string;
let dashboard: Dashboard;

/** Every panel, rows' panels included. */
function panels(list: readonly Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
}

/**
 * A query with the dashboard's variables replaced: a query variable by its "All" value (the regex every multi-value
 * variable here is matched with, `=~`), a built-in interval by a duration. A variable the dashboard does not define
 * is an error: Grafana would send it to Prometheus as it is.
 */
function standIn(expr: string, variables: readonly Variable[]): string {
  return expr.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a, b) => {
    const name = (a ?? b) as string;
    if (BUILT_IN[name] !== undefined) return BUILT_IN[name] as string;
    const v = variables.find((x) => x.name === name);
    if (!v) throw new Error(`${whole} in "${expr}": the dashboard defines no variable ${name}`);
    if (v.type !== "query" && v.type !== "custom") throw new Error(`${whole}: a ${v.type} variable in a query`);
    return v.allValue ?? ".*";
  });
}

/** A variable's query as PromQL: Grafana's `label_values(selector, label)` asks for the label of those series. */
function variableQuery(v: Variable): string {
  const q = typeof v.query === "string" ? v.query : (v.query?.query ?? "");
  const m = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/s.exec(q.trim());
  if (!m) throw new Error(`variable ${v.name}: "${q}" is not label_values(selector, label)`);
  return `count by (${m[2]}) (${m[1]})`;
}

/** Every query of the dashboard as one recording rule each, named after its panel and refId. */
function asRules(d: Dashboard): Rules {
  const variables = d.templating.list;
  const rules: { record: string; expr: string }[] = [];
  for (const p of panels(d.panels)) {
    for (const t of p.targets ?? []) {
      rules.push({ record: `dashboard:panel_${p.id}_${t.refId}`, expr: standIn(t.expr, variables) });
    }
  }
  for (const v of variables.filter((x) => x.type === "query")) {
    rules.push({ record: `dashboard:variable_${v.name}`, expr: standIn(variableQuery(v), variables) });
  }
  d.annotations?.list.forEach((a, i) => {
    if (a.expr) rules.push({ record: `dashboard:annotation_${i}`, expr: standIn(a.expr, variables) });
  });
  return { groups: [{ name: "dashboard", rules }] };
}

async function promtoolCheck(name: string, rules: Rules): Promise<{ code: number; output: string }> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, stringify(rules));
  try {
    const { stdout, stderr } = await run(promtool, ["check", "rules", file]);
    return { code: 0, output: stdout + stderr };
  } catch (e) {
    const err = e as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof err.code !== "number") throw e;
    return { code: err.code, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

beforeAll(async () => {
  helm = await testBedBinary("helm");
  promtool = await testBedBinary("promtool");
  dir = await mkdtemp(join(tmpdir(), "pooltuner-dashboard-"));
  const { stdout } = await run(helm, [
    "template",
    "t",
    CHART,
    "--set-string",
    "databases[0].name=a,databases[0].url=mysql://m:p@h/",
    "--set",
    "databases[0].namespaces={a}",
    "--set",
    "metrics.dashboard.enabled=true",
    "--show-only",
    "templates/dashboard.yaml",
  ]);
  const cm = parse(stdout) as { kind: string; data: Record<string, string> };
  expect(cm.kind).toBe("ConfigMap");
  dashboard = JSON.parse(cm.data["pooltuner.json"] ?? "") as Dashboard;
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the chart's Grafana dashboard under promtool", () => {
  it("every panel and variable query is valid PromQL (promtool check rules)", async () => {
    const rules = asRules(dashboard);
    const targets = panels(dashboard.panels).flatMap((p) => p.targets ?? []);
    // 26 panel queries when this was written (limit, reserve, ... per database; per workload; restarts; the loop).
    expect(targets.length).toBeGreaterThanOrEqual(20);
    expect(targets.every((t) => t.expr.trim().length > 0)).toBe(true);
    expect(rules.groups[0]?.rules.map((r) => r.record)).toContain("dashboard:variable_database");
    // Nothing of Grafana's left in what promtool gets.
    for (const r of rules.groups[0]?.rules ?? []) expect(r.expr, r.record).not.toContain("$");
    const n = rules.groups[0]?.rules.length ?? 0;
    const ok = await promtoolCheck("dashboard", rules);
    expect(ok.output).toContain(`SUCCESS: ${n} rules found`);
    expect(ok.code).toBe(0);
  });

  it("fails on a copy with one broken query, naming it", async () => {
    const broken = structuredClone(dashboard) as Dashboard;
    const panel = panels(broken.panels).find((p) => (p.targets ?? []).length > 0);
    const target = panel?.targets?.[0] as { refId: string; expr: string };
    target.expr = target.expr.replace(/\)\s*$/, ""); // an unbalanced parenthesis
    const r = await promtoolCheck("broken", asRules(broken));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/FAILED/);
    expect(r.output).toContain(`dashboard:panel_${panel?.id}_${target.refId}`);
  });

  it("fails on a copy with an unknown function, naming it", async () => {
    const broken = structuredClone(dashboard) as Dashboard;
    const panel = panels(broken.panels).find((p) => (p.targets ?? []).length > 0);
    const target = panel?.targets?.[0] as { refId: string; expr: string };
    target.expr = `rate_of_change(${target.expr})`;
    const r = await promtoolCheck("unknown-function", asRules(broken));
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("rate_of_change");
  });

  it("refuses a query with a variable the dashboard does not define", () => {
    const broken = structuredClone(dashboard) as Dashboard;
    const target = panels(broken.panels).flatMap((p) => p.targets ?? [])[0] as { expr: string };
    target.expr = target.expr.replace('job=~"$job"', 'job=~"$cluster"');
    expect(() => asRules(broken)).toThrow(/defines no variable cluster/);
  });
});
