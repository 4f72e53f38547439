// Rust streams (FfiStream<T>) as async iterators, against the async-plugin fixture's streams:
// every item type, pull-based polling, ordering of concurrent next() calls, early break, return(),
// aborts, close(), panics mid-stream, wakes from tokio and std threads, worker_threads.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { AbortError, PluginClosedError, PluginPanicError, futureStats, open } from '../src/index.js';
import { asyncPluginPath, rejection, runNode, waitUntil, workersDir } from './helpers/async-fixture.js';

const decls = {
  count_u8: { parameters: ['u32'], result: { stream: 'u8' } },
  count_i32: { parameters: ['u32'], result: { stream: 'i32' } },
  count_u32: { parameters: ['u32'], result: { stream: 'u32' } },
  count_i64: { parameters: ['u32'], result: { stream: 'i64' } },
  count_u64: { parameters: ['u32'], result: { stream: 'u64' } },
  count_f32: { parameters: ['u32'], result: { stream: 'f32' } },
  count_f64: { parameters: ['u32'], result: { stream: 'f64' } },
  count_bool: { parameters: ['u32'], result: { stream: 'bool' } },
  count_void: { parameters: ['u32'], result: { stream: 'void' } },
  count_point: { parameters: ['u32'], result: { stream: { struct: { x: 'f64', y: 'f64' } } } },
  count_point_tuple: { name: 'count_point', parameters: ['u32'], result: { stream: { struct: ['f64', 'f64'] } } },
  words: { parameters: ['string'], result: { stream: 'string' }, free: 'async_free_string' },
  naturals: { parameters: [], result: { stream: 'u64' } },
  ticks: { parameters: ['u32', 'u32'], result: { stream: 'u64' } },
  thread_items: { parameters: ['u32', 'u32'], result: { stream: 'u64' } },
  panic_after_items: { parameters: ['u32'], result: { stream: 'u32' } },
  streams_alive: { parameters: [], result: 'i64' },
  async_strings_alive: { parameters: [], result: 'i64' },
  threads_alive: { parameters: [], result: 'i64' },
  polls_total: { parameters: [], result: 'u64' },
} as const;

let lib: ReturnType<typeof open<typeof decls>>;
let s: (typeof lib)['symbols'];

beforeAll(() => {
  lib = open(asyncPluginPath, decls);
  s = lib.symbols;
});

