// The compose daemon's memory of stuck recreations (src/docker/frozen.ts): a service stays stuck while its containers
// are the ones the failed recreation left, in any order; any change to that set (a person acted) ends it for good.
import { describe, expect, it } from "vitest";
import { StuckServices } from "../../src/docker/frozen.js";

describe("StuckServices", () => {
  it("is stuck while the containers are the same, in any order", () => {
    const s = new StuckServices();
    s.remember("compose:p/app", ["b", "a"], "why");
    expect(s.check("compose:p/app", ["a", "b"])).toBe("why");
    expect(s.check("compose:p/app", ["b", "a"])).toBe("why");
    expect(s.check("compose:p/other", ["a", "b"])).toBeUndefined();
  });

  it("ends once the set changes (recreated, scaled, removed) and does not come back", () => {
    for (const after of [["a", "c"], ["a"], ["a", "b", "c"], []]) {
      const s = new StuckServices();
      s.remember("compose:p/app", ["a", "b"], "why");
      expect(s.check("compose:p/app", after)).toBeUndefined();
      expect(s.check("compose:p/app", ["a", "b"])).toBeUndefined();
      expect(s.size()).toBe(0);
    }
  });

  it("forgets services that are gone", () => {
    const s = new StuckServices();
    s.remember("compose:p/app", ["a"], "why");
    s.remember("compose:q/app", ["b"], "why");
    s.keepOnly(new Set(["compose:q/app"]));
    expect(s.size()).toBe(1);
    expect(s.check("compose:q/app", ["b"])).toBe("why");
  });
});
