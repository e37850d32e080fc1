import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Load tests share two cores: run files one at a time so timing assertions stay meaningful.
    fileParallelism: false,
    pool: "forks"
  }
})
