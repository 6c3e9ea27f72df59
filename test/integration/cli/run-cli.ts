// Runs the real `pooltuner` CLI as a child process (`tsx src/cli/main.ts`, on the same Node as the tests).
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const TSX_CLI = fileURLToPath(new URL("../../../node_modules/tsx/dist/cli.mjs", import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `env` replaces nothing of the caller's environment except POOLTUNER_MYSQL_URL and POOLTUNER_POSTGRES_URL, which are
 * removed unless given.
 * A run still going after `timeoutMs` is killed and rejects: hostile-input tests bound the time this way.
 */
export function runCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  const base = { ...process.env };
  delete base.POOLTUNER_MYSQL_URL;
  delete base.POOLTUNER_POSTGRES_URL;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [TSX_CLI, "src/cli/main.ts", ...args],
      { cwd: REPO, env: { ...base, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : undefined) : 0;
        if (code === undefined) reject(new Error(`pooltuner did not exit normally: ${err?.message}\n${stderr}`));
        else resolve({ code, stdout, stderr });
      },
    );
  });
}
