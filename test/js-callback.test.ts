// JS functions that plugins keep and call from any thread: `{ callback }` parameters of async
// calls (JS async functions awaited as Rust futures) and lib.callback() (persistent, thread-safe).
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { DeclarationError, callbackStats, futureStats, open } from '../src/index.js';
import { asyncPluginPath, rejection, runNode, waitUntil, workersDir } from './helpers/async-fixture.js';

const decls = {
  sum_js: { parameters: [{ callback: { parameters: ['u32'], result: { future: 'u64' } } }, 'u32'], result: { future: 'u64' } },
  js_error_len: { parameters: [{ callback: { parameters: ['u32'], result: { future: 'u64' } } }, 'u32'], result: { future: 'u64' } },
  drop_js_future: { parameters: [{ callback: { parameters: ['u32'], result: { future: 'u64' } } }, 'u32', 'u32'], result: { future: 'u32' } },
  compute_on_thread: { parameters: [{ callback: { parameters: ['f64'], result: 'f64' } }, 'f64'], result: { future: 'f64' } },
  notify_from_threads: { parameters: ['function', 'u32', 'u32'], result: 'void' },
  call_here: { parameters: ['function', 'i32'], result: 'i32' },
  js_errors: { parameters: [], result: 'i64' },
  futures_alive: { parameters: [], result: 'i64' },
  threads_alive: { parameters: [], result: 'i64' },
} as const;

let lib: ReturnType<typeof open<typeof decls>>;
let s: (typeof lib)['symbols'];

beforeAll(() => {
  lib = open(asyncPluginPath, decls);
  s = lib.symbols;
});

afterEach(async () => {
  await waitUntil(() => s.threads_alive() === 0 && s.futures_alive() === 0, 'plugin threads and futures');
  await waitUntil(() => callbackStats().alive === 0, 'every callback released');
  expect(futureStats().pending).toBe(0);
});

describe('JS async functions as Rust futures', () => {
  it('10 000 concurrent calls from tokio workers, each awaited by Rust: the sum is exact', async () => {
    const calls = new Set<number>();
    const sum = await s.sum_js(async (i) => {
      calls.add(i);
      await sleep(i % 3);
      return BigInt(i) * 3n;
    }, 10_000);
    expect(sum).toBe(3 * (9999 * 10_000) / 2);
    expect(calls.size).toBe(10_000);
    expect(s.js_errors()).toBe(0);
  });

  it('rejections and throws reach Rust as values (JsResult::Err), not panics', async () => {
    const sum = await s.sum_js((i) => {
      if (i % 4 === 0) throw new Error('sync throw');
      if (i % 4 === 1) return Promise.reject(new TypeError('async rejection'));
      return i;
    }, 100);
    expect(sum).toBe(Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 4 > 1).reduce((a, b) => a + b, 0));
    expect(s.js_errors()).toBe(50);
  });

  it("the rejection's message arrives intact (Error message, or String(reason))", async () => {
    expect(await s.js_error_len(async () => Promise.reject(new Error('x'.repeat(1234))), 0)).toBe(1234);
    expect(await s.js_error_len(() => Promise.reject('plain reason'), 0)).toBe('plain reason'.length);
    expect(await s.js_error_len(async () => 5, 0)).toBe(0);
  });

  it('a result of the wrong type is a rejection the plugin sees, naming the callback', async () => {
    expect(await s.js_error_len((() => 'not a number') as never, 0)).toBeGreaterThan(10);
    expect(await s.js_error_len((async () => -1) as never, 0)).toBeGreaterThan(10);
    expect(s.js_errors()).toBeGreaterThanOrEqual(0);
  });

  it('the plugin drops the future before the Promise settles: nothing breaks, nothing leaks', async () => {
    let settle!: (v: number) => void;
    const r = await s.drop_js_future(() => new Promise<number>((res) => (settle = res)), 7, 20);
    expect(r).toBe(1);
    settle(5);  // the JS side settles a future nobody holds any more
    await sleep(5);
  });

  it('a call whose future ends releases its callbacks (also on a bad argument after them)', async () => {
    await s.sum_js(async () => 1, 3);
    expect(callbackStats().alive).toBe(0);
    expect((await rejection(s.sum_js(async () => 1, -1 as number))).code).toBe('ERR_PLUGIN_INVALID_ARG');
    expect(callbackStats().alive).toBe(0);
  });
});

