// Loaded only under Stryker (vitest.mutation.config.ts): one fixed fast-check seed, so that every mutant meets the
// same generated cases and two runs of `npm run mutation` on the same code give the same score. A property that fails
// for some seeds is still found by the ordinary `npm run test:unit`, which draws a new seed every run.
import fc from "fast-check";

fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: 20261130 });
