// One `plan` / `check` run: read files, settle databases, probe, plan. Returns an Outcome; never exits.
import { DEFAULT_POLICY, InvalidSnapshotError, type Policy, plan, type WorkloadSnapshot } from "../core/index.js";
import { addressOf } from "../runtime/drivers.js";
import { settleAccount } from "../sources/account.js";
import { PREFIX } from "../sources/annotations.js";
import { formatSourceFinding, type LoadedWorkload, type SourceResult } from "../sources/findings.js";
import { DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_TOTAL_BYTES } from "../sources/input-file.js";
import { type LoadOptions, loadSources } from "../sources/load.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { type Probe, readDatabases, resolveDatabases } from "./databases.js";
import { CliError, type Command, exitCodeFor, type Outcome } from "./exit.js";
import { parseDatabaseFlags, parseFileSize, parseTotalSize, type RawDatabaseFlags } from "./flags.js";
import { type HelmValues, loadHelmValues } from "./helm-values-file.js";
import { loadProfiles } from "./profiles-file.js";
import type { Report } from "./report.js";
import { loadSizingTable } from "./sizing-table-file.js";

export interface RunInput {
  readonly command: Command;
  readonly paths: readonly string[];
  readonly flags: RawDatabaseFlags;
  readonly sizingTable?: string;
  /** `--profiles`: a file of custom application profiles. */
  readonly profiles?: string;
  /** `--helm-values`: the chart's values files, for `-o patch` on workloads annotated `pooltuner.io/helm-values`. */
  readonly helmValues?: readonly string[];
  /** `--max-file-size`, as given (default: DEFAULT_MAX_FILE_BYTES). */
  readonly maxFileSize?: string;
  /** `--max-total-size`, as given (default: DEFAULT_MAX_TOTAL_BYTES). */
  readonly maxTotalSize?: string;
  /** `--allow-env-file-outside`: compose env files may resolve outside the compose file's folder. */
  readonly allowEnvFileOutside?: boolean;
  /** The shell environment, for compose `${VAR}` interpolation. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  readonly probe: Probe;
  /** `--kube`: the annotated workloads of a live cluster, read-only (src/kube/plan-source.ts). */
  readonly kube?: (profiles?: ProfileRegistry) => Promise<SourceResult>;
  /** Reads standard input for the path `-` (src/cli/stdin.ts). */
  readonly stdin?: LoadOptions["stdin"];
  /** `--compose-profile` / COMPOSE_PROFILES. */
  readonly composeProfiles?: readonly string[];
  /** `--compose-cli`: the merged model from a compose CLI (src/cli/compose-cli.ts); absent: merged built-in. */
  readonly composeCli?: LoadOptions["composeCli"];
}

export interface RunResult {
  readonly outcome: Outcome;
  readonly report?: Report;
  /** Warnings known before a failure, shown with its errors. */
  readonly warnings: readonly string[];
}

export async function run(input: RunInput): Promise<RunResult> {
  const warnings: string[] = [];
  try {
    const report = await planReport(input, warnings);
    return { outcome: { kind: "planned", command: input.command, plan: report.plan }, report, warnings };
  } catch (err) {
    if (err instanceof CliError) return { outcome: { kind: "failed", error: err }, warnings };
    if (err instanceof InvalidSnapshotError) {
      return { outcome: { kind: "failed", error: new CliError("bad-input", [...err.problems]) }, warnings };
    }
    throw err;
  }
}

