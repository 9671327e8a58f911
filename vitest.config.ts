import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration tests start real servers; isolate them in forks so native addons (uWS,
    // better-sqlite3) are loaded once per worker and never shared across threads.
    pool: 'forks',
    globalSetup: ['test/helpers/conformance-global.ts', 'test/helpers/web-build-global.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts'] } },
      {
        extends: true,
        // Every HTTP answer and WebSocket frame these tests receive is checked against the API
        // descriptions (test/helpers/conformance.ts), and what they met is recorded.
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], setupFiles: ['test/helpers/conformance-setup.ts'] },
      },
      {
        extends: true,
        // Real Chromium (Debian's) driving the web client served by a real gateway.
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        // The chaos test: a three-node cluster under faults (test/chaos/chaos.test.ts; CHAOS=0 skips it).
        test: { name: 'chaos', include: ['test/chaos/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        // After everything else (groupOrder): did the suite meet every operation and frame?
        test: { name: 'conformance', include: ['test/conformance/**/*.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
