// `--compose-cli`: where `plan`/`check` get a compose project's merged model. `auto` (the default) uses
// `docker compose` (the CLI plugin) or a standalone `docker-compose` when one of version 2 or later answers, and
// otherwise merges override files itself (src/sources/compose-merge.ts); `off` always merges itself; a path names
// the compose executable (`docker`: run as `docker compose`). Compose 1.x (Debian's docker-compose 1.29) has no
// `config --format json` and is never used.
import { execFile } from "node:child_process";
import { open } from "node:fs/promises";
import { basename, delimiter, join } from "node:path";
import type { ComposeCli } from "../sources/compose-project.js";
import { CliError } from "./exit.js";

/** How long `docker compose config` may take; it reads local files only (remote includes are refused first). */
const CONFIG_TIMEOUT_MS = 30_000;
const VERSION_TIMEOUT_MS = 10_000;
/** The printed model is capped, like any input file. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

interface Command {
  readonly file: string;
  readonly prefix: readonly string[];
}

/** `--compose-cli`: auto, off, or a path (checked now: exit 2 when it is not compose v2+). */
export async function chooseComposeCli(
  mode: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<ComposeCli | undefined> {
  if (mode === "off") return undefined;
  if (mode === "auto") {
    // Looked for on first use only: a plan of manifests alone never runs a compose command.
    let found: Promise<Command | undefined> | undefined;
    const find = () => {
      found ??= firstCompose(
        [
          { file: "docker", prefix: ["compose"] },
          { file: "docker-compose", prefix: [] },
        ],
        env,
      );
      return found;
    };
    return {
      available: async () => (await find()) !== undefined,
      config: async (input) => {
        const c = await find();
        return c ? configOf(c, env, input) : { ok: false, message: "no compose CLI found" };
      },
    };
  }
  const c: Command = { file: mode, prefix: basename(mode) === "docker" ? ["compose"] : [] };
  const version = await composeVersion(c, env);
  if (version === undefined) {
    throw new CliError("bad-input", [
      `--compose-cli: ${mode} is not a compose CLI that answers \`${[c.file, ...c.prefix, "version"].join(" ")}\``,
    ]);
  }
  if (version < 2) {
    throw new CliError("bad-input", [
      `--compose-cli: ${mode} is compose ${version}.x; pooltuner needs compose v2 or later (config --format json); use --compose-cli off`,
    ]);
  }
  return { available: async () => true, config: (input) => configOf(c, env, input) };
}

async function firstCompose(
  candidates: readonly Command[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<Command | undefined> {
  for (const c of candidates) {
    // Compose 1.x is a Python script, slow to start and never used: not run at all.
    if (await isScript(c.file, env)) continue;
    const version = await composeVersion(c, env);
    if (version !== undefined && version >= 2) return c;
  }
  return undefined;
}

/** Whether the command found on PATH starts with `#!` (ELF binaries, as compose v2+ is, do not). */
async function isScript(file: string, env: Readonly<Record<string, string | undefined>>): Promise<boolean> {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const handle = await open(join(dir, file), "r").catch(() => undefined);
    if (!handle) continue;
    try {
      const head = Buffer.alloc(2);
      await handle.read(head, 0, 2, 0);
      return head.toString("latin1") === "#!";
    } catch {
      return false;
    } finally {
      await handle.close();
    }
  }
  return false;
}

/** The major version `compose version --short` prints (`2.40.3`, `v5.6.0`), or undefined when it does not answer. */
function composeVersion(c: Command, env: Readonly<Record<string, string | undefined>>): Promise<number | undefined> {
  return new Promise((done) => {
    execFile(
      c.file,
      [...c.prefix, "version", "--short"],
      { env: env as NodeJS.ProcessEnv, timeout: VERSION_TIMEOUT_MS, maxBuffer: 64 * 1024 },
      (err, stdout) => {
        if (err) return done(undefined);
        const m = /^v?(\d+)\./.exec(String(stdout).trim());
        done(m ? Number(m[1]) : undefined);
      },
    );
  });
}

function configOf(
  c: Command,
  env: Readonly<Record<string, string | undefined>>,
  { files, projectDir, profiles }: Parameters<ComposeCli["config"]>[0],
): ReturnType<ComposeCli["config"]> {
  return new Promise((done) => {
    const args = [
      ...c.prefix,
      "--project-directory",
      projectDir,
      ...files.flatMap((f) => ["-f", f]),
      ...profiles.flatMap((p) => ["--profile", p]),
      "config",
      "--format",
      "json",
      // env files are read by pooltuner, under its guards (size cap, project folder, regular files).
      "--no-env-resolution",
    ];
    execFile(
      c.file,
      args,
      { env: env as NodeJS.ProcessEnv, timeout: CONFIG_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, cwd: projectDir },
      (err, stdout, stderr) => {
        if (err) {
          const killed = (err as { killed?: boolean }).killed;
          const last = String(stderr)
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l !== "")
            .pop();
          return done({
            ok: false,
            message: killed
              ? `did not finish within ${CONFIG_TIMEOUT_MS / 1000} s`
              : (last ?? `exited with ${String((err as { code?: unknown }).code)}`).slice(0, 500),
          });
        }
        try {
          done({ ok: true, data: JSON.parse(String(stdout)) });
        } catch {
          done({ ok: false, message: "printed something that is not JSON" });
        }
      },
    );
  });
}
