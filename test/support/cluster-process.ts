// Stops and starts components of a test cluster (kwokctl's binary runtime has no per-component command): the process
// named by the cluster's pid file is captured (command line, working directory, environment), killed, and started
// again the same way; the pid file then names the new process, so `kube.sh down` still stops it.
// kube-controller-manager and kube-scheduler exit by design when they cannot renew their own leases while the API
// server is down: `revive` starts them again, so the rest of the run keeps a whole control plane.
import { spawn } from "node:child_process";
import { openSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface ClusterProcess {
  readonly name: string;
  alive(): boolean;
  /** SIGKILL (a crash: every connection is reset at once), then waits until the process is gone. */
  stop(): Promise<void>;
  /** Starts it again as it was started (it serves a few seconds later). */
  start(): void;
}

/** Where kube.sh keeps cluster NAME (its pid files, logs and, with a real node, `node/`). */
export function clusterDir(clusterName: string): string {
  const cache = process.env.POOLTUNER_CACHE ?? join(homedir(), ".cache/pooltuner");
  return join(cache, "kwok/clusters", clusterName);
}

/** Running, and not a zombie (the processes kwokctl started have no parent left to reap them here). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The running component `name` (kube-apiserver, kube-controller-manager, kube-scheduler) of the cluster. */
export function clusterProcess(clusterName: string, name: string): ClusterProcess {
  const dir = clusterDir(clusterName);
  const pidFile = join(dir, `pids/${name}.pid`);
  let pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new Error(`no pid in ${pidFile}`);
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
    .split("\0")
    .filter((a) => a !== "");
  if (!argv[0]?.includes(name)) throw new Error(`pid ${pid} of ${pidFile} is not ${name}`);
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter((e) => e.includes("="))
      .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
  return {
    name,
    alive: () => running(pid),
    async stop() {
      // Not SIGTERM: a graceful kube-apiserver keeps draining its watches for up to a minute.
      process.kill(pid, "SIGKILL");
      const deadline = Date.now() + 60_000;
      while (running(pid)) {
        if (Date.now() > deadline) throw new Error(`${name} ${pid} did not stop within 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    start() {
      const log = openSync(join(dir, `logs/${name}.log`), "a");
      const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, detached: true, stdio: ["ignore", log, log] });
      if (!child.pid) throw new Error(`could not start ${name} again`);
      pid = child.pid;
      writeFileSync(pidFile, String(pid));
      child.unref();
    },
  };
}

/** Starts again every one of `processes` that is no longer running; returns the names of those it started. */
export function revive(processes: readonly ClusterProcess[]): string[] {
  const started: string[] = [];
  for (const p of processes) {
    if (p.alive()) continue;
    p.start();
    started.push(p.name);
  }
  return started;
}
