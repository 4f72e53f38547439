// An async call never throws: whatever is wrong with its arguments or options (a getter or a
// Proxy trap that throws, a fake AbortSignal, a string too long to encode, a resizable buffer)
// becomes a rejected Promise, and the plugin is not called. Sync calls keep throwing.
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { open, PluginArgumentError } from '../src/index.js';
import { asyncPluginPath, rejection, runNode, workersDir } from './helpers/async-fixture.js';
import { PLUGINS, thrown } from './helpers/plugins.js';

const P = { struct: { x: 'f64', y: 'f64' } } as const;
const decls = {
  point_len_after: { parameters: ['u32', P], result: { future: 'f64' } },
  sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
  futures_alive: { parameters: [], result: 'i64' },
  polls_total: { parameters: [], result: 'u64' },
} as const;
let lib: ReturnType<typeof open<typeof decls>>;
let s: (typeof lib)['symbols'];

beforeAll(() => {
  lib = open(asyncPluginPath, decls);
  s = lib.symbols;
});
afterAll(() => lib?.close());

let polls0 = 0;
beforeEach(() => {
  polls0 = Number(s.polls_total());
});
afterEach(() => {
  // Nothing reached the plugin.
  expect(Number(s.polls_total())).toBe(polls0);
  expect(s.futures_alive()).toBe(0);
});

const boom = new Error('boom');
const throwing = () => {
  throw boom;
};
/** A Proxy every trap of which throws. */
const hostile = () =>
  new Proxy(
    {},
    {
      get: throwing,
      has: throwing,
      ownKeys: throwing,
      getOwnPropertyDescriptor: throwing,
      getPrototypeOf: throwing,
      defineProperty: throwing,
      set: throwing,
    },
  );

/** Calls f, which must not throw, and returns the reason its promise rejects with. */
async function rejects(f: () => Promise<unknown>): Promise<any> {
  let p!: Promise<unknown>;
  expect(() => (p = f())).not.toThrow();
  expect(p).toBeInstanceOf(Promise);
  return rejection(p);
}

describe('arguments', () => {
  it('a getter that throws', async () => {
    const point = {
      get x(): number {
        throw boom;
      },
      y: 1,
    };
    expect(await rejects(() => s.point_len_after(1, point))).toBe(boom);
  });

  it('a Proxy whose traps throw, as a struct and as a scalar', async () => {
    expect(await rejects(() => s.point_len_after(1, hostile() as never))).toBe(boom);
    // a scalar check never touches an object, and the error message reads no property
    const e = await rejects(() => s.ready_u64(hostile() as never));
    expect(e).toBeInstanceOf(PluginArgumentError);
    expect(e.message).toMatch(/got a Proxy/);
  });

  it("an error message never runs the argument's getters (sync calls too)", async () => {
    const u8 = new Uint8Array(1);
    Object.defineProperty(u8, 'constructor', { get: throwing });
    expect((await rejects(() => s.ready_u64(u8 as never))).code).toBe('ERR_PLUGIN_INVALID_ARG');
    const sync = open(PLUGINS.basic, { echo_i32: { parameters: ['i32'], result: 'i32' } });
    expect(thrown(() => sync.symbols.echo_i32(u8 as never))).toBeInstanceOf(PluginArgumentError);
    expect(thrown(() => sync.symbols.echo_i32(hostile() as never))).toBeInstanceOf(PluginArgumentError);
    sync.close();
  });

  it('a string one past the longest V8 can make, a buffer that can shrink (child process)', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ['future-longest-string', { outcome: 'rejected', code: null, message: 'Invalid string length' }],
      ['future-resizable-shrunk', { outcome: 'rejected', code: 'ERR_PLUGIN_INVALID_ARG' }],
      ['future-resizable-view', { outcome: 'rejected', code: 'ERR_PLUGIN_INVALID_ARG' }],
      // a growable SharedArrayBuffer never shrinks, and grows in place: accepted
      ['future-growable-sab', { outcome: 'resolved', value: 'echo: hi' }],
      ['future-fixed-buffer', { outcome: 'resolved', value: 'echo: hi' }],
    ];
    const runs = await Promise.all(cases.map(([name]) => runNode(join(workersDir, 'hostile-args.mjs'), [PLUGINS.basic, asyncPluginPath, name], 30_000)));
    runs.forEach((r, i) => {
      const [name, expected] = cases[i]!;
      expect({ name, signal: r.signal, code: r.code, stderr: r.stderr }).toEqual({ name, signal: null, code: 0, stderr: '' });
      const got = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(got).toMatchObject({ case: name, ...expected });
      if (name.startsWith('future-resizable')) expect(got.message).toMatch(/resizable ArrayBuffer.*fixed-length buffer/);
    });
  }, 60_000);
});

describe('options', () => {
  it('an options Proxy whose traps throw', async () => {
    expect(await rejects(() => s.sleep_u64(1, 1, hostile() as never))).toBe(boom);
  });

  it('a signal that is a Proxy whose traps throw', async () => {
    const e = await rejects(() => s.sleep_u64(1, 1, { signal: hostile() as AbortSignal }));
    expect(e).toBeInstanceOf(PluginArgumentError);
    expect(e.message).toMatch(/options.signal must be an AbortSignal/);
  });

  it("an object with AbortSignal's prototype (Node's getters throw on it)", async () => {
    const e = await rejects(() => s.sleep_u64(1, 1, { signal: Object.create(AbortSignal.prototype) as AbortSignal }));
    expect(e).toBeInstanceOf(PluginArgumentError);
  });

  it('an object that passes instanceof AbortSignal through Symbol.hasInstance', async () => {
    const fake = {
      aborted: false,
      reason: undefined,
      addEventListener: throwing,
      removeEventListener: throwing,
    };
    Object.defineProperty(AbortSignal, Symbol.hasInstance, { value: (v: unknown) => v === fake, configurable: true });
    try {
      expect(fake instanceof AbortSignal).toBe(true);
      const e = await rejects(() => s.sleep_u64(1, 1, { signal: fake as unknown as AbortSignal }));
      expect(e).toBeInstanceOf(PluginArgumentError);
    } finally {
      delete (AbortSignal as { [Symbol.hasInstance]?: unknown })[Symbol.hasInstance];
    }
  });

  it('a Proxy around a real signal', async () => {
    const e = await rejects(() => s.sleep_u64(1, 1, { signal: new Proxy(new AbortController().signal, {}) }));
    expect(e).toBeInstanceOf(PluginArgumentError);
  });

  it('a real signal still works, aborted or not', async () => {
    const c = new AbortController();
    c.abort('why');
    const e = await rejects(() => s.sleep_u64(1, 1, { signal: c.signal }));
    expect(e.name).toBe('AbortError');
    expect(e.cause).toBe('why');
    expect(await s.ready_u64(3, { signal: new AbortController().signal })).toBe(3);
    polls0 += 1; // that call polled
  });
});

describe('sync calls keep throwing', () => {
  it('a getter that throws, a bad argument', () => {
    const sync = open(PLUGINS.basic, { point_len: { parameters: [P], result: 'f64' } });
    const point = {
      get x(): number {
        throw boom;
      },
      y: 1,
    };
    expect(thrown(() => sync.symbols.point_len(point))).toBe(boom);
    expect(thrown(() => sync.symbols.point_len({ x: 1 } as never))).toBeInstanceOf(PluginArgumentError);
    sync.close();
  });
});
