// The planning core: pure functions from a Snapshot to a Plan. No I/O, no clock, no environment.
export * from "./allocate.js";
export * from "./change-window.js";
export * from "./decide.js";
export * from "./draining.js";
export * from "./plan.js";
export * from "./plan-types.js";
export * from "./pods.js";
export * from "./policy.js";
export * from "./profile.js";
export * from "./restart-budget.js";
export * from "./rollout-path.js";
export * from "./sizing-table.js";
export * from "./snapshot.js";
export * from "./surge-cost.js";
export * from "./unmanaged.js";
export * from "./validate.js";
