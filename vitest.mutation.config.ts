import { defineConfig } from "vitest/config";

// Used only by Stryker (stryker.config.json): the vitest runner cannot pick one project out of vitest.config.ts,
// so this is the `unit` project on its own. The integration projects need real servers and never run under Stryker.
export default defineConfig({
  test: {
    name: "unit",
    include: ["test/unit/**/*.test.ts"],
    // Instrumented code runs slower, and the property tests run for seconds: Stryker's own per-mutant timeout
    // (timeoutMS + timeoutFactor x the dry run's time) is what stops an infinite loop, not this.
    testTimeout: 60_000,
    setupFiles: ["test/support/mutation.setup.ts"],
  },
});
