import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `stack` talks to the local stack
// (test/stack), which its global setup starts and which must not be skipped under CI. A test that
// needs the stack is named `*.stack.test.ts` wherever it lives, and that name alone decides its project.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'packages/*/src/**/*.test.ts',
            'actions/*/src/**/*.test.ts',
            'actions/*/test/**/*.test.ts',
            'packages/*/test/**/*.test.ts',
            'scripts/**/*.test.ts',
            'test/*.test.ts',
            'test/security/*.test.ts',
            'examples/*/test/**/*.test.{ts,js}',
            'test/e2e/**/*.test.ts',
            'images/*/**/*.test.ts',
          ],
          exclude: ['**/*.stack.test.ts', '**/node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'stack',
          include: ['**/*.stack.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['test/stack/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 3_600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
