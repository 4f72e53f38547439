// Futures as Promises, against the real fixtures: every result type, wakes from tokio, std and C
// threads, waker edge cases, panics, cancellation, late wakes, the event loop and close().
import { getEventListeners } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { AbortError, PluginClosedError, PluginPanicError, futureStats } from '../src/index.js';
import {
  QUIET,
  U64_MAX,
  asyncPluginPath,
  fullGc,
  openAsync,
  openCAsync,
  quiesce,
  rejection,
  runNode,
  statsDelta,
  track,
  workersDir,
  type AsyncLib,
  type CAsyncLib,
} from './helpers/async-fixture.js';

let lib: AsyncLib;
let c: CAsyncLib;
let s: AsyncLib['symbols'];

beforeAll(() => {
  lib = openAsync();
  c = openCAsync();
  s = lib.symbols;
});

afterEach(async () => {
  // Every test leaves nothing behind: no future, no waker clone, no host cell, no loop ref.
  expect(await quiesce(lib, c)).toEqual(QUIET);
});

afterAll(async () => {
  expect(await quiesce(lib, c)).toEqual(QUIET);
  lib.close();
  c.close();
});

const polls = () => ({ host: futureStats().polls, plugin: Number(s.polls_total()) });
function pollsSince(before: { host: number; plugin: number }) {
  const now = polls();
  return { host: now.host - before.host, plugin: now.plugin - before.plugin };
}

