// Which database users are the managed workloads' own. The probe mapping (database-monitor.ts) counts every other
// user's connections as other clients'; the CLI, the controller and the compose daemon all ask here, so the three
// cannot disagree on whose connections are whose.
//
// A workload whose worker count is unknown is not planned: its connections are in no plan's sums, so its user is not
// one of them and its live connections count as other clients' (DESIGN §3: what is not known is never assumed small).
// That holds even when a planned workload of the same database connects as the same user: the user's connections
// cannot be split between the two, so they all count as other clients' — the planned workload's own included. That
// budget is conservative (it may shrink the planned workload for its own connections); the other way round, the
// unknown workload's connections would be in no budget at all. A warning says so, with the key that ends it.
// A workload refused on the database (Kubernetes tenancy, src/kube/tenancy.ts) is treated the same way: its user is
// never managed, whichever planned workload shares it.

export interface WorkloadAccount {
  readonly id: string;
  readonly account?: string;
  readonly workers: number | "unknown";
}

/**
 * `workloads`: those of one database. `refused`: workloads that name it but may not use it (tenancy); their users
 * are never managed, so all of their connections count as other clients' — also those of a planned workload that
 * connects as the same user (a warning on it says so).
 */
export function managedUsers(
  workloads: readonly WorkloadAccount[],
  refused: readonly { readonly id: string; readonly account?: string }[] = [],
): {
  readonly users: ReadonlySet<string>;
  /**
   * One per unknown-workers workload whose user a planned one shares, and one per planned workload whose user a
   * refused one shares; `message` does not repeat the workload.
   */
  readonly warnings: readonly { readonly workload: string; readonly message: string }[];
} {
  const planned = workloads.filter((w) => w.workers !== "unknown");
  const unknownUsers = new Set(
    workloads.flatMap((w) => (w.workers === "unknown" && w.account !== undefined ? [w.account] : [])),
  );
  const plannedUsers = new Set(planned.flatMap((w) => (w.account !== undefined ? [w.account] : [])));
  const refusedUsers = new Map<string, string[]>();
  for (const r of refused) {
    if (r.account !== undefined) refusedUsers.set(r.account, [...(refusedUsers.get(r.account) ?? []), r.id]);
  }
  const users = new Set([...plannedUsers].filter((u) => !unknownUsers.has(u) && !refusedUsers.has(u)));
  const warnings: { workload: string; message: string }[] = [];
  for (const w of planned) {
    const by = w.account === undefined ? undefined : refusedUsers.get(w.account);
    if (!by) continue;
    warnings.push({
      workload: w.id,
      message:
        `it connects as database user ${w.account}, as ${by.sort().join(", ")} (not allowed on this database) also ` +
        "does: their connections cannot be told apart, so all of that user's connections count as other clients' " +
        "(a conservative budget)",
    });
  }
  for (const w of workloads) {
    if (w.workers !== "unknown" || w.account === undefined || !plannedUsers.has(w.account)) continue;
    const sharing = planned.filter((p) => p.account === w.account).map((p) => p.id);
    warnings.push({
      workload: w.id,
      message:
        `its worker count is unknown and it connects as database user ${w.account}, as ${sharing.join(", ")} ` +
        `${sharing.length === 1 ? "does" : "do"}: their connections cannot be told apart, so all of that user's ` +
        "connections count as other clients' (a conservative budget) until its workers are known",
    });
  }
  return { users, warnings };
}
