#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { type KubeConfig, loadKubeConfig } from "../kube/client.js";
import { ClusterReadError, readClusterSources } from "../kube/plan-source.js";
import { probeUrl } from "../runtime/drivers.js";
import { urlSecrets } from "../runtime/url-redaction.js";
import type { ProfileRegistry } from "../sources/profiles.js";
import { registerComposeCommand } from "./compose.js";
import { chooseComposeCli } from "./compose-cli.js";
import { registerControllerCommand } from "./controller.js";
import { CliError, type Command as CommandName, EXIT, exitCodeFor } from "./exit.js";
import { OUTPUT_FORMATS, type OutputFormat, renderFailure, renderReport } from "./render.js";
import { run } from "./run.js";
import { readStdin } from "./stdin.js";
// The `pooltuner` command. Reads its configuration here and only here (flags, POOLTUNER_MYSQL_URL, the shell
// environment for compose interpolation), runs a command, prints, and sets the exit code from exitCodeFor().
import { version } from "./version.js";

interface PlanFlags {
  mysqlUrl: string[];
  postgresUrl: string[];
  maxConnections: string[];
  reserve: string[];
  unmanaged: string[];
  maxUserConnections: string[];
  sizingTable?: string;
  profiles?: string;
  helmValues: string[];
  maxFileSize?: string;
  maxTotalSize?: string;
  allowEnvFileOutside?: boolean;
  composeProfile: string[];
  composeCli: string;
  output: OutputFormat;
  kube?: boolean;
  kubeconfig?: string;
  namespace: string[];
}

const PROBE_TIMEOUT_MS = 5_000;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function addPlanOptions(cmd: Command): Command {
  return cmd
    .argument(
      "[paths...]",
      "docker-compose files, Kubernetes manifests, or folders of them (told apart by content); - reads standard input",
    )
    .option(
      "--mysql-url <[name=]url>",
      "probe the database live: mysql://user:password@host:port/ (repeat with name= for several; default: env POOLTUNER_MYSQL_URL)",
      collect,
      [],
    )
    .option(
      "--postgres-url <[name=]url>",
      "probe a PostgreSQL database live: postgres://user:password@host:port/dbname (repeat with name= for several; default: env POOLTUNER_POSTGRES_URL); either URL flag takes either scheme",
      collect,
      [],
    )
    .option(
      "--max-connections <[name=]n>",
      "plan offline against max_connections n (repeat with name= for several)",
      collect,
      [],
    )
    .option(
      "--reserve <[name=]n|n%>",
      "headroom kept free for admins, migrations, cron: connections, % of max_connections, or both as n,n% (default 2,5%)",
      collect,
      [],
    )
    .option(
      "--unmanaged <[name=]n>",
      "connections held by other clients (offline default: assumed, max(2, 10%), with a warning; overrides the probe)",
      collect,
      [],
    )
    .option(
      "--max-user-connections <[name=]n>",
      "global max_user_connections (0 = none; overrides the probe)",
      collect,
      [],
    )
    .option(
      "--sizing-table <file>",
      "server-size table (YAML/JSON rows: name, cpu, memory, workers, poolSize, maxOverflow)",
    )
    .option(
      "--profiles <file>",
      "custom application profiles (YAML/JSON list: name, processes, pair or capEnv + default, atMost, tableCap)",
    )
    .option(
      "--helm-values <file>",
      "-o patch: the chart's values file(s), as given to helm -f (repeat; later wins), for workloads annotated pooltuner.io/helm-values: whether the env there is a map or a list",
      collect,
      [],
    )
    .option(
      "--max-file-size <size>",
      "refuse input files larger than this (compose files, manifests, env files, sizing table): 1KiB to 256MiB (default 4MiB)",
    )
    .option(
      "--max-total-size <size>",
      "refuse to read more than this of all input files together (compose files, manifests, env files): 1KiB to 1GiB (default 64MiB)",
    )
    .option(
      "--allow-env-file-outside",
      "let compose env_file (and .env) resolve outside the compose file's folder (default: refused, for CI on untrusted pull requests)",
    )
    .option(
      "--compose-profile <name>",
      "compose profile to activate, as docker compose --profile (repeat; default: env COMPOSE_PROFILES); services of other profiles are not planned",
      collect,
      [],
    )
    .option(
      "--compose-cli <auto|off|path>",
      "read compose projects through `docker compose config` (auto: when a compose v2+ CLI answers; a path: that executable) or merge override files built-in (off)",
      "auto",
    )
    .addOption(
      new Option(
        "-o, --output <format>",
        "output format: table, json, yaml, for CI junit (JUnit XML) or sarif (SARIF 2.1.0), or patch (kustomize patches / a Helm values fragment / .env lines to commit)",
      )
        .choices(OUTPUT_FORMATS)
        .default("table"),
    )
    .option("--kube", "also read the annotated Deployments/StatefulSets and HPAs of a live cluster (read-only)")
    .option("--kubeconfig <file>", "with --kube: kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option("--namespace <ns>", "with --kube: only this namespace (repeat for several; default: all)", collect, []);
}

async function execute(
  command: CommandName,
  paths: string[],
  opts: PlanFlags,
  scrub: (text: string) => string,
): Promise<number> {
  // One list of database URLs: each URL's scheme picks its driver, whichever flag or env var it came in.
  const given = [...opts.mysqlUrl, ...opts.postgresUrl];
  const envUrls = [process.env.POOLTUNER_MYSQL_URL, process.env.POOLTUNER_POSTGRES_URL]
    .map((u) => u?.trim())
    .filter((u): u is string => !!u);
  const mysqlUrl = given.length === 0 && opts.maxConnections.length === 0 ? envUrls : given;

  if (paths.length === 0 && !opts.kube) {
    throw new CliError("bad-input", ["give docker-compose files, manifests or folders, or --kube for a live cluster"]);
  }
  const composeProfiles =
    opts.composeProfile.length > 0
      ? opts.composeProfile
      : (process.env.COMPOSE_PROFILES ?? "")
          .split(",")
          .map((p) => p.trim())
          .filter((p) => p !== "");
  const composeCli = await chooseComposeCli(opts.composeCli, process.env);
  const result = await run({
    command,
    paths,
    composeProfiles,
    ...(composeCli ? { composeCli } : {}),
    ...(opts.kube ? { kube: (profiles?: ProfileRegistry) => kubeSources(opts, profiles) } : {}),
    flags: { ...opts, mysqlUrl },
    ...(opts.sizingTable ? { sizingTable: opts.sizingTable } : {}),
    ...(opts.profiles ? { profiles: opts.profiles } : {}),
    ...(opts.helmValues.length > 0 ? { helmValues: opts.helmValues } : {}),
    ...(opts.maxFileSize !== undefined ? { maxFileSize: opts.maxFileSize } : {}),
    ...(opts.maxTotalSize !== undefined ? { maxTotalSize: opts.maxTotalSize } : {}),
    allowEnvFileOutside: opts.allowEnvFileOutside === true,
    environment: process.env,
    stdin: (limits) => readStdin(limits),
    probe: (url) => probeUrl(url, { connectTimeoutMs: PROBE_TIMEOUT_MS, queryTimeoutMs: PROBE_TIMEOUT_MS }),
  });
  const code = exitCodeFor(result.outcome);
  if (result.report) {
    process.stdout.write(scrub(renderReport(opts.output, result.report, version())));
    // The patch is a file to commit and holds no warnings (every other format carries them): stderr, as documented.
    const { warnings } = result.report;
    if (opts.output === "patch" && warnings.length > 0) {
      process.stderr.write(scrub(`${warnings.map((w) => `warning: ${w}`).join("\n")}\n`));
    }
  } else if (result.outcome.kind === "failed") {
    const { error } = result.outcome;
    const lines = [...error.lines.map((l) => `error: ${l}`), ...result.warnings.map((w) => `warning: ${w}`)];
    process.stderr.write(scrub(`${lines.join("\n")}\n`));
    const doc = renderFailure(
      opts.output,
      { command, exitCode: code, kind: error.kind, lines: error.lines },
      version(),
    );
    if (doc !== undefined) process.stdout.write(scrub(doc));
  }
  return code;
}

/** `--kube`: the live cluster as one more source; a cluster that cannot be read is a part that cannot be reached. */
async function kubeSources(opts: PlanFlags, profiles?: ProfileRegistry) {
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(opts.kubeconfig);
  } catch (err) {
    throw new CliError("bad-input", [`--kube: cannot load the kubeconfig: ${(err as Error).message}`]);
  }
  try {
    return await readClusterSources(kubeConfig, { namespaces: opts.namespace, ...(profiles ? { profiles } : {}) });
  } catch (err) {
    if (err instanceof ClusterReadError) throw new CliError("unreachable", [err.message]);
    throw err;
  }
}

