import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspace packages resolve to their TypeScript sources, so unit tests need no build.
    conditions: ['source'],
  },
  // The same for what tests import from the workspace's packages (test support imports @orc/daemon):
  // one copy of the engine, not its source beside its dist (an error class from one would not be the
  // other's).
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tests/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Kills what a timed-out test started after its cleanup (processes in removed temp homes).
    globalSetup: ['tests/support/global-teardown.ts'],
    env: { ORC_HOME: '/nonexistent/orc-home-set-by-each-test' },
  },
});
