// `-o patch` for workloads rendered from a Helm chart whose container env comes from the chart's values: the workload
// carries `pooltuner.io/helm-values: <dotted path>` (where in the values that env lives, e.g. `web.env`), and the
// output is one YAML values fragment for `helm upgrade -f values.yaml -f <fragment>`, each workload named in a comment.
// - A map of name -> value at the path (the default): Helm merges maps key by key, so the fragment holds only the
//   profile's variables, as strings (`web: {env: {DB_POOL_SIZE: "1"}}`).
// - A list of {name, value} (known from `--helm-values`): Helm replaces a list whole, so the fragment repeats the list
//   from the values files with the pool entries set (added at the end when missing). An entry that holds a literal
//   credential (a password in a URL, a name like *PASSWORD*, *TOKEN*) is not copied into a file meant for a pull
//   request: exit 2, naming the entry and never its value.
// A variable the rendered manifest takes from a ConfigMap or Secret is left to it, with a comment, as in kustomize.
import { stringify } from "yaml";
import { urlSecrets } from "../runtime/url-redaction.js";
import { CliError } from "./exit.js";
import { type HelmValues, isValuesMap } from "./helm-values-file.js";
import { type Change, comment, summary } from "./patch-common.js";

const HEAD =
  "# pooltuner: Helm values fragment, the pool env of each planned workload (helm upgrade RELEASE CHART -f values.yaml -f this-file)";

/** Env names whose literal value is a credential whatever it looks like. */
const SECRET_NAME = /PASSW(OR)?D|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY/i;

type Form =
  | { readonly kind: "map"; readonly known: boolean }
  | { readonly kind: "list"; readonly list: readonly Record<string, unknown>[] };

export function helmFragment(changes: readonly Change[], notes: readonly string[], helm?: HelmValues): string {
  const fragment: Record<string, unknown> = {};
  /** Dotted path of every value set -> the workload that set it, to name both in a conflict. */
  const owners = new Map<string, string>();
  const lines = [HEAD, ...notes];
  for (const c of changes) {
    const path = c.loaded.options.helmValues ?? [];
    const dotted = path.join(".");
    const form = formAt(path, c.loaded.object, helm);
    lines.push(
      comment(`${c.loaded.object} (file: ${c.loaded.file || "(live cluster)"}): ${summary(c.plan)}`),
      comment(
        form.kind === "list"
          ? `values ${dotted}: a list in ${helm?.files.join(", ")}; Helm replaces a list whole, so it is repeated here with the pool entries set`
          : form.known
            ? `values ${dotted}: a map, merged key by key by Helm`
            : `values ${dotted}: a map of name: value (merged key by key); if the chart takes a list of {name, value} there, pass its values with --helm-values`,
      ),
    );
    const set: [string, string][] = [];
    for (const [variable, value] of c.values) {
      const origin = c.loaded.patchTarget?.envOrigin[variable];
      if (origin === undefined || origin === "env") set.push([variable, value]);
      else lines.push(comment(`${variable} comes from ${origin}: set it to "${value}" there (not in this fragment)`));
    }
    if (set.length === 0) continue;
    if (form.kind === "list") {
      put(fragment, owners, path, withPoolEntries(form.list, set, dotted, c.loaded.object), c.loaded.object);
    } else {
      for (const [variable, value] of set) put(fragment, owners, [...path, variable], value, c.loaded.object);
    }
  }
  const body = Object.keys(fragment).length > 0 ? stringify(fragment, { version: "1.1", lineWidth: 0 }) : "";
  return `${lines.join("\n")}\n${body}`;
}