afterEach(async () => {
  await waitUntil(() => s.threads_alive() === 0, 'plugin threads');
  await waitUntil(() => s.streams_alive() === 0 && futureStats().streams === 0 && futureStats().wakerCells === 0, 'every stream dropped');
  expect(s.async_strings_alive()).toBe(0);
  expect(futureStats().loopRefs).toBe(0);
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe('items of every type', () => {
  it('integers, floats, bools and void', async () => {
    expect(await collect(s.count_u8(4))).toEqual([0, 1, 2, 3]);
    expect(await collect(s.count_i32(3))).toEqual([0, -1, -2]);
    expect(await collect(s.count_u32(0))).toEqual([]);
    expect(await collect(s.count_i64(3))).toEqual([0, -1e12, -2e12]);
    // 2^60 + i: beyond 2^53, so bigints, exact.
    expect(await collect(s.count_u64(2))).toEqual([2n ** 60n, 2n ** 60n + 1n]);
    expect(await collect(s.count_f32(2))).toEqual([0.5, 1.5]);
    expect(await collect(s.count_f64(3))).toEqual([0, 0.25, 0.5]);
    expect(await collect(s.count_bool(3))).toEqual([false, true, false]);
    expect(await collect(s.count_void(2))).toEqual([undefined, undefined]);
  });

  it('structs, named and tuple', async () => {
    expect(await collect(s.count_point(3))).toEqual([{ x: 0, y: 0 }, { x: 1, y: 2 }, { x: 2, y: 4 }]);
    expect(await collect(s.count_point_tuple(2))).toEqual([[0, 0], [1, 2]]);
  });

  it('plugin-owned strings are copied and freed one by one, and the argument lives until the drop', async () => {
    const it = s.words('  one two   three ');
    const first = await it.next();
    expect(first).toEqual({ value: 'one', done: false });
    // The plugin reads its argument at every poll: the host keeps it alive across a GC.
    (globalThis as { gc?: () => void }).gc?.();
    expect(await collect(it)).toEqual(['two', 'three']);
    expect(s.async_strings_alive()).toBe(0);
  });
});

describe('pull-based polling', () => {
  it('polls only while a next() waits: an infinite stream costs nothing while nobody asks', async () => {
    const it = s.naturals();
    const before = Number(s.polls_total());
    await sleep(20);
    expect(Number(s.polls_total())).toBe(before);
    expect((await it.next()).value).toBe(0);
    expect((await it.next()).value).toBe(1);
    expect(Number(s.polls_total()) - before).toBe(2);
    await it.return();
  });

  it('concurrent next() calls queue in order', async () => {
    const it = s.ticks(1, 5);
    const results = await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next(), it.next(), it.next()]);
    expect(results.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, undefined, undefined]);
    expect(results.map((r) => r.done)).toEqual([false, false, false, false, false, true, true]);
  });

  it('after Ready(None) the stream is never polled again', async () => {
    const it = s.count_u32(1);
    await collect(it);
    const polls = s.polls_total();
    expect(await it.next()).toEqual({ value: undefined, done: true });
    expect(s.polls_total()).toBe(polls);
  });

  it('items woken by a std thread arrive whether or not anybody asked', async () => {
    const it = s.thread_items(50, 50);
    await sleep(10);
    expect(await collect(it)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('ending a stream early', () => {
  it('break drops the stream exactly once', async () => {
    let n = 0;
    for await (const v of s.naturals()) {
      if (v === 9) break;
      n++;
    }
    expect(n).toBe(9);
    expect(s.streams_alive()).toBe(0);
  });

  it('return() while a next() waits ends that next() with done', async () => {
    const it = s.ticks(1000, 3);
    const waiting = it.next();
    await it.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('an abort while a next() waits rejects it; the iterator is over', async () => {
    const ac = new AbortController();
    const it = s.ticks(1000, 3, { signal: ac.signal });
    const waiting = it.next();
    ac.abort('stop');
    const err = await rejection(waiting);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.cause).toBe('stop');
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('an abort while nobody waits: the next next() rejects once, then done', async () => {
    const ac = new AbortController();
    const it = s.naturals({ signal: ac.signal });
    expect((await it.next()).value).toBe(0);
    ac.abort();
    expect(await rejection(it.next())).toBeInstanceOf(AbortError);
    expect((await it.next()).done).toBe(true);
  });

  it('an already-aborted signal: the first next() rejects and the plugin is never called', async () => {
    const ac = new AbortController();
    ac.abort('early');
    const alive = s.streams_alive();
    const it = s.naturals({ signal: ac.signal });
    expect(s.streams_alive()).toBe(alive);
    expect((await rejection(it.next())).cause).toBe('early');
  });

  it('close() ends every stream of the library: a waiting next() rejects with ERR_PLUGIN_CLOSED', async () => {
    const own = open(asyncPluginPath, { ticks: decls.ticks, naturals: decls.naturals });
    const a = own.symbols.ticks(1000, 3);
    const b = own.symbols.naturals();
    const waiting = a.next();
    expect((await b.next()).value).toBe(0);
    own.close();
    expect(await rejection(waiting)).toBeInstanceOf(PluginClosedError);
    expect(await b.next()).toEqual({ value: undefined, done: true });
    expect((await rejection(own.symbols.naturals().next())).code).toBe('ERR_PLUGIN_CLOSED');
  });
});

describe('failures', () => {
  it('a panic mid-stream throws PluginPanicError from the iterator after the items before it', async () => {
    const seen: number[] = [];
    const err = await rejection(
      (async () => {
        for await (const v of s.panic_after_items(3)) seen.push(v);
      })(),
    );
    expect(seen).toEqual([0, 1, 2]);
    expect(err).toBeInstanceOf(PluginPanicError);
  });

  it('bad arguments and options reject the first next(), never throw', async () => {
    const bad = s.count_u32(-1 as number);
    expect((await rejection(bad.next())).code).toBe('ERR_PLUGIN_INVALID_ARG');
    const typo = (s.count_u32 as (n: number, o: object) => AsyncIterableIterator<number>)(1, { sginal: 1 });
    expect((await rejection(typo.next())).message).toMatch(/did you mean 'signal'/);
  });
});

describe('worker_threads', () => {
  it('streams in workers, and a worker terminated mid-stream drops them', async () => {
    const r = await runNode(join(workersDir, 'stream-worker.mjs'), [asyncPluginPath], 20_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ items: 100, streamsAlive: 0, threadsAlive: 0 });
  });
});
