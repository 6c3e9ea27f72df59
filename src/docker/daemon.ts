// `pooltuner compose`: the daemon beside docker-compose. Level-based like a controller: the unit of work is a
// database (every service on it shares one budget); events, polls and timers only queue its name, and a reconcile
// reads the containers and the database afresh, plans with the same core as `plan`, lets `decide` pick at most
// one change, and applies it by recreating the service's containers one at a time. The applied values live on
// the containers themselves, so a restarted daemon finds nothing to do (Reloader #166/#216).
import type Docker from "dockerode";
import {
  type Damping,
  type DatabaseSnapshot,
  decide,
  type Plan,
  type Policy,
  plan as planSnapshot,
  type WorkloadState,
} from "../core/index.js";
import type { DatabaseConfig } from "../runtime/config.js";
import { DatabaseMonitor } from "../runtime/database-monitor.js";
import { accountUnknownHeld } from "../runtime/deferral-text.js";
import type { Logger } from "../runtime/logger.js";
import { managedUsers } from "../runtime/managed-users.js";
import type { Metrics } from "../runtime/metrics.js";
import { sleep } from "../runtime/sleep.js";
import { type ReconcileResult, WorkQueue } from "../runtime/work-queue.js";
import { PREFIX } from "../sources/annotations.js";
import { type DiscoveredService, type Discovery, discover } from "./discover.js";
import {
  type EnvFileLocation,
  envFilePath,
  readEnvFile,
  restoreEnvFile,
  withValues,
  writeEnvFileAtomic,
} from "./env-file.js";
import { watchContainerEvents } from "./events.js";
import { hasPooltunerLabels } from "./labels.js";
import { type RecreateOptions, recoverInterrupted, recreateWithEnv } from "./recreate.js";

export interface ComposeDaemonOptions {
  readonly docker: Docker;
  readonly databases: readonly DatabaseConfig[];
  readonly policy: Policy;
  readonly damping: Damping;
  /** Plan and log what would change; never recreate or write. */
  readonly dryRun: boolean;
  /** Only these compose projects, when given. */
  readonly projects?: readonly string[];
  /** How often every database is probed (max_connections, other clients). */
  readonly pollIntervalMs: number;
  /** Full resync of containers even without events: a watchdog for a silently stalled event stream. */
  readonly resyncIntervalMs: number;
  /** Other clients' connections are taken at their highest over this window. */
  readonly unmanagedWindowMs: number;
  readonly recreate: RecreateOptions;
  /** Where applied values are persisted for the next `docker compose up -d`; undefined: not persisted. */
  readonly persist?: EnvFileLocation;
  /** After a failed apply, the same change waits this long before it is tried again (no restart loops). */
  readonly failureBackoffMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
}

/** What one reconcile of a database did; `once` returns them, tests read them. */
export interface ReconcileReport {
  readonly database: string;
  readonly plan?: Plan;
  readonly applied: readonly { workload: string; change: string; containers: readonly string[] }[];
  readonly failed: readonly { workload: string; container: string; reason: string; restored: boolean }[];
  readonly deferred: readonly { workload: string; reason: string }[];
  readonly skipped?: string;
}

export class ComposeDaemon {
  private readonly monitor: DatabaseMonitor;
  private readonly now: () => number;
  private readonly increaseSeen = new Map<string, { target: string; at: number }>();
  private readonly failures = new Map<string, { target: string; at: number }>();
  /** Last snapshot of each database that answered: used (for decreases only) while the server is full. */
  private readonly lastGood = new Map<string, DatabaseSnapshot>();
  private loggedDiscovery = new Set<string>();
  private readonly loggedPlan = new Map<string, Set<string>>();
  private inflight = 0;
  private synced = false;
  private lastLoop = Date.now();
  readonly reports: ReconcileReport[] = [];

  constructor(private readonly o: ComposeDaemonOptions) {
    this.now = o.now ?? Date.now;
    this.monitor = new DatabaseMonitor(o.databases, { windowMs: o.unmanagedWindowMs, now: this.now });
  }

  /** The loop is alive (a stuck poll timer turns it false). */
  healthy(): boolean {
    return Date.now() - this.lastLoop < Math.max(60_000, 3 * this.o.pollIntervalMs);
  }

  /** Containers listed once and every database probed once. */
  ready(): boolean {
    return this.synced && this.monitor.names().every((n) => this.monitor.status(n) !== undefined);
  }

  /** One pass: settle interrupted recreates, probe every database, reconcile each once. */
  async once(): Promise<ReconcileReport[]> {
    await this.recover();
    const out: ReconcileReport[] = [];
    for (const name of this.monitor.names()) {
      await this.monitor.poll(name);
      out.push(await this.reconcile(name));
    }
    this.synced = true;
    return out;
  }

