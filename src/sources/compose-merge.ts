// Merging compose files the way `docker compose` does when no compose CLI is at hand (the compose spec's merge
// rules, as compose-go implements them in override/merge.go and override/uncity.go):
// - mappings merge key by key, the later file winning on scalars;
// - sequences append the later file's entries, dropping entries deep-equal to one already there;
// - `command`, `entrypoint` and `healthcheck.test` are replaced, not appended;
// - `environment`, `labels`, `annotations`, `sysctls`, `build.args`, `deploy.labels` merge by key (a map or a
//   `KEY=VALUE` list, the later value winning);
// - `env_file` entries are unique by path, `ports` by (ip, published port, target, protocol), `volumes` and
//   `devices` by target, `secrets`/`configs` by target, `depends_on`/`networks` merge as mappings, `build: ctx`
//   is `build: {context: ctx}`, `logging` options merge only for the same driver, `ulimits.X` merge as mappings.
// Pure: no file system, no environment.

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Compose's default file names, in its order of preference (compose-go cli.DefaultFileNames). */
export const DEFAULT_COMPOSE_FILES = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];
/** Override files compose merges over the default file, first found wins (cli.DefaultOverrideFileNames). */
export const DEFAULT_OVERRIDE_FILES = [
  "compose.override.yml",
  "compose.override.yaml",
  "docker-compose.override.yml",
  "docker-compose.override.yaml",
];

export type MergeResult =
  | { readonly ok: true; readonly value: Json }
  | { readonly ok: false; readonly message: string };

/** `override` merged over `base` (neither is changed). */
export function mergeCompose(base: Json, override: Json): MergeResult {
  try {
    return { ok: true, value: mergeAt(structuredClone(base), structuredClone(override), []) as Json };
  } catch (err) {
    if (err instanceof MergeError) return { ok: false, message: err.message };
    throw err;
  }
}

class MergeError extends Error {}

type Merger = (base: unknown, over: unknown, path: readonly string[]) => unknown;

const SERVICE_SPECIALS: Record<string, Merger> = {
  annotations: keyValues,
  command: replace,
  entrypoint: replace,
  environment: keyValues,
  labels: keyValues,
  sysctls: keyValues,
  env_file: (b, o) => unique(toSequence(b).concat(toSequence(o)), envFileKey),
  label_file: sequences,
  dns: sequences,
  dns_opt: sequences,
  dns_search: sequences,
  extra_hosts: sequences,
  tmpfs: sequences,
  profiles: (b, o) => unique(toSequence(b).concat(toSequence(o)), String),
  ports: (b, o, p) => unique(appendNew(list(b, p), list(o, p)), portKey),
  volumes: (b, o, p) => unique(appendNew(list(b, p), list(o, p)), targetKey(p)),
  devices: (b, o, p) => unique(appendNew(list(b, p), list(o, p)), targetKey(p)),
  secrets: (b, o, p) => unique(appendNew(list(b, p), list(o, p)), mountKey("/run/secrets")),
  configs: (b, o, p) => unique(appendNew(list(b, p), list(o, p)), mountKey("")),
  depends_on: (b, o, p) => mergeMaps(asMapping(b, p), asMapping(o, p), p),
  networks: (b, o, p) => mergeMaps(asMapping(b, p), asMapping(o, p), p),
  build: (b, o, p) => mergeMaps(buildMap(b), buildMap(o), p),
  logging: mergeLogging,
};

/** The rule for a path: `services.<name>.<attr>` and a few deeper ones are special, the rest generic. */
function special(path: readonly string[]): Merger | undefined {
  if (path[0] !== "services" || path.length < 3) return undefined;
  const rest = path.slice(2);
  if (rest.length === 1) return SERVICE_SPECIALS[rest[0] as string];
  if (rest.length === 2 && rest[0] === "healthcheck" && rest[1] === "test") return replace;
  if (rest.length === 2 && rest[0] === "build" && rest[1] === "args") return keyValues;
  if (rest.length === 2 && rest[0] === "build" && rest[1] === "labels") return keyValues;
  if (rest.length === 2 && rest[0] === "deploy" && rest[1] === "labels") return keyValues;
  if (rest.length === 2 && rest[0] === "ulimits") return (b, o, p) => (isMap(b) && isMap(o) ? mergeMaps(b, o, p) : o);
  return undefined;
}

