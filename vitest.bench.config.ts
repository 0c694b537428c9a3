import { defineConfig } from 'vitest/config';

// `npm run bench`: benchmarks that compare kubepulse with its peers side by side. Each
// writes its figures to test/bench/results/<area>.md; RESULTS.md collects them.
export default defineConfig({
  test: {
    include: ['test/bench/**/*.bench.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 10 * 60_000,
    fileParallelism: false,
    reporters: ['verbose'],
  },
});