/**
 * Belt and braces: whatever a message says, the secrets of the URLs given on the command line or in
 * POOLTUNER_MYSQL_URL / POOLTUNER_POSTGRES_URL (password, secret query values) never reach the terminal (the probe's errors are already
 * redacted).
 */
function scrubber(candidates: readonly (string | undefined)[]): (text: string) => string {
  const secrets = new Set<string>();
  for (const c of candidates) {
    const start = c?.search(/[a-z][a-z0-9+.-]*:\/\//i) ?? -1;
    if (c === undefined || start < 0) continue;
    for (const secret of urlSecrets(c.slice(start))) secrets.add(secret);
  }
  const list = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => list.reduce((t, s) => t.split(s).join("***"), text);
}

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  const scrub = scrubber([...argv, process.env.POOLTUNER_MYSQL_URL, process.env.POOLTUNER_POSTGRES_URL]);
  const program = new Command()
    .name("pooltuner")
    .description("Sizes per-process SQLAlchemy pools from replicas, workers and MySQL max_connections.")
    .version(version())
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");

  const define = (name: CommandName, description: string) =>
    addPlanOptions(program.command(name).description(description).exitOverride()).action(
      async (paths: string[], opts: PlanFlags) => {
        code = await execute(name, paths, opts, scrub);
      },
    );
  define("plan", "print the plan: budgets per database, current and recommended pool settings (exit 1 if none fits)");
  define(
    "check",
    "like plan, for CI: exit 1 when the current settings can exceed a budget, 2 on bad input, 3 when a database cannot be reached",
  );

  registerComposeCommand(program, (c) => {
    code = c;
  });
  registerControllerCommand(program, (c) => {
    code = c;
  });

  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; a usage error is bad input.
      return err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (err instanceof CliError) {
      process.stderr.write(scrub(`${err.lines.map((l) => `error: ${l}`).join("\n")}\n`));
      return exitCodeFor({ kind: "failed", error: err });
    }
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(scrub(`internal error (a bug in pooltuner): ${text}\n`));
    return exitCodeFor({ kind: "crashed" });
  }
  return code;
}

process.exitCode = await main(process.argv);