  /** Run until `signal` aborts; finishes a recreate in progress before returning. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.o.logger;
    await this.recover();
    const queue = new WorkQueue({
      debounceMs: 500,
      baseBackoffMs: 1_000,
      maxBackoffMs: 60_000,
      signal,
      onError: (key, err, retry) =>
        log.error(
          { database: key, err: errText(err), retryInMs: retry },
          `reconcile of ${key} failed: ${errText(err)}`,
        ),
    });
    const names = this.monitor.names();
    const addAll = () => {
      for (const n of names) queue.add(n);
    };
    for (const n of names) await this.monitor.poll(n);
    queue.start(async (key) => {
      this.inflight++;
      try {
        return await this.reconcileForQueue(key);
      } finally {
        this.inflight--;
      }
    });

    const events = watchContainerEvents(this.o.docker, {
      signal,
      onEvent: (e) => {
        if (hasPooltunerLabels(e.labels)) addAll();
      },
      onConnected: (attempt) => {
        if (attempt > 0) log.info("Docker event stream reconnected; resyncing");
        this.synced = true;
        addAll();
      },
      onDisconnected: (reason, retry) =>
        log.warn({ retryInMs: retry }, `Docker event stream lost (${reason}); reconnecting in ${retry} ms`),
    });

    let lastResync = Date.now();
    const poll = async () => {
      while (!signal.aborted) {
        await sleep(this.o.pollIntervalMs, signal);
        if (signal.aborted) break;
        this.lastLoop = Date.now();
        for (const n of names) if (await this.monitor.poll(n)) queue.add(n);
        if (Date.now() - lastResync >= this.o.resyncIntervalMs) {
          lastResync = Date.now();
          addAll();
        }
      }
    };
    await Promise.all([events, poll()]);
    while (this.inflight > 0) await sleep(100, new AbortController().signal);
  }

  private async recover(): Promise<void> {
    if (this.o.dryRun) return;
    for (const line of await recoverInterrupted(this.o.docker)) this.o.logger.warn(line);
  }

  private async reconcileForQueue(database: string): Promise<ReconcileResult | undefined> {
    const report = await this.reconcile(database);
    if (report.applied.length > 0 || report.failed.length > 0) return { requeueAfter: 1_000 };
    const untils = (report.plan ? this.cooldownEnds(report) : []).filter((t) => t > this.now());
    if (untils.length > 0) return { requeueAfter: Math.min(...untils) - this.now() + 50 };
    return undefined;
  }

  private cooldownEnds(report: ReconcileReport): number[] {
    return report.deferred.flatMap((d) => ("until" in d && typeof d.until === "number" ? [d.until] : []));
  }

  /** Plan one database and apply at most one change. */
  async reconcile(database: string): Promise<ReconcileReport> {
    const log = this.o.logger.child({ database });
    const metrics = this.o.metrics;
    const discovery = await discover(this.o.docker, {
      databases: this.monitor.names(),
      ...(this.o.projects ? { projects: this.o.projects } : {}),
      addressOf: (name) => this.monitor.address(name),
    });
    this.logDiscovery(discovery.services, discovery.ignored);
    const services = discovery.services.filter((s) => s.workload?.database === database);

    const status = this.monitor.status(database);
    metrics.reachable.set({ database }, status?.ok ? 1 : 0);
    let dbSnap: DatabaseSnapshot | undefined;
    let decreasesOnly = false;
    const managed = managedUsers(services.flatMap((s) => (s.workload ? [s.workload] : [])));
    if (status?.ok) {
      dbSnap = this.monitor.snapshot(database, managed.users);
      if (dbSnap) this.lastGood.set(database, dbSnap);
    } else if (status && status.kind === "server-full" && this.lastGood.has(database)) {
      // Exactly when the pools are too big the probe may not get in: keep the last known limits and allow only
      // decreases. (A monitoring account with CONNECTION ADMIN/SUPER gets the server's one extra slot.)
      dbSnap = this.lastGood.get(database);
      decreasesOnly = true;
      log.warn(`${database} is full (error 1040); planning from its last probe, decreases only`);
    }
    if (!dbSnap) {
      const why = status && !status.ok ? `${status.kind}: ${status.message}` : "not probed yet";
      log.warn(`${database}: no plan, the database cannot be probed (${why}); nothing is changed`);
      return this.record({ database, applied: [], failed: [], deferred: [], skipped: why });
    }

    let plan: Plan;
    try {
      plan = planSnapshot(
        { databases: [dbSnap], workloads: services.flatMap((s) => (s.workload ? [s.workload] : [])) },
        this.o.policy,
      );
    } catch (err) {
      log.error(`${database}: cannot plan: ${errText(err)}`);
      return this.record({ database, applied: [], failed: [], deferred: [], skipped: errText(err) });
    }
    const dbPlan = plan.databases[0];
    if (dbPlan) metrics.recordDatabase(dbPlan, status?.ok ? status.probe.threadsConnected : undefined);
    for (const w of plan.workloads) metrics.recordWorkload(w);
    const states = new Map<string, WorkloadState>();
    const now = this.now();
    for (const s of services) {
      const w = plan.workloads.find((x) => x.id === s.id);
      const target = w?.recommended ? `${w.recommended.poolSize}+${w.recommended.maxOverflow}` : "";
      const seen = this.increaseSeen.get(s.id);
      if (w?.change === "increase") {
        if (seen?.target !== target) this.increaseSeen.set(s.id, { target, at: now });
      } else {
        this.increaseSeen.delete(s.id);
      }
      states.set(s.id, {
        // A service with a bad label or env is planned for (its connections count) but never changed.
        updateMode: s.errors.length > 0 ? "off" : s.options.updateMode,
        lastAppliedAt: s.lastChangedAt,
        ...(this.increaseSeen.has(s.id) ? { increaseSeenAt: this.increaseSeen.get(s.id)?.at as number } : {}),
        rollingOut: s.settling,
      });
    }
    const decision = decide(plan, states, now, this.o.damping);
    // Findings and the warnings a person must act on, each logged once while it lasts.
    const heldIds = new Set(decision.deferred.filter((d) => d.reason === "account-unknown").map((d) => d.workload));
    metrics.recordHeld(plan.workloads, heldIds);
    const held = [...heldIds].map((id) => accountUnknownHeld(id, `${PREFIX.docker}account label`));
    this.logPlanFindings(database, plan, log, [...managed.warnings.map((w) => `${w.workload}: ${w.message}`), ...held]);
    const deferred: { workload: string; reason: string; until?: number }[] = [...decision.deferred];
    const applied: ReconcileReport["applied"][number][] = [];
    const failed: ReconcileReport["failed"][number][] = [];
    for (const d of decision.deferred) {
      if (d.reason !== "database-busy" && d.reason !== "decrease-pending")
        log.debug({ workload: d.workload, reason: d.reason, until: d.until }, `${d.workload}: deferred (${d.reason})`);
    }

    for (const action of decision.apply) {
      const s = services.find((x) => x.id === action.workload);
      if (!s) continue;
      const target = `${action.to.poolSize}+${action.to.maxOverflow}`;
      const fail = this.failures.get(s.id);
      if (fail && fail.target === target && now - fail.at < this.o.failureBackoffMs) {
        deferred.push({ workload: s.id, reason: "failed-recently", until: fail.at + this.o.failureBackoffMs });
        continue;
      }
      if (decreasesOnly && action.change !== "decrease") {
        deferred.push({ workload: s.id, reason: "database-full" });
        continue;
      }
      const w = plan.workloads.find((x) => x.id === s.id);
      const peaks = `peak ${w?.current.peak ?? "unbounded"} -> ${w?.recommended?.peak}, budget ${dbPlan?.usable}`;
      const what = `${s.id}: ${action.change} pool_size+max_overflow ${action.from.poolSize}+${action.from.maxOverflow} -> ${target} (${peaks})`;
      if (this.o.dryRun) {
        log.info(
          { workload: s.id, change: action.change, from: action.from, to: action.to },
          `dry-run: would apply ${what}`,
        );
        metrics.patches.inc({ workload: s.id, database, change: action.change, result: "dry-run" });
        applied.push({ workload: s.id, change: `dry-run ${action.change}`, containers: [] });
        continue;
      }
      log.info({ workload: s.id, change: action.change, from: action.from, to: action.to }, `applying ${what}`);
      const result = await this.apply(s, action.change, {
        [s.options.poolSizeEnv]: String(action.to.poolSize),
        [s.options.maxOverflowEnv]: String(action.to.maxOverflow),
      });
      metrics.patches.inc({
        workload: s.id,
        database,
        change: action.change,
        result: result.failed ? "failed" : "ok",
      });
      if (result.failed) {
        this.failures.set(s.id, { target, at: this.now() });
        failed.push({ workload: s.id, ...result.failed });
        log.error(
          { workload: s.id, container: result.failed.container, restored: result.failed.restored },
          `${s.id}: apply failed on container ${result.failed.container}: ${result.failed.reason}; ` +
            (result.failed.restored
              ? "the original container was restored"
              : "the original container could NOT be restored, see the previous error") +
            `; retrying this change in ${Math.round(this.o.failureBackoffMs / 1000)} s at the earliest`,
        );
      } else {
        this.failures.delete(s.id);
        this.increaseSeen.delete(s.id);
        log.info(
          { workload: s.id, containers: result.recreated },
          `applied ${what} to ${result.recreated.length} container(s)`,
        );
      }
      applied.push({ workload: s.id, change: action.change, containers: result.recreated });
    }
    return this.record({ database, plan, applied, failed, deferred });
  }

