import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run test:unit`: the tests a developer runs every minute. test/unit only, and no build of
 * dist/ first (test/global-setup.ts is for the integration tests, which run the built CLI).
 * Spread, not mergeConfig: that would append to the include list instead of replacing it.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/unit/**/*.test.ts"],
    globalSetup: [],
    // One module cache for all files: tfjs and the rest load once per worker, not once per file,
    // which halves the run. `npm test` still runs every file isolated, so a test that leaks state
    // into another is caught there.
    isolate: false,
  },
});
