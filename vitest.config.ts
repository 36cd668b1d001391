import { defineConfig } from 'vitest/config';

// Three projects: `unit` needs nothing but Node; `stack` (and `hardening`) talk to the local stack
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
          exclude: ['**/*.stack.test.ts', '**/*.hardening.test.ts', '**/node_modules/**'],
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
      {
        // Cross-cutting reliability and security figures (issue 14): each file prints "N tried, N
        // correct" lines; `pnpm test:hardening` runs them alone, `pnpm test` with the rest.
        test: {
          name: 'hardening',
          include: ['test/hardening/**/*.hardening.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['test/stack/global-setup.ts'],
          testTimeout: 900_000,
          hookTimeout: 3_600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