function mergeAt(base: unknown, over: unknown, path: readonly string[]): unknown {
  const rule = special(path);
  if (rule) return rule(base, over, path);
  if (over === null || over === undefined) return base;
  if (isMap(base)) {
    if (!isMap(over)) throw new MergeError(`${shown(path)}: cannot override a map with ${kind(over)}`);
    return mergeMaps(base, over, path);
  }
  if (Array.isArray(base)) {
    if (!Array.isArray(over)) throw new MergeError(`${shown(path)}: cannot override a list with ${kind(over)}`);
    return appendNew(base, over);
  }
  return over;
}

function mergeMaps(base: Json, over: Json, path: readonly string[]): Json {
  for (const [k, v] of Object.entries(over)) {
    base[k] = k in base ? mergeAt(base[k], v, [...path, k]) : v;
  }
  return base;
}

function replace(_base: unknown, over: unknown): unknown {
  return over;
}

function sequences(base: unknown, over: unknown): unknown[] {
  return appendNew(toSequence(base), toSequence(over));
}

/** `KEY=VALUE` entries (a map becomes one, sorted, `KEY` alone for a null value), the last one per key wins. */
function keyValues(base: unknown, over: unknown): unknown[] {
  return unique(toSequence(base).concat(toSequence(over)), (e) => {
    const s = String(e);
    const eq = s.indexOf("=");
    return eq < 0 ? s : s.slice(0, eq);
  });
}

function toSequence(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return [value];
  if (isMap(value)) {
    const out: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v === null || v === undefined) out.push(k);
      else if (Array.isArray(v)) for (const item of v) out.push(`${k}=${String(item)}`);
      else out.push(`${k}=${String(v)}`);
    }
    return out.sort();
  }
  return [];
}

function list(value: unknown, path: readonly string[]): unknown[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value;
  throw new MergeError(`${shown(path)}: must be a list, got ${kind(value)}`);
}

/** Appends the entries of `over` that are not deep-equal to one already present. */
function appendNew(base: readonly unknown[], over: readonly unknown[]): unknown[] {
  const out = [...base];
  const seen = new Set(out.map((v) => JSON.stringify(v)));
  for (const v of over) {
    const key = JSON.stringify(v);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(v);
    }
  }
  return out;
}

/** A later entry with the key of an earlier one takes its place (compose-go uniqueEntries). */
function unique(entries: readonly unknown[], key: (entry: unknown) => string): unknown[] {
  const out: unknown[] = [];
  const at = new Map<string, number>();
  for (const e of entries) {
    const k = key(e);
    const i = at.get(k);
    if (i === undefined) {
      at.set(k, out.length);
      out.push(e);
    } else out[i] = e;
  }
  return out;
}

function envFileKey(entry: unknown): string {
  if (isMap(entry)) return String(entry.path);
  return String(entry);
}

/** `[ip:][published:]target[/protocol]` or the long form; the key compose-go's portIndexer uses. */
function portKey(entry: unknown): string {
  if (isMap(entry)) {
    return `${entry.host_ip ?? ""}:${entry.published ?? ""}:${entry.target ?? ""}/${entry.protocol ?? "tcp"}`;
  }
  const s = String(entry);
  const slash = s.lastIndexOf("/");
  const protocol = slash >= 0 ? s.slice(slash + 1) : "tcp";
  const parts = (slash >= 0 ? s.slice(0, slash) : s).split(":");
  const target = parts.pop() ?? "";
  const published = parts.pop() ?? "";
  const ip = parts.join(":");
  return `${ip}:${published}:${target}/${protocol}`;
}

/** Volumes and devices: unique by the path inside the container. */
function targetKey(path: readonly string[]): (entry: unknown) => string {
  return (entry) => {
    if (isMap(entry)) {
      if (typeof entry.target !== "string") throw new MergeError(`${shown(path)}: an entry has no target`);
      return entry.target;
    }
    const parts = String(entry).split(":");
    // source:target[:mode] or just target (an anonymous volume)
    return parts.length === 1 ? (parts[0] as string) : (parts[1] as string);
  };
}

