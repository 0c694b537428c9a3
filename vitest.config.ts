import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'agent/**/*.test.ts', 'collector/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Interop tests start real Prometheus/node_exporter processes; two cores do not
    // carry many of those at once.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
