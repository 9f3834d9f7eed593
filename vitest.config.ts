import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Quiet unless something fails: console output (and the product's logs, test/support/quiet-logs.ts)
    // is printed only for failing tests.
    setupFiles: ["test/support/quiet-logs.ts"],
    silent: "passed-only",
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
