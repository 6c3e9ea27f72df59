// What the private MariaDB and PostgreSQL servers of the test bed (mariadb.ts, postgres.ts) both need to start one
// beside others and to clean up after a crashed run.
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A port the kernel just handed out; the server may still lose it to a racer, so each boot() retries. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("could not get a free port"))));
    });
  });
}

/** The last lines of a server's log, for a failure message; `missing` when there is none. */
export async function readTail(file: string, lines: number, missing: string): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return missing;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