describe('results ready at the first poll', () => {
  it('settles inside the call: one poll, no task, dropped before the call returns', async () => {
    const before = futureStats();
    const p0 = polls();
    const p = s.ready_u32(7);
    // Synchronous part of the contract, checked before any await.
    expect(p).toBeInstanceOf(Promise);
    expect(s.futures_alive()).toBe(0);
    expect(futureStats().pending).toBe(0);
    expect(futureStats().wakerCells).toBe(0);
    expect(futureStats().loopRefs).toBe(0);
    expect(pollsSince(p0)).toEqual({ host: 1, plugin: 1 });
    expect(await p).toBe(7);
    const d = statsDelta(before);
    expect(d.settled).toBe(1);
    expect(d.wakes).toBe(0);
    expect(d.signals).toBe(0);
    expect(d.drains).toBe(0);
  });

  it.each([
    ['ready_i8', [-128, 127, 0, -1]],
    ['ready_u8', [0, 255, 128]],
    ['ready_i16', [-32768, 32767, -2]],
    ['ready_u16', [0, 65535, 40000]],
    ['ready_i32', [-(2 ** 31), 2 ** 31 - 1, -123456789]],
    ['ready_u32', [0, 2 ** 32 - 1, 3_000_000_000]],
  ] as const)('%s returns exact small integers', async (name, values) => {
    const fn = s[name] as (v: number) => Promise<number>;
    for (const v of values) expect(await fn(v)).toBe(v);
  });

  it.each(['ready_i64', 'ready_isize'] as const)('%s: numbers up to 2^53-1, bigints beyond', async (name) => {
    const fn = s[name] as (v: number | bigint) => Promise<number | bigint>;
    expect(await fn(0)).toBe(0);
    expect(await fn(-1)).toBe(-1);
    expect(await fn(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(await fn(Number.MIN_SAFE_INTEGER)).toBe(Number.MIN_SAFE_INTEGER);
    expect(await fn(12n)).toBe(12); // a bigint argument in the safe range comes back as a number
    expect(await fn(2n ** 53n)).toBe(2n ** 53n);
    expect(await fn(-(2n ** 53n))).toBe(-(2n ** 53n));
    expect(await fn(2n ** 63n - 1n)).toBe(2n ** 63n - 1n);
    expect(await fn(-(2n ** 63n))).toBe(-(2n ** 63n));
  });

  it.each(['ready_u64', 'ready_usize', 'local_ready_u64'] as const)('%s: numbers up to 2^53-1, bigints beyond', async (name) => {
    const fn = s[name] as (v: number | bigint) => Promise<number | bigint>;
    expect(await fn(0)).toBe(0);
    expect(await fn(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(await fn(2n ** 53n)).toBe(2n ** 53n);
    expect(await fn(2n ** 63n)).toBe(2n ** 63n);
    expect(await fn(U64_MAX)).toBe(U64_MAX);
  });

  it('f32 rounds to single precision; f64 is exact, including -0, NaN and infinities', async () => {
    expect(await s.ready_f32(1.5)).toBe(1.5);
    expect(await s.ready_f32(0.1)).toBe(Math.fround(0.1));
    expect(await s.ready_f32(-3.4e38)).toBe(Math.fround(-3.4e38));
    expect(await s.ready_f32(1e39)).toBe(Infinity);
    expect(Object.is(await s.ready_f32(-0), -0)).toBe(true);
    expect(await s.ready_f32(NaN)).toBeNaN();
    expect(await s.ready_f64(0.1)).toBe(0.1);
    expect(await s.ready_f64(Number.MAX_VALUE)).toBe(Number.MAX_VALUE);
    expect(await s.ready_f64(Number.MIN_VALUE)).toBe(Number.MIN_VALUE);
    expect(await s.ready_f64(-Infinity)).toBe(-Infinity);
    expect(Object.is(await s.ready_f64(-0), -0)).toBe(true);
    expect(await s.ready_f64(NaN)).toBeNaN();
  });

  it('bool, void and pointer', async () => {
    expect(await s.ready_bool(true)).toBe(true);
    expect(await s.ready_bool(false)).toBe(false);
    expect(await s.ready_void()).toBeUndefined();
    expect(await s.ready_pointer(null)).toBeNull();
    expect(await s.ready_pointer(0x1234n)).toBe(0x1234n);
    expect(await s.ready_pointer(0xffff_ffff_ffff_fff0n)).toBe(0xffff_ffff_ffff_fff0n);
  });

  it('struct results as objects and as tuples', async () => {
    expect(await s.ready_point(1.5, -2.25)).toEqual({ x: 1.5, y: -2.25 });
    expect(await s.ready_point_tuple(3, 4)).toEqual([3, 4]);
    expect(await s.ready_mixed(255, -7, 1234567, 0.5)).toEqual({ a: 255, b: -7, c: 1234567, d: 0.5 });
    expect(await s.ready_mixed_tuple(1, 2 ** 31 - 1, 99, -1.25)).toEqual([1, 2 ** 31 - 1, 99, -1.25]);
    // A 64-bit field follows the same number-or-bigint rule as a 64-bit result.
    const big = await s.ready_mixed(0, 0, U64_MAX, 0);
    expect(big.c).toBe(U64_MAX);
    const tuple = await s.ready_mixed_tuple(0, 0, 2n ** 53n, 0);
    expect(tuple[2]).toBe(2n ** 53n);
    expect(s.futures_alive()).toBe(0);
  });

  it('LocalFfiFuture has the same layout', async () => {
    const p0 = polls();
    expect(await s.local_ready_u64(77)).toBe(77);
    expect(pollsSince(p0)).toEqual({ host: 1, plugin: 1 });
  });

  it('strings are decoded as UTF-8 and freed by the plugin', async () => {
    expect(await s.ready_string('hello')).toBe('echo: hello');
    expect(await s.ready_string('')).toBe('echo: ');
    expect(await s.ready_string('héllo ✓ 🦀')).toBe('echo: héllo ✓ 🦀');
    const long = 'x'.repeat(100_000);
    expect(await s.ready_string(long)).toBe(`echo: ${long}`);
    expect(s.async_strings_alive()).toBe(0);
  });

  it('a string result without `free` is borrowed: a pointer result can be freed by hand', async () => {
    const p = await s.ready_string_ptr('manual');
    expect(typeof p).toBe('bigint');
    expect(s.async_strings_alive()).toBe(1);
    s.async_free_string(p);
    expect(s.async_strings_alive()).toBe(0);
  });

  it('a C plugin future ready at once (no Rust in the plugin)', async () => {
    expect(await c.symbols.c_ready_u64(5)).toBe(5);
    expect(await c.symbols.c_ready_u64(U64_MAX)).toBe(U64_MAX);
    expect(c.symbols.c_futures_alive()).toBe(0);
  });
});

describe('results after a wake from another thread', () => {
  it('tokio wake (u64): one Pending poll, one wake, one more poll', async () => {
    const before = futureStats();
    const p0 = polls();
    const p = s.sleep_u64(5, 42);
    expect(futureStats().pending).toBe(1);
    expect(futureStats().loopRefs).toBe(1);
    expect(s.futures_alive()).toBe(1);
    expect(await p).toBe(42);
    expect(s.futures_alive()).toBe(0);
    expect(futureStats().pending).toBe(0);
    expect(futureStats().loopRefs).toBe(0);
    expect(pollsSince(p0)).toEqual({ host: 2, plugin: 2 });
    const d = statsDelta(before);
    expect(d.wakes).toBe(1);
    expect(d.signals).toBe(1);
    expect(d.settled).toBe(1);
  });

  it('tokio wake: 64-bit values beyond 2^53 stay exact', async () => {
    expect(await s.sleep_u64(1, U64_MAX)).toBe(U64_MAX);
    expect(await s.sleep_u64(1, Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(await s.sleep_us_u64(10, 2n ** 60n)).toBe(2n ** 60n);
  });

  it('tokio wake: void, f64 and struct results (object and tuple)', async () => {
    expect(await s.tick(2)).toBeUndefined();
    expect(await s.sleep_f64(2, -1.5e300)).toBe(-1.5e300);
    expect(Object.is(await s.sleep_f64(1, -0), -0)).toBe(true);
    expect(await s.sleep_point(2, 0.25, -8)).toEqual({ x: 0.25, y: -8 });
    expect(await s.sleep_point_tuple(2, 1e-300, 6)).toEqual([1e-300, 6]);
  });

  it('std::thread wake: exactly two polls and one wake', async () => {
    const before = futureStats();
    const p0 = polls();
    expect(await s.thread_sleep_u64(10, 2n ** 64n - 2n)).toBe(2n ** 64n - 2n);
    expect(pollsSince(p0)).toEqual({ host: 2, plugin: 2 });
    expect(statsDelta(before).wakes).toBe(1);
  });

  it('C pthread wake: exactly two polls', async () => {
    const before = futureStats();
    const p = c.symbols.c_sleep_u64(10, 99);
    expect(c.symbols.c_futures_alive()).toBe(1);
    expect(await p).toBe(99);
    expect(c.symbols.c_futures_alive()).toBe(0);
    const d = statsDelta(before);
    expect(d.polls).toBe(2);
    expect(d.wakes).toBe(1);
  });

  it('many concurrent futures of every waking kind get their own values', async () => {
    const before = futureStats();
    const jobs: [Promise<unknown>, unknown][] = [];
    for (let i = 0; i < 300; i++) {
      switch (i % 6) {
        case 0:
          jobs.push([s.sleep_u64(i % 7, i), i]);
          break;
        case 1:
          jobs.push([s.sleep_us_u64((i * 37) % 1500, 2n ** 60n + BigInt(i)), 2n ** 60n + BigInt(i)]);
          break;
        case 2:
          jobs.push([s.sleep_point(i % 5, i, -i), { x: i, y: -i }]);
          break;
        case 3:
          jobs.push([s.thread_sleep_u64(i % 9, i), i]);
          break;
        case 4:
          jobs.push([c.symbols.c_sleep_u64(i % 4, i * 3), i * 3]);
          break;
        default:
          jobs.push([s.sleep_f64(i % 3, i / 7), i / 7]);
      }
    }
    // A 0 ms tokio sleep may finish before its first poll ends: such a future settles at once.
    // How many depends on how fast this thread runs next to tokio's: 18 of these calls sleep 0 ms,
    // and under test:tsan 13 to 15 futures settled at once. The point is that most stay pending.
    const atOnce = statsDelta(before).settled;
    expect(atOnce).toBeLessThan(30);
    expect(futureStats().pending).toBe(300 - atOnce);
    expect(futureStats().loopRefs).toBe(300 - atOnce);
    const values = await Promise.all(jobs.map(([p]) => p));
    expect(values).toEqual(jobs.map(([, v]) => v));
    const d = statsDelta(before);
    expect(d.settled).toBe(300);
    // One Pending poll and one Ready poll each (one poll for those ready at once).
    expect(d.polls).toBe(600 - atOnce);
    // One wake each, except that a sleep finishing during the first poll may or may not wake.
    expect(d.wakes).toBeGreaterThanOrEqual(300 - atOnce);
    expect(d.wakes).toBeLessThanOrEqual(300);
    // Wakes are batched: one signal per non-empty ready list, at most one drain per signal.
    expect(d.signals).toBeLessThanOrEqual(d.wakes);
    expect(d.drains).toBeLessThanOrEqual(d.signals);
  });
});

describe('waker edge cases', () => {
  it('a wake_by_ref during the poll causes exactly one more poll', async () => {
    const p0 = polls();
    expect(await s.wake_during_poll()).toBe(2);
    expect(pollsSince(p0)).toEqual({ host: 2, plugin: 2 });
  });

  it('two wakes of two clones: Ready(2), never a third poll', async () => {
    for (let i = 0; i < 20; i++) {
      const p0 = polls();
      expect(await s.wake_twice()).toBe(2);
      expect(pollsSince(p0)).toEqual({ host: 2, plugin: 2 });
    }
  });

  it('spurious(5) polls five times and returns 5', async () => {
    const p0 = polls();
    expect(await s.spurious(5)).toBe(5);
    expect(pollsSince(p0)).toEqual({ host: 5, plugin: 5 });
    expect(await s.spurious(1)).toBe(1);
    expect(await s.spurious(0)).toBe(0);
  });

  it('pending_then_late_wake: Ready after the first wake; the second wake is harmless', async () => {
    const before = futureStats();
    const p0 = polls();
    expect(await s.pending_then_late_wake(30)).toBe(1);
    expect(pollsSince(p0)).toEqual({ host: 2, plugin: 2 });
    // The thread still holds the second clone; after it woke it, nothing else happened.
    expect(await quiesce(lib, c)).toEqual(QUIET);
    expect(pollsSince(p0)).toEqual({ host: 2, plugin: 2 });
    const d = statsDelta(before);
    expect(d.wakes).toBe(2);
    expect(d.settled).toBe(1);
  });

  it('late_wake: Ready(7) at once, the wake arrives after the drop and polls nothing', async () => {
    const before = futureStats();
    const p0 = polls();
    const p = s.late_wake(20);
    expect(s.futures_alive()).toBe(0);
    expect(await p).toBe(7);
    expect(s.wakers_alive()).toBe(1); // the thread's clone, outliving the future
    expect(futureStats().wakerCells).toBe(1);
    expect(futureStats().pending).toBe(0);
    expect(futureStats().loopRefs).toBe(0);
    expect(await quiesce(lib, c)).toEqual(QUIET);
    expect(pollsSince(p0)).toEqual({ host: 1, plugin: 1 });
    expect(statsDelta(before).wakes).toBe(1);
  });

  it('many late wakes at once', async () => {
    const values = await Promise.all(Array.from({ length: 50 }, (_, i) => s.late_wake(i % 10)));
    expect(values).toEqual(Array(50).fill(7));
    expect(await quiesce(lib, c)).toEqual(QUIET);
  });
});

describe('panics', () => {
  it('a panic on the first poll rejects with PluginPanicError and drops the future', async () => {
    let p!: Promise<number>;
    expect(() => (p = s.panic_on_poll())).not.toThrow();
    expect(s.futures_alive()).toBe(0);
    const e = await rejection(p);
    expect(e).toBeInstanceOf(PluginPanicError);
    expect(e.name).toBe('PluginPanicError');
    expect(e.code).toBe('ERR_PLUGIN_PANIC');
    expect(e.symbol).toBe('panic_on_poll');
    expect(e.message).toContain("'panic_on_poll'");
  });

  it('the error names the exported symbol, also under another key and for struct results', async () => {
    const e = await rejection(s.panic_renamed());
    expect(e).toBeInstanceOf(PluginPanicError);
    expect(e.symbol).toBe('panic_on_poll');
    const e2 = await rejection(s.panic_point());
    expect(e2).toBeInstanceOf(PluginPanicError);
    expect(e2.code).toBe('ERR_PLUGIN_PANIC');
    expect(e2.symbol).toBe('panic_point');
    expect(s.futures_alive()).toBe(0);
  });

  it('a panic in the poll after a wake rejects and drops the future', async () => {
    const p = s.panic_after(5);
    expect(s.futures_alive()).toBe(1);
    const e = await rejection(p);
    expect(e).toBeInstanceOf(PluginPanicError);
    expect(e.symbol).toBe('panic_after');
    expect(s.futures_alive()).toBe(0);
    expect(futureStats().pending).toBe(0);
  });

  it('a panic settles only its own future', async () => {
    const ok = s.sleep_u64(10, 1);
    const bad = rejection(s.panic_after(2));
    expect((await bad).code).toBe('ERR_PLUGIN_PANIC');
    expect(await ok).toBe(1);
  });
});

describe('cancellation', () => {
  it('abort while pending: AbortError with the reason as cause; dropped synchronously', async () => {
    const ac = new AbortController();
    const p = s.never({ signal: ac.signal });
    expect(s.futures_alive()).toBe(1);
    expect(s.wakers_alive()).toBe(1); // never() keeps a clone
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    const reason = { why: 'user' };
    ac.abort(reason);
    // drop_fn ran inside abort(): the future and the waker clone it held are gone already.
    expect(s.futures_alive()).toBe(0);
    expect(s.wakers_alive()).toBe(0);
    expect(futureStats().pending).toBe(0);
    expect(futureStats().loopRefs).toBe(0);
    expect(futureStats().wakerCells).toBe(0);
    const e = await rejection(p);
    expect(e).toBeInstanceOf(AbortError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('AbortError');
    expect(e.code).toBe('ABORT_ERR');
    expect(e.cause).toBe(reason);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('abort() without a reason: cause is the signal\'s DOMException', async () => {
    const ac = new AbortController();
    const p = s.sleep_u64(5000, 1, { signal: ac.signal });
    ac.abort();
    const e = await rejection(p);
    expect(e).toBeInstanceOf(AbortError);
    expect(e.cause).toBe(ac.signal.reason);
    expect((e.cause as DOMException).name).toBe('AbortError');
  });

  it('AbortSignal.timeout(): cause is the TimeoutError', async () => {
    const signal = AbortSignal.timeout(20);
    const e = await rejection(s.never({ signal }));
    expect(e).toBeInstanceOf(AbortError);
    expect(e.code).toBe('ABORT_ERR');
    expect(e.cause).toBe(signal.reason);
    expect((e.cause as DOMException).name).toBe('TimeoutError');
    expect(s.futures_alive()).toBe(0);
  });

  it('abort during a tokio sleep: no later wake, no later poll', async () => {
    const ac = new AbortController();
    const p0 = polls();
    const before = futureStats();
    const p = track(s.sleep_u64(30, 1, { signal: ac.signal }));
    await sleep(5);
    expect(p.settled).toBe(false);
    ac.abort('stop');
    expect(s.futures_alive()).toBe(0);
    await p.done;
    expect(p.status).toBe('rejected');
    expect((p.reason as AbortError).cause).toBe('stop');
    await sleep(60); // past the sleep's deadline: the tokio task was aborted
    expect(pollsSince(p0)).toEqual({ host: 1, plugin: 1 });
    expect(statsDelta(before).wakes).toBe(0);
  });

  it('abort while a std thread holds a clone: its late wake is harmless', async () => {
    const ac = new AbortController();
    const before = futureStats();
    const p0 = polls();
    const p = s.thread_sleep_u64(20, 1, { signal: ac.signal });
    ac.abort();
    expect(s.futures_alive()).toBe(0);
    expect(s.wakers_alive()).toBe(1); // the thread's clone
    expect(futureStats().wakerCells).toBe(1); // the cell outlives its task while a clone exists
    await rejection(p);
    expect(await quiesce(lib, c)).toEqual(QUIET);
    expect(pollsSince(p0)).toEqual({ host: 1, plugin: 1 });
    expect(statsDelta(before).wakes).toBe(1);
  });

  it('abort of a C future: the pthread wake after the drop is harmless', async () => {
    const ac = new AbortController();
    const p = c.symbols.c_sleep_u64(20, 1, { signal: ac.signal });
    ac.abort();
    expect(c.symbols.c_futures_alive()).toBe(0);
    expect((await rejection(p)).name).toBe('AbortError');
  });

  it('an already-aborted signal rejects without polling and still drops the future', async () => {
    const ac = new AbortController();
    const reason = new Error('before the call');
    ac.abort(reason);
    const before = futureStats();
    const p0 = polls();
    const p = s.sleep_u64(5, 1, { signal: ac.signal });
    expect(s.futures_alive()).toBe(0);
    expect(pollsSince(p0)).toEqual({ host: 0, plugin: 0 });
    expect(futureStats().pending).toBe(0);
    expect(futureStats().wakerCells).toBe(0);
    const e = await rejection(p);
    expect(e).toBeInstanceOf(AbortError);
    expect(e.cause).toBe(reason);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    // Also a future that would be ready at once, and a C one, and a struct one.
    expect((await rejection(s.ready_u32(1, { signal: ac.signal }))).cause).toBe(reason);
    expect((await rejection(c.symbols.c_ready_u64(1, { signal: ac.signal }))).cause).toBe(reason);
    expect((await rejection(s.ready_point(1, 2, { signal: ac.signal }))).cause).toBe(reason);
    expect((await rejection(s.ready_string('x', { signal: ac.signal }))).cause).toBe(reason);
    expect(pollsSince(p0)).toEqual({ host: 0, plugin: 0 });
    expect(statsDelta(before).settled).toBe(0);
    expect(c.symbols.c_futures_alive()).toBe(0);
    expect(s.futures_alive()).toBe(0);
  });

  it('aborting after the future settled does nothing', async () => {
    const ac = new AbortController();
    // Long enough that a descheduled JS thread cannot find it Ready at the first poll.
    const p = s.sleep_u64(20, 5, { signal: ac.signal });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    expect(await p).toBe(5);
    // The listener went away with the settlement...
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    const before = futureStats();
    ac.abort();
    // ...so aborting now touches nothing.
    expect(statsDelta(before).settled).toBe(0);
    await sleep(5);
  });

  it('a signal on a future that is ready at once adds no listener', async () => {
    const ac = new AbortController();
    expect(await s.ready_u64(3, { signal: ac.signal })).toBe(3);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    ac.abort();
  });

  it('listeners are removed after every kind of settlement', async () => {
    const ac = new AbortController();
    const { signal } = ac;
    await s.thread_sleep_u64(2, 1, { signal });
    await c.symbols.c_sleep_u64(2, 1, { signal });
    await rejection(s.panic_after(2, { signal }));
    await s.wake_twice({ signal });
    await s.sleep_point(1, 1, 2, { signal });
    await s.delayed_string('x', 1, { signal });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    const lib2 = openAsync();
    const closed = rejection(lib2.symbols.never({ signal }));
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    lib2.close();
    expect((await closed).code).toBe('ERR_PLUGIN_CLOSED');
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('one signal for many futures: one listener in all, all rejected by one abort', async () => {
    const ac = new AbortController();
    const ps = Array.from({ length: 25 }, (_, i) => (i % 2 ? s.never({ signal: ac.signal }) : s.sleep_u64(10_000, i, { signal: ac.signal })));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    expect(s.futures_alive()).toBe(25);
    ac.abort('all');
    expect(s.futures_alive()).toBe(0);
    const es = await Promise.all(ps.map(rejection));
    for (const e of es) {
      expect(e).toBeInstanceOf(AbortError);
      expect(e.cause).toBe('all');
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('aborting one future leaves the others alone', async () => {
    const ac = new AbortController();
    const keep = s.sleep_u64(20, 1);
    const gone = rejection(s.sleep_u64(20, 2, { signal: ac.signal }));
    ac.abort();
    expect(await keep).toBe(1);
    expect((await gone).name).toBe('AbortError');
  });

  it('abort from inside a resolution callback of another future', async () => {
    const ac = new AbortController();
    const victim = track(s.never({ signal: ac.signal }));
    await s.sleep_u64(2, 1).then(() => ac.abort('from then'));
    await victim.done;
    expect((victim.reason as AbortError).cause).toBe('from then');
  });
});

describe('argument memory', () => {
  it('bad arguments reject with ERR_PLUGIN_INVALID_ARG before the plugin is called', async () => {
    const p0 = polls();
    const alive = s.futures_alive();
    const bad = [
      () => (s.sleep_u64 as (...a: unknown[]) => Promise<unknown>)(-1, 1),
      () => (s.sleep_u64 as (...a: unknown[]) => Promise<unknown>)(1, 2 ** 64),
      () => (s.sleep_u64 as (...a: unknown[]) => Promise<unknown>)(1),
      () => (s.sleep_u64 as (...a: unknown[]) => Promise<unknown>)(1, 1, {}, 4),
      () => (s.sleep_u64 as (...a: unknown[]) => Promise<unknown>)(1, 1, 5),
      () => (s.ready_string as (...a: unknown[]) => Promise<unknown>)(5),
      () => (s.ready_point as (...a: unknown[]) => Promise<unknown>)('1', 2),
    ];
    for (const f of bad) {
      let p!: Promise<unknown>;
      expect(() => (p = f())).not.toThrow();
      const e = await rejection(p);
      expect(e).toBeInstanceOf(TypeError);
      expect(e.code).toBe('ERR_PLUGIN_INVALID_ARG');
    }
    expect(s.futures_alive()).toBe(alive);
    expect(pollsSince(p0)).toEqual({ host: 0, plugin: 0 });
  });

  it('a signal that is not an AbortSignal: TypeError (ERR_PLUGIN_INVALID_ARG), future dropped unpolled', async () => {
    const p0 = polls();
    const e = await rejection((s.sleep_u64 as (...a: unknown[]) => Promise<unknown>)(1, 1, { signal: { aborted: true } }));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe('ERR_PLUGIN_INVALID_ARG');
    expect(s.futures_alive()).toBe(0);
    expect(pollsSince(p0)).toEqual({ host: 0, plugin: 0 });
  });

  it('an options object whose getter throws: rejection with that error, future dropped unpolled', async () => {
    const p0 = polls();
    const boom = new Error('getter');
    const opts = {
      get signal(): AbortSignal {
        throw boom;
      },
    };
    let p!: Promise<unknown>;
    expect(() => (p = s.sleep_u64(1, 1, opts))).not.toThrow();
    expect(await rejection(p)).toBe(boom);
    expect(s.futures_alive()).toBe(0);
    expect(pollsSince(p0)).toEqual({ host: 0, plugin: 0 });
  });

  it('delayed_string reads its argument after a sleep: the host keeps it alive across GCs', async () => {
    const make = (i: number) => `arg-${i}-${'é'.repeat(64 + i)}-${Math.random()}`;
    const expected: string[] = [];
    const ps: Promise<string | null>[] = [];
    for (let i = 0; i < 64; i++) {
      const arg = make(i);
      expected.push(`echo: ${arg}`);
      ps.push(s.delayed_string(arg, 20 + (i % 10)));
    }
    // Collect twice and churn the heap while the plugin holds only raw pointers.
    fullGc();
    let junk: Buffer[] = [];
    for (let i = 0; i < 2000; i++) junk.push(Buffer.alloc(256, i & 255));
    junk = [];
    fullGc();
    expect(await Promise.all(ps)).toEqual(expected);
    expect(s.async_strings_alive()).toBe(0);
    expect(junk).toHaveLength(0);
  });

  it('fetch_len reads its URL 1 ms later: every concurrent call sees its own bytes', async () => {
    const urls = Array.from({ length: 300 }, (_, i) => `https://example.com/${'ü'.repeat(i)}/${'a'.repeat(i % 17)}`);
    const ps = urls.map((u) => s.fetch_len(u));
    fullGc();
    const junk = Array.from({ length: 1000 }, (_, i) => Buffer.alloc(512, i & 255));
    fullGc();
    expect(await Promise.all(ps)).toEqual(urls.map((u) => Buffer.byteLength(u)));
    expect(junk).toHaveLength(1000);
    expect(await s.fetch_len('')).toBe(0);
  });
});

describe('event loop', () => {
  const child = join(workersDir, 'loop-child.mjs');
  const events = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('loopRefs counts ref\'d pending futures only, and is 0 once they settle', async () => {
    const ac = new AbortController();
    expect(futureStats().loopRefs).toBe(0);
    const a = s.sleep_u64(10, 1);
    const b = s.never({ ref: false, signal: ac.signal });
    const cc = s.never_unref({ signal: ac.signal });
    const d = s.thread_sleep_u64(5, 2, { ref: true });
    expect(futureStats().loopRefs).toBe(2);
    expect(futureStats().pending).toBe(4);
    expect(await Promise.all([a, d])).toEqual([1, 2]);
    expect(futureStats().loopRefs).toBe(0);
    expect(futureStats().pending).toBe(2);
    ac.abort();
    await Promise.all([rejection(b), rejection(cc)]);
    expect(futureStats().pending).toBe(0);
  });

  it('a ref\'d pending future keeps the process alive until it settles (tokio wake)', async () => {
    const r = await runNode(child, [asyncPluginPath, 'ref-sleep']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(events(r.stdout)).toEqual([
      { event: 'started', loopRefs: 1 },
      { event: 'resolved', value: 42 },
      { event: 'exit', code: 0, pending: 0, loopRefs: 0 },
    ]);
    expect(r.ms).toBeGreaterThanOrEqual(290);
  });

  it('a ref\'d pending future keeps the process alive until it settles (std thread wake)', async () => {
    const r = await runNode(child, [asyncPluginPath, 'ref-thread']);
    expect(r.code).toBe(0);
    expect(events(r.stdout)).toEqual([
      { event: 'started', loopRefs: 1 },
      { event: 'resolved', value: 7 },
      { event: 'exit', code: 0, pending: 0, loopRefs: 0 },
    ]);
    expect(r.ms).toBeGreaterThanOrEqual(290);
  });

  it('a ref\'d future that never settles keeps the process alive', async () => {
    const r = await runNode(child, [asyncPluginPath, 'ref-never'], 1500);
    expect(r.signal).toBe('SIGKILL');
    expect(events(r.stdout)).toEqual([{ event: 'started', loopRefs: 1 }]);
  });

  it.each([
    ['unref-call', { event: 'started', loopRefs: 0, pending: 3 }],
    ['unref-decl', { event: 'started', loopRefs: 0, pending: 1 }],
    ['unref-open', { event: 'started', loopRefs: 0, pending: 2 }],
  ])('%s: unref\'d pending futures let the process exit', async (mode, started) => {
    const r = await runNode(child, [asyncPluginPath, mode]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(events(r.stdout)).toEqual([started, { event: 'exit', code: 0, pending: started.pending, loopRefs: 0 }]);
    expect(r.ms).toBeLessThan(4000);
  });

  it('a call\'s { ref: true } overrides open(..., { ref: false })', async () => {
    const r = await runNode(child, [asyncPluginPath, 'unref-open-ref-call']);
    expect(r.code).toBe(0);
    expect(events(r.stdout)).toEqual([
      { event: 'started', loopRefs: 1, pending: 2 },
      { event: 'resolved', value: 9 },
      { event: 'exit', code: 0, pending: 1, loopRefs: 0 },
    ]);
  });

  it('a declaration\'s ref: true overrides open(..., { ref: false })', async () => {
    const r = await runNode(child, [asyncPluginPath, 'unref-open-ref-decl'], 1500);
    expect(r.signal).toBe('SIGKILL');
    expect(events(r.stdout)).toEqual([{ event: 'started', loopRefs: 1, pending: 1 }]);
  });

  it('an unref\'d future still settles while the process is alive', async () => {
    const r = await runNode(child, [asyncPluginPath, 'unref-then-ref']);
    expect(r.code).toBe(0);
    expect(events(r.stdout)).toEqual([
      { event: 'started', loopRefs: 1, pending: 2 },
      { event: 'unref-resolved', value: 1 },
      { event: 'resolved', value: 2 },
      { event: 'exit', code: 0, pending: 0, loopRefs: 0 },
    ]);
  });

  it('process.exit() with pending futures and live plugin threads exits cleanly', async () => {
    const r = await runNode(child, [asyncPluginPath, 'exit-with-pending']);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(3);
    expect(events(r.stdout)).toEqual([
      { event: 'started', pending: 3 },
      { event: 'exit', code: 3, pending: 3, loopRefs: 3 },
    ]);
  });
});

describe('close()', () => {
  it('rejects the library\'s pending futures with ERR_PLUGIN_CLOSED and drops them at once', async () => {
    const lib2 = openAsync();
    const c2 = openCAsync();
    const other = s.sleep_u64(30, 5); // another Library of the same file: not affected
    const ps = [
      lib2.symbols.never(),
      lib2.symbols.sleep_u64(10_000, 1),
      lib2.symbols.thread_sleep_u64(30, 1),
      lib2.symbols.sleep_point(10_000, 1, 2),
      lib2.symbols.delayed_string('abc', 10_000),
      c2.symbols.c_sleep_u64(30, 1),
    ].map(rejection);
    expect(s.futures_alive()).toBe(6);
    expect(c.symbols.c_futures_alive()).toBe(1);
    expect(futureStats().pending).toBe(7);
    lib2.close();
    c2.close();
    expect(s.futures_alive()).toBe(1);
    expect(c.symbols.c_futures_alive()).toBe(0);
    expect(futureStats().pending).toBe(1);
    for (const e of await Promise.all(ps)) {
      expect(e).toBeInstanceOf(PluginClosedError);
      expect(e.code).toBe('ERR_PLUGIN_CLOSED');
    }
    expect(await other).toBe(5);
    // Calls after close reject the same way; close is idempotent.
    const after = await rejection(lib2.symbols.sleep_u64(1, 1));
    expect(after.code).toBe('ERR_PLUGIN_CLOSED');
    expect(() => lib2.close()).not.toThrow();
    expect(lib2.closed).toBe(true);
  });

  it('close() inside a settlement callback, with more futures pending', async () => {
    const lib2 = openAsync();
    const rest = [lib2.symbols.never(), lib2.symbols.sleep_u64(50, 1)].map((p: Promise<unknown>) => track(p));
    await lib2.symbols.sleep_u64(1, 1).then(() => lib2.close());
    await Promise.all(rest.map((r) => r.done));
    expect(rest.map((r) => (r.reason as PluginClosedError).code)).toEqual(['ERR_PLUGIN_CLOSED', 'ERR_PLUGIN_CLOSED']);
  });

  it('aborting a future after close() does nothing more', async () => {
    const lib2 = openAsync();
    const ac = new AbortController();
    const p = track(lib2.symbols.never({ signal: ac.signal }));
    lib2.close();
    ac.abort();
    await p.done;
    expect((p.reason as PluginClosedError).code).toBe('ERR_PLUGIN_CLOSED');
  });
});

describe('stats', () => {
  it('futureStats() has every counter', () => {
    const st = futureStats();
    expect(Object.keys(st).sort()).toEqual(
      ['bytesPerPending', 'drains', 'loopRefs', 'pending', 'polls', 'saturatedCells', 'settled', 'signals', 'starting', 'streamItems', 'streams', 'wakerCells', 'wakerClones', 'wakes'].sort(),
    );
    for (const v of Object.values(st)) expect(Number.isInteger(v) && v >= 0).toBe(true);
    expect(st.bytesPerPending).toBeGreaterThan(0);
  });

  it('wakerClones follows the clones the plugin holds', async () => {
    const ac = new AbortController();
    const ps = [s.never({ signal: ac.signal }), s.never({ signal: ac.signal })];
    expect(futureStats().wakerClones).toBe(2);
    expect(Number(s.wakers_alive())).toBe(2);
    expect(futureStats().wakerCells).toBe(2);
    ac.abort();
    await Promise.all(ps.map(rejection));
    expect(futureStats().wakerClones).toBe(0);
  });
});
