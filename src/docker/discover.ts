// What runs on the Docker Engine, as the planner needs it: containers opted in by `io.pooltuner.*` labels,
// grouped into compose services (replicas = the service's containers), each read like `pooltuner plan` reads a
// compose file (same label parser, same worker detection, same env reading), plus what apply needs.
// A failed list or inspect throws: "the Engine did not answer" must never look like "no workloads" (STYLE).
import type Docker from "dockerode";
import type { PoolSettings, WorkloadSnapshot } from "../core/index.js";
import { type DatabaseAddress, settleAccount } from "../sources/account.js";
import { formatOptionFinding, PREFIX, parseWorkloadOptions, type WorkloadOptions } from "../sources/annotations.js";
import { parseWholeNumber } from "../sources/quantity.js";
import type { EnvValue } from "../sources/workers.js";
import { buildWorkload } from "../sources/workload.js";
import { COMPOSE, containerName, envMap, hasPooltunerLabels, isBackupName, workloadId } from "./labels.js";

export interface ServiceContainer {
  readonly id: string;
  readonly name: string;
  readonly running: boolean;
  /** Pool settings in this container's env (what its processes run with). */
  readonly current: Partial<PoolSettings>;
  readonly inspect: Docker.ContainerInspectInfo;
}

export interface DiscoveredService {
  /** `compose:<project>/<service>` or `docker:<container>`; the workload id in plans. */
  readonly id: string;
  /** How logs name it: `service lineage/app` or `container web-1`. */
  readonly object: string;
  readonly project?: string;
  readonly service?: string;
  /** The compose project directory as the Engine recorded it (`com.docker.compose.project.working_dir`). */
  readonly workingDir?: string;
  readonly options: WorkloadOptions;
  /** Sorted by name. */
  readonly containers: readonly ServiceContainer[];
  /** The planner's view; absent when the service cannot be planned (see errors). */
  readonly workload?: WorkloadSnapshot;
  /** One line each, naming the container or service and the label or env var. */
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** Some container is restarting or its healthcheck is still starting: a recreate would race it. */
  readonly settling: boolean;
  /** Newest container creation time (ms): any recreate, by pooltuner or compose, restarts the increase cooldown. */
  readonly lastChangedAt: number;
}

export interface Discovery {
  readonly services: readonly DiscoveredService[];
  /** Problems of containers with `io.pooltuner.*` labels that are not managed (not enabled, or a bad `enabled`). */
  readonly ignored: { readonly errors: readonly string[]; readonly warnings: readonly string[] };
}

export interface DiscoverOptions {
  /** Database names from the configuration; a service without `io.pooltuner.database` takes the only one. */
  readonly databases: readonly string[];
  /** Only these compose projects, when given. */
  readonly projects?: readonly string[];
  /** host:port of each configured database: picks the account when a service's env has URLs with several users. */
  readonly addressOf?: (database: string) => DatabaseAddress | undefined;
}

