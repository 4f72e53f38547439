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
    // Child processes are killed by their own timers (at most 30 s); a test outlives its child so
    // that a slow machine (sanitizer builds, a loaded CI host) reports the child's failure, not a
    // timeout. Nothing here measures time.
    testTimeout: 45_000,
  },
});
