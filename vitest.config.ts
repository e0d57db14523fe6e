import { defineConfig } from 'vitest/config';

// One run covers every package: unit tests beside the code, cross-process tests in test/.
// The "source" export condition lets packages import each other's TypeScript directly,
// so a test never runs against a stale dist/.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['{common,master,agent,test}/src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