export async function discover(docker: Docker, options: DiscoverOptions): Promise<Discovery> {
  const list = await docker.listContainers({ all: true });
  const candidates = list.filter((c) => {
    const name = (c.Names[0] ?? "").replace(/^\//, "");
    if (isBackupName(name) || !hasPooltunerLabels(c.Labels)) return false;
    if (c.Labels?.[COMPOSE.oneoff] === "True") return false; // `compose run` one-offs are not replicas
    const project = c.Labels?.[COMPOSE.project];
    return !options.projects || (project !== undefined && options.projects.includes(project));
  });
  const inspected: Docker.ContainerInspectInfo[] = [];
  for (const c of candidates) {
    try {
      inspected.push(await docker.getContainer(c.Id).inspect());
    } catch (err) {
      // Removed between list and inspect: it is no replica any more. Anything else is a real failure.
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }

  const groups = new Map<string, Docker.ContainerInspectInfo[]>();
  for (const c of inspected) {
    const id = workloadId(c.Config.Labels ?? {}, containerName(c));
    groups.set(id, [...(groups.get(id) ?? []), c]);
  }
  const services: DiscoveredService[] = [];
  const ignored = { errors: [] as string[], warnings: [] as string[] };
  for (const [id, containers] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const s = describeService(id, containers, options);
    if (s.options.enabled) services.push(s);
    else {
      ignored.errors.push(...s.errors);
      ignored.warnings.push(...s.warnings);
    }
  }
  return { services, ignored };
}

function describeService(
  id: string,
  raw: readonly Docker.ContainerInspectInfo[],
  options: DiscoverOptions,
): DiscoveredService {
  const sorted = [...raw].sort((a, b) => (containerName(a) < containerName(b) ? -1 : 1));
  // The newest container carries the service's latest configuration (compose recreates all of them together).
  const newest = [...sorted].sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created))[0] as (typeof sorted)[0];
  const labels = newest.Config.Labels ?? {};
  const project = labels[COMPOSE.project];
  const service = labels[COMPOSE.service];
  const object = project && service ? `service ${project}/${service}` : `container ${containerName(newest)}`;
  const parsed = parseWorkloadOptions(labels, "docker", object);
  const errors = parsed.errors.map(formatOptionFinding);
  const warnings = parsed.warnings.map(formatOptionFinding);

  const containers: ServiceContainer[] = sorted.map((c) => {
    const env = envMap(c.Config.Env);
    const current: { -readonly [K in keyof PoolSettings]?: number } = {};
    const pool = parseWholeNumber(env.get(parsed.options.poolSizeEnv) ?? "", { allowNegative: true });
    const overflow = parseWholeNumber(env.get(parsed.options.maxOverflowEnv) ?? "", { allowNegative: true });
    if (pool !== undefined) current.poolSize = pool;
    if (overflow !== undefined) current.maxOverflow = overflow;
    return { id: c.Id, name: containerName(c), running: c.State.Running, current, inspect: c };
  });

  const base = {
    id,
    object,
    ...(project ? { project } : {}),
    ...(service ? { service } : {}),
    ...(labels[COMPOSE.workingDir] ? { workingDir: labels[COMPOSE.workingDir] } : {}),
    options: parsed.options,
    containers,
    settling: sorted.some((c) => c.State.Restarting || c.State.Health?.Status === "starting"),
    lastChangedAt: Math.max(...sorted.map((c) => Date.parse(c.Created))),
  };
  if (!parsed.options.enabled) return { ...base, errors, warnings };

  const database =
    parsed.options.database ?? (options.databases.length === 1 ? (options.databases[0] as string) : undefined);
  if (database === undefined) {
    errors.push(
      `${object}: ${PREFIX.docker}database is not set and ${options.databases.length} databases are configured (${options.databases.join(", ")}): name one`,
    );
    return { ...base, errors, warnings };
  }
  if (!options.databases.includes(database)) {
    errors.push(
      `${object}: ${PREFIX.docker}database="${database}" is not a configured database (${options.databases.join(", ")})`,
    );
    return { ...base, errors, warnings };
  }

  // Every container is read; the service is planned at its most demanding (a half-finished apply or a
  // container started by hand with other values must not be under-counted).
  const built = sorted.map((c) =>
    buildWorkload({
      id,
      kind: "ComposeService",
      object,
      prefix: PREFIX.docker,
      options: parsed.options,
      env: envView(c.Config.Env),
      command: [...asArgs(c.Config.Entrypoint), ...asArgs(c.Config.Cmd)],
      replicas: sorted.length,
      rollout: { type: "StopFirst" },
      resources: resourcesOf(c.HostConfig),
    }),
  );
  for (const b of built) {
    errors.push(...b.errors.map(formatOptionFinding));
    warnings.push(...b.warnings.map(formatOptionFinding));
  }
  if (!built[0]) return { ...base, errors, warnings };
  const settled = settleAccount(built[0], options.addressOf?.(database), PREFIX.docker);
  if (settled.warning) warnings.push(`${object}: ${settled.warning}`);
  const first = settled.built.workload;
  // One container whose workers cannot be read makes the service's count unknown: it is then not planned.
  const counts = built.map((b) => b.workload.workers);
  const workers = counts.some((n) => n === "unknown") ? "unknown" : Math.max(...(counts as number[]));
  const cpu = maxDefined(built.map((b) => b.workload.resources?.cpuMillis));
  const mem = maxDefined(built.map((b) => b.workload.resources?.memoryBytes));
  const current = worstCurrent(containers.map((c) => c.current));
  const workload: WorkloadSnapshot = {
    id,
    kind: "ComposeService",
    database,
    ...(first.account !== undefined ? { account: first.account } : {}),
    replicas: sorted.length,
    ...(first.maxReplicas !== undefined ? { maxReplicas: first.maxReplicas } : {}),
    rollout: { type: "StopFirst" },
    workers,
    ...(cpu !== undefined || mem !== undefined
      ? {
          resources: {
            ...(cpu !== undefined ? { cpuMillis: cpu } : {}),
            ...(mem !== undefined ? { memoryBytes: mem } : {}),
          },
        }
      : {}),
    weight: parsed.options.weight,
    ...(current ? { current } : {}),
  };
  return { ...base, workload, errors: dedupe(errors), warnings: dedupe(warnings) };
}

/**
 * The service's settings at their most demanding across containers: an unbounded container wins, then one with
 * an unset value (the planner assumes SQLAlchemy's defaults for it), then the largest pool + overflow.
 */
function worstCurrent(all: readonly Partial<PoolSettings>[]): Partial<PoolSettings> | undefined {
  const unbounded = all.find((c) => (c.poolSize !== undefined && c.poolSize <= 0) || (c.maxOverflow ?? 0) < 0);
  if (unbounded) return unbounded;
  const unset = all.find((c) => c.poolSize === undefined || c.maxOverflow === undefined);
  if (unset) return unset.poolSize === undefined && unset.maxOverflow === undefined ? undefined : unset;
  const cap = (c: Partial<PoolSettings>) => (c.poolSize ?? 0) + (c.maxOverflow ?? 0);
  return [...all].sort((a, b) => cap(b) - cap(a))[0];
}

/** CPU and memory limits as compose sets them (`cpus`/`deploy.resources.limits` become NanoCpus, or a quota). */
export function resourcesOf(h: Docker.HostConfig | undefined): { cpuMillis?: number; memoryBytes?: number } {
  const out: { cpuMillis?: number; memoryBytes?: number } = {};
  if (!h) return out;
  if (h.NanoCpus && h.NanoCpus > 0) out.cpuMillis = Math.round(h.NanoCpus / 1e6);
  else if (h.CpuQuota && h.CpuQuota > 0) out.cpuMillis = Math.round((h.CpuQuota / (h.CpuPeriod || 100_000)) * 1000);
  if (h.Memory && h.Memory > 0) out.memoryBytes = h.Memory;
  return out;
}

function envView(env: readonly string[] | null | undefined): ReadonlyMap<string, EnvValue> {
  const out = new Map<string, EnvValue>();
  for (const [k, v] of envMap(env)) out.set(k, { kind: "value", value: v });
  return out;
}

function asArgs(v: string | string[] | null | undefined): string[] {
  if (Array.isArray(v)) return v;
  return typeof v === "string" && v !== "" ? [v] : [];
}

function maxDefined(values: readonly (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length > 0 ? Math.max(...defined) : undefined;
}

function dedupe(lines: readonly string[]): string[] {
  return [...new Set(lines)];
}