describe('callbacks with a result, from another thread', () => {
  it('the calling thread waits for JS and gets its result', async () => {
    expect(await s.compute_on_thread((x) => x * 3, 2.5)).toBe(7.5);
  });
});

describe('lib.callback(): persistent, thread-safe', () => {
  it('void calls from several threads are queued; the threads never wait', async () => {
    const seen: string[] = [];
    const cb = lib.callback({ parameters: ['u32', 'u32'], result: 'void' }, (t, i) => {
      seen.push(`${t}:${i}`);
    });
    const t0 = Date.now();
    s.notify_from_threads(cb.pointer, 4, 250);  // joins its threads: no call ran yet
    expect(seen.length).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    await waitUntil(() => seen.length === 1000, 'the queued calls');
    expect(new Set(seen).size).toBe(1000);
    cb.close();
    expect(cb.closed).toBe(true);
  });

  it('from the JS thread itself the callback runs inline', () => {
    using cb = lib.callback({ parameters: ['i32'], result: 'i32' }, (x) => x * 2);
    expect(s.call_here(cb.pointer, 41)).toBe(83);
  });

  it('after close() the pointer reaches nothing: calls return zero, never call JS', () => {
    let calls = 0;
    const cb = lib.callback({ parameters: ['i32'], result: 'i32' }, () => ++calls);
    cb.close();
    expect(s.call_here(cb.pointer, 1)).toBe(1);
    expect(calls).toBe(0);
  });

  it("the library's close() closes its callbacks", () => {
    const own = open(asyncPluginPath, { call_here: decls.call_here });
    const cb = own.callback({ parameters: ['i32'], result: 'i32' }, (x) => x);
    own.close();
    expect(cb.closed).toBe(true);
    expect(() => own.callback({ parameters: [], result: 'void' }, () => {})).toThrow(/closed/);
  });

  it('ref: true keeps the event loop alive until close(); the default lets the process exit', async () => {
    const kept = await runNode(join(workersDir, 'callback-ref.mjs'), [asyncPluginPath, 'ref']);
    expect([kept.code, kept.stdout.trim()]).toEqual([0, 'closed']);
    const free = await runNode(join(workersDir, 'callback-ref.mjs'), [asyncPluginPath, 'unref']);
    expect([free.code, free.stdout.trim()]).toEqual([0, '']);
  });

  it('bad signatures and options are refused with the key named', () => {
    expect(() => lib.callback({ parameters: [{ struct: ['u8'] }], result: 'void' } as never, (() => {}) as never)).toThrow(DeclarationError);
    expect(() => lib.callback({ parameters: [], result: 'string' } as never, (() => {}) as never)).toThrow(/scalars/);
    expect(() => lib.callback({ parameters: [], result: 'void' }, () => {}, { reff: true } as never)).toThrow(/did you mean 'ref'/);
    expect(() => open(asyncPluginPath, { call_here: { parameters: [{ callback: { parameters: [], result: 'void' } }, 'i32'], result: 'i32' } })).toThrow(
      /belongs to \{ future: T \} or \{ stream: T \} calls/,
    );
  });
});

describe('worker_threads', () => {
  it('a worker terminated while plugin threads still call its callbacks: no crash, errors instead', async () => {
    const r = await runNode(join(workersDir, 'callback-worker.mjs'), [asyncPluginPath], 20_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ sum: 4950, alive: 0, futuresAlive: 0, threadsAlive: 0 });
  });
});
