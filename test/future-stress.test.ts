// 100 000 futures in flight at once, woken from tokio workers and std threads, 10% aborted at
// random moments: every promise settles exactly once with the right outcome, and nothing is left
// behind (plugin counters, host cells, loop refs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AbortError, futureStats } from '../src/index.js';
import { prng } from './helpers/elf-fixtures.js';
import { QUIET, openAsync, openCAsync, quiesce, statsDelta, type AsyncLib, type CAsyncLib } from './helpers/async-fixture.js';

let lib: AsyncLib;
let c: CAsyncLib;

beforeAll(() => {
  lib = openAsync();
  c = openCAsync();
});

afterAll(async () => {
  expect(await quiesce(lib, c, 20_000)).toEqual(QUIET);
  lib.close();
  c.close();
});


describe('stress', () => {
  it('100 000 futures in flight, 10% aborted at random moments', { timeout: 60_000 }, async () => {
    const N = 100_000;
    const seed = Number(process.env.RUSTPLUG_STRESS_SEED ?? Date.now() % 2 ** 31);
    const rand = prng(seed);
    const s = lib.symbols;
    const fulfilled = new Uint32Array(N);
    const rejected = new Uint32Array(N);
    const wrong: string[] = [];
    const reasons: unknown[] = new Array(N);
    const expected: (number | bigint)[] = new Array(N);
    const controllers: (AbortController | undefined)[] = new Array(N);
    let settledCount = 0;
    let abortsIssued = 0;
    let earlyAborts = 0; // in the same tick or a microtask: always before any wake is processed
    const timers: Promise<void>[] = [];
    const before = futureStats();
    const p0 = Number(s.polls_total());
    const t0 = performance.now();

    const all: Promise<void>[] = new Array(N);
    for (let i = 0; i < N; i++) {
      const aborted = rand() < 0.1;
      const ac = aborted ? new AbortController() : undefined;
      controllers[i] = ac;
      const opts = ac ? { signal: ac.signal } : undefined;
      let p: Promise<number | bigint>;
      // Values beyond 2^53 for some, so bigints round-trip too.
      const value = i % 11 === 0 ? 2n ** 60n + BigInt(i) : i;
      expected[i] = value;
      if (i % 2000 === 0) p = s.thread_sleep_u64(Math.floor(rand() * 3), value, opts); // std threads
      else if (i % 2000 === 1000) p = c.symbols.c_sleep_u64(Math.floor(rand() * 3), value, opts); // pthreads
      else p = s.sleep_us_u64(Math.floor(rand() * 2001), value, opts); // tokio workers
      all[i] = p.then(
        (v) => {
          fulfilled[i]++;
          settledCount++;
          if (v !== expected[i]) wrong.push(`#${i}: got ${String(v)}, want ${String(expected[i])}`);
        },
        (e: unknown) => {
          rejected[i]++;
          settledCount++;
          if (!(e instanceof AbortError) || e.cause !== reasons[i]) wrong.push(`#${i}: unexpected rejection ${String(e)}`);
        },
      );
      if (ac) {
        const abort = () => {
          reasons[i] = { i };
          abortsIssued++;
          ac.abort(reasons[i]);
        };
        // Random moments: in the same tick, in a microtask, after 0-3 ms, or anywhere in the
        // next 2 s (many of those land after the future settled, when abort() must do nothing).
        const r = rand();
        const delay = r < 0.7 ? Math.floor(rand() * 4) : Math.floor(rand() * 2000);
        if (r < 0.4) earlyAborts++;
        if (r < 0.2) abort();
        else if (r < 0.4) queueMicrotask(abort);
        else timers.push(new Promise((res) => setTimeout(() => (abort(), res()), delay)));
      }
    }
    const created = performance.now() - t0;
    // Nothing can settle through a wake before this tick ends: all of them are in flight now
    // (those aborted synchronously and any 0 µs sleep finished during its first poll aside).
    const inFlight = futureStats().pending;
    const earlyAbortsOrReady = statsDelta(before).settled;
    expect(inFlight + earlyAbortsOrReady).toBe(N);
    expect(inFlight).toBeGreaterThan(N * 0.95);
    expect(futureStats().loopRefs).toBe(inFlight);

    await Promise.all(all);
    await Promise.all(timers);
    const total = performance.now() - t0;

    if (wrong.length) throw new Error(`seed ${seed}: ${wrong.length} wrong outcomes, e.g. ${wrong.slice(0, 5).join('; ')}`);
    expect(settledCount).toBe(N);
    let aborted = 0;
    let rejections = 0;
    for (let i = 0; i < N; i++) {
      // Exactly once: one of the two handlers, one time.
      expect(fulfilled[i]! + rejected[i]!).toBe(1);
      if (controllers[i]) aborted++;
      rejections += rejected[i]!;
      // Only aborted calls may reject.
      if (rejected[i]) expect(controllers[i]).toBeDefined();
    }
    expect(abortsIssued).toBe(aborted);
    expect(aborted).toBeGreaterThan(N * 0.09);
    expect(aborted).toBeLessThan(N * 0.11);
    // An abort that lands after the future settled changes nothing, so rejections ≤ aborts (equal
    // when every abort comes first, as on a machine slowed down by a sanitizer); the synchronous
    // and microtask aborts always win (no wake is processed before them).
    expect(rejections).toBeLessThanOrEqual(aborted);
    // (Timer-driven aborts may all come too late on a loaded machine, so count only the early ones.)
    expect(rejections).toBeGreaterThanOrEqual(earlyAborts);
    // The native side settled each future exactly once too.
    const d = statsDelta(before);
    expect(d.settled).toBe(N);
    expect(futureStats().pending).toBe(0);
    expect(futureStats().loopRefs).toBe(0);
    // Each future was polled once or twice (a 0 µs sleep may finish in its first poll; an
    // aborted one may never be woken).
    const plugin = Number(s.polls_total()) - p0;
    expect(plugin).toBeGreaterThanOrEqual(N - 100); // C futures are not counted by polls_total
    expect(plugin).toBeLessThanOrEqual(2 * N);
    expect(d.polls).toBeLessThanOrEqual(2 * N);
    expect(d.signals).toBeLessThanOrEqual(d.wakes);
    console.log(
      `stress seed ${seed}: ${N} futures created in ${created.toFixed(0)} ms, all settled after ${total.toFixed(0)} ms; ` +
        `${rejections} aborted of ${aborted} abort() calls; ${d.wakes} wakes, ${d.signals} signals, ${d.drains} drains, ${d.polls} polls`,
    );
    expect(await quiesce(lib, c, 20_000)).toEqual(QUIET);
  });

  it('waves of waker edge cases and aborts mixed together', { timeout: 60_000 }, async () => {
    const rand = prng(12345);
    const s = lib.symbols;
    for (let wave = 0; wave < 5; wave++) {
      const jobs: Promise<unknown>[] = [];
      const want: unknown[] = [];
      for (let i = 0; i < 2000; i++) {
        const k = i % 8;
        // never() settles only by abort: every one gets a controller; 10% of the others too.
        const ac = k === 7 || rand() < 0.1 ? new AbortController() : undefined;
        const o = ac ? { signal: ac.signal } : undefined;
        let p: Promise<unknown>;
        switch (k) {
          case 0:
            p = s.wake_during_poll(o);
            want.push(2);
            break;
          case 1:
            p = s.wake_twice(o);
            want.push(2);
            break;
          case 2:
            p = s.spurious(3, o);
            want.push(3);
            break;
          case 3:
            p = s.pending_then_late_wake(Math.floor(rand() * 3), o);
            want.push(1);
            break;
          case 4:
            p = s.late_wake(Math.floor(rand() * 3), o);
            want.push(7);
            break;
          case 5:
            p = s.sleep_point(Math.floor(rand() * 3), i, -i, o);
            want.push({ x: i, y: -i });
            break;
          case 6:
            p = s.delayed_string(`s${i}`, Math.floor(rand() * 3), o);
            want.push(`echo: s${i}`);
            break;
          default:
            p = s.never(o);
            want.push('aborted');
        }
        if (ac) setTimeout(() => ac.abort('x'), Math.floor(rand() * 3));
        jobs.push(p.then((v) => v, (e: unknown) => (e instanceof AbortError ? 'aborted' : e)));
      }
      const got = await Promise.all(jobs);
      for (let i = 0; i < got.length; i++) {
        if (got[i] !== 'aborted') expect(got[i]).toEqual(want[i]);
      }
      expect(futureStats().pending).toBe(0);
    }
    expect(await quiesce(lib, c, 20_000)).toEqual(QUIET);
  });
});

describe('a flood of wakes', () => {
  it('is polled in slices: setImmediate callbacks run between them, and wakes during a slice are not lost', async () => {
    const N = 5000;
    let settled = 0;
    // Every wake_during_poll future wakes itself during its first poll (inside the call), so all
    // N are ready for the hub's first drain at once; each needs exactly one more poll.
    const ps = Array.from({ length: N }, () => lib.symbols.wake_during_poll().then((v) => (settled++, v)));
    // What setImmediate callbacks (the loop's check phase) see, iteration after iteration.
    const seen: number[] = [];
    while (settled < N && seen.length < 1000) seen.push(await new Promise<number>((res) => setImmediate(() => res(settled))));
    expect(seen.some((v) => v > 0 && v < N)).toBe(true);
    expect(await Promise.all(ps)).toEqual(new Array(N).fill(2));
    // Many more at once, each re-woken from plugin threads while later slices are still queued.
    const spurious = await Promise.all(Array.from({ length: 3000 }, () => lib.symbols.spurious(3)));
    expect(spurious).toEqual(new Array(3000).fill(3));
    expect(futureStats().pending).toBe(0);
  });
});
