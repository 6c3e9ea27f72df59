// Tenancy: which namespaces may use a database and with how much weight (src/kube/tenancy.ts), how the
// configuration file says so, and that a refused workload's database user never counts as managed.
import { describe, expect, it } from "vitest";
import { accessOf, DEFAULT_MAX_WEIGHT, describeAccess, refusal } from "../../src/kube/tenancy.js";
import { ConfigError, loadConfig } from "../../src/runtime/config.js";
import { managedUsers } from "../../src/runtime/managed-users.js";

describe("tenancy", () => {
  it("a database serves the namespaces its entry lists, and only them", () => {
    const a = accessOf({ namespaces: ["shop", "billing"] }, ["shop", "billing", "other"]);
    expect(refusal(a, "main", "shop", 1)).toBeUndefined();
    expect(refusal(a, "main", "billing", 1)).toBeUndefined();
    const no = refusal(a, "main", "other", 1);
    expect(no).toContain("namespace other may not use database main: database main serves billing, shop");
    expect(no).toContain("databases[].namespaces");
    expect(refusal(a, "main", "kube-system", 1)).toBeDefined();
  });

  it('"*" serves every namespace', () => {
    const a = accessOf({ namespaces: ["*"] }, []);
    expect(refusal(a, "main", "anything", 1)).toBeUndefined();
    expect(describeAccess(a)).toBe(`any namespace (config), weight up to ${DEFAULT_MAX_WEIGHT}`);
  });

  it("an entry without namespaces serves the watched namespaces, or none when all are watched", () => {
    const watched = accessOf({}, ["shop"]);
    expect(refusal(watched, "main", "shop", 1)).toBeUndefined();
    expect(refusal(watched, "main", "other", 1)).toContain("serves the watched ones (shop)");
    const all = accessOf({}, []);
    expect(refusal(all, "main", "shop", 1)).toContain("watches all of them, so it serves none");
    expect(describeAccess(all)).toBe(`no namespace (default (none)), weight up to ${DEFAULT_MAX_WEIGHT}`);
    // An empty list is a list: it serves nothing, whatever is watched.
    expect(refusal(accessOf({ namespaces: [] }, ["shop"]), "main", "shop", 1)).toContain("serves no namespace");
  });

  it("a weight above the cap is refused; at the cap it is allowed", () => {
    expect(DEFAULT_MAX_WEIGHT).toBe(10);
    const byDefault = accessOf({ namespaces: ["shop"] }, []);
    expect(refusal(byDefault, "main", "shop", 10)).toBeUndefined();
    expect(refusal(byDefault, "main", "shop", 10.5)).toContain('pooltuner.io/weight="10.5": above database main');
    const raised = accessOf({ namespaces: ["shop"], maxWeight: 1_000 }, []);
    expect(refusal(raised, "main", "shop", 1_000)).toBeUndefined();
    expect(refusal(raised, "main", "shop", 1_001)).toContain("cap of 1000");
  });

  it("the configuration file takes namespaces and maxWeight per database and checks them", async () => {
    const cfg = await loadConfig(
      "databases:\n  - name: main\n    url: mysql://m:p@db/\n    namespaces: [shop, shop, billing]\n    maxWeight: 4\n" +
        "  - name: other\n    url: mysql://m:p@db2/\n",
      "cfg.yaml",
      {},
    );
    expect(cfg.databases[0]?.namespaces).toEqual(["shop", "billing"]);
    expect(cfg.databases[0]?.maxWeight).toBe(4);
    expect(cfg.databases[1]?.namespaces).toBeUndefined();
    for (const bad of ["namespaces: [Shop_1]", "namespaces: shop", "maxWeight: 0", "maxWeight: 2000000"]) {
      const err = await loadConfig(`databases:\n  - name: main\n    url: mysql://m:p@db/\n    ${bad}\n`, "c.yaml", {})
        .then(() => undefined)
        .catch((e: unknown) => e);
      expect(err, bad).toBeInstanceOf(ConfigError);
      expect(String(err)).toMatch(/databases\.0\.(namespaces|maxWeight)/);
      expect(String(err)).not.toContain("m:p@");
    }
  });

  it("a refused workload's user is never managed, and a planned workload sharing it is warned", () => {
    const planned = { id: "kube:shop/Deployment/web", account: "app", workers: 4 } as const;
    const other = { id: "kube:team-b/Deployment/api", account: "b", workers: 2 } as const;
    const m = managedUsers([planned, other], [{ id: "kube:evil/Deployment/x", account: "app" }]);
    expect([...m.users]).toEqual(["b"]);
    expect(m.warnings).toEqual([
      {
        workload: planned.id,
        message: expect.stringContaining("kube:evil/Deployment/x (not allowed on this database)"),
      },
    ]);
    // Without an account a refused workload changes nothing.
    expect([...managedUsers([planned], [{ id: "kube:evil/Deployment/x" }]).users]).toEqual(["app"]);
  });
});
