import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts', 'test/integration/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration tests start real servers; isolate them in forks so native addons (uWS,
    // better-sqlite3) are loaded once per worker and never shared across threads.
    pool: 'forks',
  },
});