  /** Persist, then recreate every container whose env differs, one at a time; stop at the first failure. */
  private async apply(
    s: DiscoveredService,
    change: string,
    env: Record<string, string>,
  ): Promise<{ recreated: string[]; failed?: { container: string; reason: string; restored: boolean } }> {
    const log = this.o.logger;
    const path = this.o.persist ? envFilePath(s.workingDir, s.service, this.o.persist) : undefined;
    let previous: string | undefined;
    let persisted = false;
    if (this.o.persist && !path) {
      log.warn(`${s.id}: no compose project directory on its containers; the values are not persisted`);
    } else if (path) {
      try {
        previous = await readEnvFile(path);
        await writeEnvFileAtomic(path, withValues(previous, env));
        persisted = true;
      } catch (err) {
        const msg = `${s.id}: cannot write ${path} (${errText(err)}): a later \`docker compose up -d\` would undo the values`;
        if (change !== "decrease") {
          return {
            recreated: [],
            failed: { container: "-", reason: `${msg}; the increase is not applied`, restored: true },
          };
        }
        log.error(`${msg}; the decrease is applied anyway (it restores safety)`);
      }
    }
    const recreated: string[] = [];
    for (const c of s.containers) {
      const envNow = new Map(
        (c.inspect.Config.Env ?? []).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      if (Object.entries(env).every(([k, v]) => envNow.get(k) === v)) continue;
      this.o.metrics.restarts.inc({ workload: s.id, database: s.workload?.database ?? "" });
      let r: Awaited<ReturnType<typeof recreateWithEnv>>;
      try {
        r = await recreateWithEnv(this.o.docker, c.id, env, this.o.recreate);
      } catch (err) {
        // Before any change (the container vanished, the Engine stopped answering): nothing to restore.
        r = { ok: false, name: c.name, reason: errText(err), restored: true };
      }
      if (!r.ok) {
        if (persisted && path) await restoreEnvFile(path, previous).catch(() => {});
        return {
          recreated,
          failed: {
            container: r.name,
            reason: r.restoreError ? `${r.reason}; restore failed: ${r.restoreError}` : r.reason,
            restored: r.restored,
          },
        };
      }
      recreated.push(r.name);
      if (r.dependents.length > 0)
        log.info(`${s.id}: ${r.dependents.join(", ")} followed ${r.name} (network_mode container:)`);
    }
    return { recreated };
  }

  private record(r: ReconcileReport): ReconcileReport {
    this.o.metrics.reconciles.inc({
      database: r.database,
      result: r.failed.length > 0 ? "failed" : r.skipped ? "skipped" : "ok",
    });
    this.reports.push(r);
    if (this.reports.length > 100) this.reports.shift();
    return r;
  }

  /** Each label or env problem is logged once while it lasts (not on every reconcile). */
  private logDiscovery(services: readonly DiscoveredService[], ignored: Discovery["ignored"]): void {
    const lines = new Map<string, "error" | "warn">();
    for (const s of services) {
      for (const e of s.errors) lines.set(e, "error");
      for (const w of s.warnings) lines.set(w, "warn");
      // An unknown worker count is not planned at all; its error line already says so and names the label.
      if (s.errors.length > 0 && s.workload && s.workload.workers !== "unknown")
        lines.set(`${s.object}: counted in the plan but not changed until its labels/env are fixed`, "warn");
    }
    for (const line of ignored.errors) lines.set(`${line} (not managed)`, "error");
    for (const line of ignored.warnings) lines.set(line, "warn");
    for (const [line, level] of lines) if (!this.loggedDiscovery.has(line)) this.o.logger[level](line);
    this.loggedDiscovery = new Set(lines.keys());
  }

  private logPlanFindings(database: string, plan: Plan, log: Logger, warnings: readonly string[]): void {
    const before = this.loggedPlan.get(database) ?? new Set<string>();
    const now = new Set<string>();
    for (const f of plan.findings) {
      // Logged by discovery as the label error (one line per unknown worker count, naming the label to set).
      if (f.kind === "unknown-workers") continue;
      now.add(f.message);
      if (!before.has(f.message)) log[f.severity === "error" ? "error" : "warn"]({ finding: f.kind }, f.message);
    }
    for (const line of warnings) {
      if (!before.has(line) && !now.has(line)) log.warn(line);
      now.add(line);
    }
    this.loggedPlan.set(database, now);
  }
}

function errText(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}
