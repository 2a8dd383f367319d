import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // Real servers and processes: give each test room, and keep files in separate workers.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The machine has 2 cores; socket- and process-heavy files interfere when many run at once.
    maxWorkers: 2,
  },
});
