import { defineConfig } from 'vitest/config';

// One run covers every package: unit tests beside the code, cross-process tests in test/.
// The "source" export condition lets packages import each other's TypeScript directly,
// so a test never runs against a stale dist/.
const shared = {
  testTimeout: 30_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
};

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          ...shared,
          name: 'main',
          include: ['{common,master,agent,test}/src/**/*.test.ts'],
          exclude: ['**/*.disruptive.test.ts', '**/node_modules/**', '**/dist/**'],
        },
      },
      {
        // The agent's tests again, every Docker call through an haproxy socket proxy that grants
        // only AGENT_DOCKER_PERMISSIONS: proves the agent needs nothing more from the engine.
        extends: true,
        test: {
          ...shared,
          name: 'agent-via-socket-proxy',
          include: ['agent/src/**/*.test.ts'],
          exclude: ['**/*.disruptive.test.ts', '**/node_modules/**', '**/dist/**'],
          globalSetup: ['agent/test/socket-proxy-global-setup.ts'],
          setupFiles: ['agent/test/socket-proxy-setup.ts'],
        },
      },
      {
        // Tests that restart the shared Docker engine: they would break every other Docker test
        // running beside them, so `pnpm test` runs this project alone, after the main one.
        extends: true,
        test: {
          ...shared,
          name: 'disruptive',
          include: ['{common,master,agent,test}/src/**/*.disruptive.test.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
