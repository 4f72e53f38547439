// The runtime's own invariants, each against the shape that broke an earlier version: a wake that
// races a poll (litmus test of the state word), waker reference counts a plugin drives to the
// limit, and symbols wrongly declared as returning a future.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { DeclarationError, futureStats, open } from '../src/index.js';
import { rejection, repoRoot, waitUntil } from './helpers/async-fixture.js';
import { FIXTURES } from './helpers/fixtures.js';
import { PLUGINS, tempDir } from './helpers/plugins.js';

describe('the task state word', () => {
  it('no wake is lost when a waker publishes data while the task is being polled (store-buffering litmus)', () => {
    const exe = join(tempDir(), 'state_litmus');
    execFileSync('g++', ['-O2', '-std=c++17', '-pthread', `-I${join(repoRoot, 'native')}`, join(repoRoot, 'test', 'native', 'state_litmus.cc'), '-o', exe]);
    const out = execFileSync(exe, ['200000'], { encoding: 'utf8' });
    const m = /^new (\d+) old (\d+)$/m.exec(out);
    expect(m, out).not.toBeNull();
    // The old load/store protocol's count shows the harness reaches the race on this machine;
    // it is reported, not asserted (it depends on timing).
    console.log(`state litmus, 200 000 trials: lost wakes, RMW state word ${m![1]}; old store+exchange flag ${m![2]}`);
    expect(Number(m![1])).toBe(0);
  }, 60_000);
});

describe('waker reference counts', () => {
  const hooks = open(FIXTURES.c_hooks, {
    c_clone_leak: { parameters: ['u64'], result: { future: 'u32' } },
    c_clone_drop_all: { parameters: [], result: 'void' },
    c_clone_wake_last: { parameters: [], result: 'void' },
    c_clones_held: { parameters: [], result: 'u64' },
  });
  afterAll(() => hooks.close());

  it('a cell cloned past 2^26 times saturates: pinned and counted, never freed under its holders', async () => {
    const before = futureStats();
    const n = 2 ** 26 + 5;
    expect(await hooks.symbols.c_clone_leak(n)).toBe(1);
    const mid = futureStats();
    expect(mid.saturatedCells - before.saturatedCells).toBe(1);
    expect(mid.wakerClones - before.wakerClones).toBe(n);
    // Every clone but one goes back; the cell must survive them all (it is pinned), and the last
    // wake after the future settled must be harmless.
    hooks.symbols.c_clone_drop_all();
    expect(hooks.symbols.c_clones_held()).toBe(1);
    hooks.symbols.c_clone_wake_last();
    const after = futureStats();
    expect(after.wakerClones).toBe(before.wakerClones);
    // The pinned cell is the one leak saturation allows.
    expect(after.wakerCells - before.wakerCells).toBe(1);
    expect(after.pending).toBe(0);
  }, 30_000);
});

describe('a symbol that does not return an FfiFuture, declared as one', () => {
  it('as a stream too: the first next() rejects with a DeclarationError', async () => {
    const lib = open(PLUGINS.basic, { version: { parameters: [], result: { stream: 'u64' } } });
    const err = await rejection(lib.symbols.version().next());
    expect(err).toBeInstanceOf(DeclarationError);
    expect(err.message).toMatch(/does not return an FfiStream/);
    lib.close();
  });

  // add(i32, i32) -> i32 and version() -> *const c_char write only RAX: the FfiFuture they are
  // taken to return stays as the host initialised it, which must be zeros, every time.
  const lib = open(PLUGINS.basic, {
    add: { parameters: ['i32', 'i32'], result: { future: 'u32' } },
    version: { parameters: [], result: { future: 'u64' } },
  });
  afterAll(() => lib.close());

  it('rejects with ERR_PLUGIN_BAD_DECLARATION, never calls garbage', async () => {
    for (let i = 0; i < 200; i++) {
      for (const p of [lib.symbols.add(i, 1), lib.symbols.version()]) {
        const err = await rejection(p);
        expect(err).toBeInstanceOf(DeclarationError);
        expect(err.code).toBe('ERR_PLUGIN_BAD_DECLARATION');
        expect(err.message).toMatch(/does not return an FfiFuture/);
      }
    }
    await waitUntil(() => futureStats().pending === 0, 'nothing pending');
  });
});

