import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // native kernels are multi-threaded already; parallel test files would fight
    // over the two cores and make timings meaningless.
    fileParallelism: false,
  },
});