/** What the values files hold at `path`: a map (or nothing yet), a list, or a bad path (exit 2). */
function formAt(path: readonly string[], object: string, helm?: HelmValues): Form {
  if (!helm) return { kind: "map", known: false };
  const where = `${object}: pooltuner.io/helm-values "${path.join(".")}"`;
  const files = helm.files.join(", ");
  let node: unknown = helm.values;
  for (const [i, key] of path.entries()) {
    const at = path.slice(0, i).join(".") || "the top level";
    if (!isValuesMap(node)) {
      throw new CliError("bad-input", [`${where}: ${at} is ${kindOf(node)} in ${files}, not a map`]);
    }
    if (!Object.hasOwn(node, key)) {
      const keys = Object.keys(node).slice(0, 20);
      throw new CliError("bad-input", [
        `${where}: ${files} have no ${path.slice(0, i + 1).join(".")} (${at} has ${keys.length > 0 ? keys.join(", ") : "no keys"}); name the values path the chart reads the container's env from`,
      ]);
    }
    node = node[key];
  }
  if (node === null || isValuesMap(node)) return { kind: "map", known: true };
  if (Array.isArray(node)) {
    const bad = node.findIndex((e) => !isValuesMap(e) || typeof e.name !== "string");
    if (bad >= 0) {
      throw new CliError("bad-input", [`${where}: entry ${bad} of the list in ${files} is not a {name, value} map`]);
    }
    return { kind: "list", list: node as Record<string, unknown>[] };
  }
  throw new CliError("bad-input", [
    `${where}: is ${kindOf(node)} in ${files}; the env must be a map of name: value or a list of {name, value}`,
  ]);
}

/** The list with the pool entries' values set (valueFrom dropped), missing ones appended; other entries as they are. */
function withPoolEntries(
  list: readonly Record<string, unknown>[],
  set: readonly (readonly [string, string])[],
  dotted: string,
  object: string,
): Record<string, unknown>[] {
  const pool = new Map(set);
  const out = list.map((e) => {
    const name = e.name as string;
    const value = pool.get(name);
    if (value !== undefined) {
      pool.delete(name);
      const { valueFrom: _, ...rest } = e;
      return { ...rest, value };
    }
    if (e.value !== undefined && e.value !== null && looksSecret(name, String(e.value))) {
      throw new CliError("bad-input", [
        `${object}: ${dotted} is a list, so the fragment must repeat it, and its entry ${name} holds a literal value that looks like a credential: pooltuner does not copy it into a file meant for a pull request. Take it from a Secret (valueFrom.secretKeyRef) or make ${dotted} a map`,
      ]);
    }
    return e;
  });
  for (const [name, value] of pool) out.push({ name, value });
  return out;
}

function looksSecret(name: string, value: string): boolean {
  if (SECRET_NAME.test(name)) return true;
  const at = value.search(/[a-z][a-z0-9+.-]*:\/\//i);
  return at >= 0 && urlSecrets(value.slice(at)).length > 0;
}

/** Sets `value` at `path`; two workloads that want different values at one place are an error (exit 2). */
function put(
  root: Record<string, unknown>,
  owners: Map<string, string>,
  path: readonly string[],
  value: unknown,
  object: string,
): void {
  const dotted = path.join(".");
  const clash = (other: string | undefined) =>
    new CliError("bad-input", [
      `-o patch: ${object} and ${other ?? "another workload"} take their env from the same Helm values (${dotted}) but need different values: give each its own values path (pooltuner.io/helm-values)`,
    ]);
  let node = root;
  for (const [i, key] of path.slice(0, -1).entries()) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined) {
      const created: Record<string, unknown> = {};
      define(node, key, created);
      node = created;
    } else if (isValuesMap(next) && !owners.has(path.slice(0, i + 1).join("."))) node = next;
    else throw clash(owners.get(path.slice(0, i + 1).join(".")));
  }
  const leaf = path[path.length - 1] as string;
  if (Object.hasOwn(node, leaf)) {
    if (JSON.stringify(node[leaf]) === JSON.stringify(value) && owners.has(dotted)) return;
    throw clash(owners.get(dotted) ?? [...owners].find(([p]) => p.startsWith(`${dotted}.`))?.[1]);
  }
  define(node, leaf, value);
  owners.set(dotted, object);
}

/** defineProperty: a values key named `__proto__` stays a key. */
function define(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return "empty";
  if (Array.isArray(v)) return "a list";
  if (isValuesMap(v)) return "a map";
  return `a ${typeof v}`;
}
