import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // examples/*.test.ts: the README's vitest example (rustplug/cargo) keeps working.
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // Each file in its own process: plugins stay mapped (RTLD_NODELETE) and some tests check
    // what the process has loaded.
    pool: 'forks',
    // Builds dist/ when stale: the future tests' child processes and worker threads import it.
    globalSetup: ['test/global-setup.ts'],
    // The fixtures panic on purpose; their messages stay, full backtraces would only be noise.
    env: { RUST_BACKTRACE: '0' },
  },
});