/** Secrets and configs: unique by target, which defaults to <dir>/<source> (secrets) or /<source> (configs). */
function mountKey(dir: string): (entry: unknown) => string {
  return (entry) => {
    if (isMap(entry)) {
      if (typeof entry.target === "string")
        return entry.target.startsWith("/") ? entry.target : `${dir}/${entry.target}`;
      return `${dir}/${String(entry.source)}`;
    }
    return `${dir}/${String(entry)}`;
  };
}

function asMapping(value: unknown, path: readonly string[]): Json {
  if (value === null || value === undefined) return {};
  if (isMap(value)) return value;
  if (typeof value === "string") return { [value]: null };
  if (Array.isArray(value)) {
    const out: Json = {};
    for (const item of value) {
      if (typeof item !== "string") throw new MergeError(`${shown(path)}: list entries must be names`);
      out[item] = null;
    }
    return out;
  }
  throw new MergeError(`${shown(path)}: must be a map or a list of names, got ${kind(value)}`);
}

function buildMap(value: unknown): Json {
  if (typeof value === "string") return { context: value };
  return isMap(value) ? value : {};
}

function mergeLogging(base: unknown, over: unknown, path: readonly string[]): unknown {
  if (!isMap(base) || !isMap(over)) throw new MergeError(`${shown(path)}: must be a map`);
  if (over.driver === undefined || base.driver === undefined || over.driver === base.driver) {
    return mergeMaps(base, over, path);
  }
  return over;
}

function shown(path: readonly string[]): string {
  return path.join(".");
}

function kind(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (isMap(v)) return "a map";
  return `a ${typeof v}`;
}

/**
 * The services `docker compose up` starts with these profiles active: a service without `profiles` always, one
 * with `profiles` when one of them is active (or `*` is).
 */
export function withProfiles(data: Json, active: readonly string[]): { data: Json; disabled: string[] } {
  if (!isMap(data.services)) return { data, disabled: [] };
  const services: Json = {};
  const disabled: string[] = [];
  for (const [name, def] of Object.entries(data.services)) {
    const declared = isMap(def) && Array.isArray(def.profiles) ? def.profiles.map(String) : [];
    if (declared.length === 0 || active.includes("*") || declared.some((p) => active.includes(p))) {
      services[name] = def;
    } else disabled.push(name);
  }
  return { data: { ...data, services }, disabled };
}

/**
 * `extends` within one file: the base service merged under the local one (the local one wins, by the rules above).
 * An `extends` naming another `file` is left as it is and reported by the caller.
 */
export function resolveLocalExtends(data: Json): { data: Json; problems: { service: string; message: string }[] } {
  if (!isMap(data.services)) return { data, problems: [] };
  const services = data.services;
  const problems: { service: string; message: string }[] = [];
  const done = new Map<string, Json>();
  const resolving = new Set<string>();
  const resolve = (name: string): Json | undefined => {
    const cached = done.get(name);
    if (cached) return cached;
    const def = services[name];
    if (!isMap(def)) return undefined;
    const ext = def.extends;
    if (ext === undefined || ext === null) {
      done.set(name, def);
      return def;
    }
    const target = typeof ext === "string" ? ext : isMap(ext) && ext.file === undefined ? ext.service : undefined;
    if (typeof target !== "string") {
      done.set(name, def);
      return def; // `extends.file`: the caller reports it
    }
    if (resolving.has(name)) {
      problems.push({ service: name, message: `extends: a cycle through service ${target}` });
      return def;
    }
    resolving.add(name);
    const base = resolve(target);
    resolving.delete(name);
    if (!base) {
      problems.push({ service: name, message: `extends: service ${target} is not defined in this file` });
      done.set(name, def);
      return def;
    }
    const { extends: _e, ...local } = def;
    const { extends: _be, ...inherited } = base;
    const merged = mergeCompose({ services: { [name]: inherited } }, { services: { [name]: local } });
    const out = merged.ok ? ((merged.value.services as Json)[name] as Json) : def;
    if (!merged.ok) problems.push({ service: name, message: `extends: ${merged.message}` });
    done.set(name, out);
    return out;
  };
  const out: Json = {};
  for (const name of Object.keys(services)) out[name] = resolve(name) ?? services[name];
  return { data: { ...data, services: out }, problems };
}
