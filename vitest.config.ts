import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file in its own process: plugins stay mapped (RTLD_NODELETE) and some tests check
    // what the process has loaded.
    pool: 'forks',
  },
});
