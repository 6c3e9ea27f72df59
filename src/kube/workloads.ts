// Live objects -> the planner's workloads. A Deployment/StatefulSet (+ the HPAs that target it) goes through the same
// intake as manifest files (readKubeWorkload in src/sources/manifests.ts), so the controller and `plan --kube` can
// never disagree with `plan` on files. Every problem becomes a finding on the workload it belongs to; nothing throws.
import { type DatabaseAddress, settleAccount } from "../sources/account.js";
import { PREFIX, parseWorkloadOptions, type WorkloadOptions } from "../sources/annotations.js";
import type { LoadedWorkload, SourceFinding } from "../sources/findings.js";
import { kubeWorkloadId } from "../sources/identity.js";
import { readKubeWorkload } from "../sources/manifests.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { fieldWithValue } from "../sources/shown-value.js";
import {
  chosenContainerName,
  type HpaObject,
  hpaTargetKey,
  keyOf,
  optionKeysOf,
  STATUS_ANNOTATION,
  type WorkloadKind,
  type WorkloadObject,
} from "./objects.js";
import { parseStatus, type WorkloadStatus } from "./status.js";

export interface ClusterWorkload {
  readonly key: string;
  readonly id: string;
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  readonly object: WorkloadObject;
  readonly options: WorkloadOptions;
  /** Managed: `pooltuner.io/enabled` is "true". Others are only looked at for annotation mistakes. */
  readonly enabled: boolean;
  /** The database the workload is planned against; undefined when it names none and several are configured. */
  readonly database: string | undefined;
  /** True when `database` is one the controller is configured with. */
  readonly databaseKnown: boolean;
  /** The workload as the planner sees it; absent when it cannot be read (e.g. the named container is missing). */
  readonly loaded?: LoadedWorkload;
  /** The container whose env is written. */
  readonly container?: string;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly status?: WorkloadStatus;
}

/** The database key a workload is reconciled under (also for unknown or missing names, to report them). */
export function databaseOf(options: WorkloadOptions, databases: readonly string[]): string | undefined {
  if (options.database !== undefined) return options.database;
  return databases.length === 1 ? databases[0] : undefined;
}

/** Options only (cheap): enough to route events to a database key. */
export function optionsOf(o: WorkloadObject, kind: WorkloadKind): WorkloadOptions {
  const ns = o.metadata?.namespace ?? "default";
  return parseWorkloadOptions(optionKeysOf(o), "kubernetes", `${kind} ${ns}/${o.metadata?.name}`).options;
}

export function readWorkload(
  o: WorkloadObject,
  kind: WorkloadKind,
  hpas: readonly HpaObject[],
  databases: readonly string[],
  /** host:port of each configured database: picks the account when the env has URLs with several users. */
  addressOf?: (database: string) => DatabaseAddress | undefined,
  profiles?: ProfileRegistry,
): ClusterWorkload {
  const namespace = o.metadata?.namespace ?? "default";
  const name = o.metadata?.name ?? "";
  const key = keyOf(o, kind);
  // The same intake as manifest files; options are parsed there, once.
  const targeting = hpas.filter((h) => hpaTargetKey(h) === key);
  const read = readKubeWorkload({ ...o, kind, apiVersion: "apps/v1" }, targeting, {
    file: key,
    ...(profiles ? { profiles } : {}),
  });
  const parsed = { options: read.options };
  const database = databaseOf(parsed.options, databases);
  const errors = read.errors.map(line);
  const warnings = read.warnings.map(line);
  const settled =
    read.loaded && database !== undefined
      ? settleAccount(read.loaded, addressOf?.(database), PREFIX.kubernetes)
      : read.loaded && { built: read.loaded };
  if (settled?.warning) warnings.push(settled.warning);
  const loaded = settled?.built;

  let databaseKnown = false;
  if (parsed.options.enabled) {
    if (database === undefined) {
      errors.push(
        `${PREFIX.kubernetes}database: not set, and the controller has ${databases.length} databases (${databases.join(", ")}): name one`,
      );
    } else if (!databases.includes(database)) {
      errors.push(
        `${PREFIX.kubernetes}database="${database}": unknown database; the controller has ${databases.join(", ") || "none"}`,
      );
    } else {
      databaseKnown = true;
    }
  }
  if (loaded && loaded.workload.account === undefined && !settled?.warning) {
    warnings.push(
      `${PREFIX.kubernetes}account: not set and no database URL with a user in the container's env: the database ` +
        "user is unknown, so this workload's open connections count as other clients' and decreases they could " +
        "explain are held (set it to the user the app connects as)",
    );
  }
  const container = chosenContainerName(o, parsed.options.container);
  const status = parseStatus(o.metadata?.annotations?.[STATUS_ANNOTATION]);
  return {
    key,
    id: kubeWorkloadId(kind, namespace, name),
    kind,
    namespace,
    name,
    object: o,
    options: parsed.options,
    enabled: parsed.options.enabled,
    database,
    databaseKnown,
    ...(loaded && database !== undefined
      ? { loaded: { ...loaded, workload: { ...loaded.workload, database } } }
      : loaded
        ? { loaded }
        : {}),
    ...(container !== undefined ? { container } : {}),
    errors: dedupe(errors),
    warnings: dedupe(warnings),
    ...(status ? { status } : {}),
  };
}

/** `field="value": message` without the file and object: the event already sits on the object. */
function line(f: SourceFinding): string {
  const field = f.field ? `${fieldWithValue(f.field, f.value)}: ` : "";
  return `${field}${f.message}`;
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