async function planReport(input: RunInput, warnings: string[]): Promise<Report> {
  const { flags, errors: flagErrors } = parseDatabaseFlags(input.flags);
  const fileSize =
    input.maxFileSize === undefined ? { value: DEFAULT_MAX_FILE_BYTES } : parseFileSize(input.maxFileSize);
  if ("error" in fileSize) flagErrors.push(fileSize.error);
  const totalSize =
    input.maxTotalSize === undefined ? { value: DEFAULT_MAX_TOTAL_BYTES } : parseTotalSize(input.maxTotalSize);
  if ("error" in totalSize) flagErrors.push(totalSize.error);
  if (flagErrors.length > 0 || "error" in fileSize || "error" in totalSize) {
    throw new CliError("bad-input", flagErrors);
  }
  const limits = { maxBytes: fileSize.value, raiseHint: "raise it with --max-file-size" };
  const policy: Policy = {
    ...DEFAULT_POLICY,
    ...(input.sizingTable ? { sizingTable: await loadSizingTable(input.sizingTable, limits) } : {}),
    ...(flags.reserve.all ? { reserve: flags.reserve.all } : {}),
  };

  const profiles = input.profiles ? await loadProfiles(input.profiles, limits) : undefined;
  const helmValues: HelmValues | undefined =
    input.helmValues && input.helmValues.length > 0 ? await loadHelmValues(input.helmValues, limits) : undefined;
  const fromFiles = await loadSources(input.paths, {
    ...(profiles ? { profiles } : {}),
    environment: input.environment,
    maxFileBytes: limits.maxBytes,
    raiseHint: limits.raiseHint,
    maxTotalBytes: totalSize.value,
    knownDatabases: new Set([...flags.mysqlUrl.named.keys(), ...flags.maxConnections.named.keys()]),
    totalRaiseHint: "raise it with --max-total-size",
    allowEnvFileOutside: input.allowEnvFileOutside ?? false,
    ...(input.stdin ? { stdin: input.stdin } : {}),
    ...(input.composeProfiles ? { composeProfiles: input.composeProfiles } : {}),
    ...(input.composeCli ? { composeCli: input.composeCli } : {}),
  });
  const fromCluster = input.kube ? await input.kube(profiles) : undefined;
  const sources = fromCluster
    ? {
        ...fromFiles,
        workloads: [...fromFiles.workloads, ...fromCluster.workloads],
        errors: [...fromFiles.errors, ...fromCluster.errors],
        warnings: [...fromFiles.warnings, ...fromCluster.warnings],
      }
    : fromFiles;
  warnings.push(...sources.warnings.map(formatSourceFinding));
  if (helmValues && !sources.workloads.some((w) => w.options.helmValues !== undefined)) {
    warnings.push(
      `--helm-values: no workload is annotated ${PREFIX.kubernetes}helm-values, so the values are not used`,
    );
  }
  if (sources.errors.length > 0) throw new CliError("bad-input", sources.errors.map(formatSourceFinding));
  if (sources.workloads.length === 0) {
    throw new CliError("bad-input", [
      `no managed workloads in ${[...input.paths, ...(input.kube ? ["the cluster"] : [])].join(", ")}: opt in with the label io.pooltuner.enabled: "true" (compose) or the annotation pooltuner.io/enabled: "true" (Deployment, StatefulSet)`,
    ]);
  }

  const resolution = resolveDatabases(
    sources.workloads.map((w) => ({
      id: w.workload.id,
      ...(w.workload.database ? { database: w.workload.database } : {}),
      workers: w.workload.workers,
    })),
    flags,
  );
  warnings.push(...resolution.warnings);
  const workloads: LoadedWorkload[] = sources.workloads.map((w) => {
    const database = resolution.assignment.get(w.workload.id) as string;
    // Several database URLs in env: the one at the probed database's host:port names the account.
    const source = resolution.targets.find((t) => t.name === database)?.source;
    const settled = settleAccount(w, source?.kind === "probe" ? addressOf(source.url) : undefined, PREFIX[w.flavor]);
    if (settled.warning)
      warnings.push(formatSourceFinding({ file: w.file, object: w.object, message: settled.warning }));
    return { ...settled.built, workload: { ...settled.built.workload, database } };
  });
  const refs = workloads.map((w) => ({
    id: w.workload.id,
    database: w.workload.database as string,
    ...(w.workload.account !== undefined ? { account: w.workload.account } : {}),
    workers: w.workload.workers,
  }));
  const { databases, warnings: probeWarnings } = await readDatabases(resolution, refs, flags, input.probe);
  warnings.push(...probeWarnings);

  const result = plan(
    {
      databases: databases.map((d) => d.snapshot),
      workloads: workloads.map((w) => w.workload as WorkloadSnapshot),
    },
    policy,
  );
  return {
    command: input.command,
    exitCode: exitCodeFor({ kind: "planned", command: input.command, plan: result }),
    plan: result,
    policy,
    databases,
    workloads,
    files: sources.files,
    skipped: sources.skipped,
    warnings,
    ...(helmValues ? { helmValues } : {}),
  };
}
