import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{lib,yurthub,tunnel,converter,manager,test}/**/*.test.ts'],
          exclude: ['**/*.e2e.test.ts', 'node_modules/**'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['{lib,yurthub,tunnel,converter,manager,test}/**/*.e2e.test.ts'],
          // Each e2e file starts its own control plane; two at once would fight for 2 cores.
          fileParallelism: false,
          globalSetup: ['test/cluster/e2e-announce.ts'],
          testTimeout: 180_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
