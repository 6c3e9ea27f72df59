// What runs on the Docker Engine, as the planner needs it: containers opted in by `io.pooltuner.*` labels,
// grouped into compose services (replicas = the service's containers), each read like `pooltuner plan` reads a
// compose file (same label parser, same worker detection, same env reading), plus what apply needs.
// A failed list or inspect throws: "the Engine did not answer" must never look like "no workloads" (STYLE).
import type Docker from "dockerode";
import type { PoolSettings, WorkloadSnapshot } from "../core/index.js";
import { type DatabaseAddress, settleAccount } from "../sources/account.js";
import { formatOptionFinding, PREFIX, parseWorkloadOptions, type WorkloadOptions } from "../sources/annotations.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { parseWholeNumber } from "../sources/quantity.js";
import type { EnvValue } from "../sources/workers.js";
import { buildWorkload } from "../sources/workload.js";
import { COMPOSE, containerName, envMap, hasPooltunerLabels, isBackup, serviceIdOf } from "./labels.js";

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
  /** The compose files its containers were created from (`com.docker.compose.project.config_files`, host paths). */
  readonly configFiles?: string;
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
  /** Profiles the `profile` label may name; default the built-ins. */
  readonly profiles?: ProfileRegistry;
}

export async function discover(docker: Docker, options: DiscoverOptions): Promise<Discovery> {
  const list = await docker.listContainers({ all: true });
  const candidates = list.filter((c) => {
    const name = (c.Names[0] ?? "").replace(/^\//, "");
    if (isBackup(name, c.Id) || !hasPooltunerLabels(c.Labels)) return false;
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
    const id = serviceIdOf(c.Config.Labels ?? {}, containerName(c));
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
    ...(labels[COMPOSE.configFiles] ? { configFiles: labels[COMPOSE.configFiles] } : {}),
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
  const built = buildWorkload({
    id,
    kind: "ComposeService",
    object,
    prefix: PREFIX.docker,
    options: parsed.options,
    instances: sorted.map((c) => ({
      env: envView(c.Config.Env),
      command: [...asArgs(c.Config.Entrypoint), ...asArgs(c.Config.Cmd)],
      resources: resourcesOf(c.HostConfig),
    })),
    replicas: sorted.length,
    rollout: { type: "StopFirst" },
    ...(options.profiles ? { profiles: options.profiles } : {}),
  });
  errors.push(...built.errors.map(formatOptionFinding));
  warnings.push(...built.warnings.map(formatOptionFinding));
  // Several database users in the env: the one whose URL points at this database (sources/account.ts).
  const settled = settleAccount(built, options.addressOf?.(database), PREFIX.docker);
  if (settled.warning) warnings.push(`${object}: ${settled.warning}`);
  const workload: WorkloadSnapshot = { ...settled.built.workload, database };
  return { ...base, workload, errors: dedupe(errors), warnings: dedupe(warnings) };
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

function dedupe(lines: readonly string[]): string[] {
  return [...new Set(lines)];
}
