import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds dist/ once: integration tests run the real CLI as a child process.
    globalSetup: ["test/global-setup.ts"],
    // Two cores in CI: keep parallelism modest so integration tests with real processes
    // and a real broker are not starved.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
