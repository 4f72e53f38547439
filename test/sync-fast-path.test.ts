// The sync fast path (src/sync-frame.ts, native/sync_symbol.cc): symbols whose arguments and result
// travel in registers are called by the addon from a per-environment frame instead of koffi. Each
// value must reach its own register and come back intact, checked against raw koffi calling the
// same export; calls nested through callbacks share the frame; close() and exceptions from inside
// the call; worker threads have frames of their own.
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';

import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { open, PluginClosedError } from '../src/index.js';
import type { PluginCallback } from '../src/index.js';
import { distIndex } from './helpers/async-fixture.js';
import { basicDecls, PLUGINS, REPO, thrown } from './helpers/plugins.js';

const decls = {
  ...basicDecls,
  regs_mix: { parameters: ['i8', 'f32', 'u16', 'f64', 'i64', 'f32', 'u64', 'bool', 'usize', 'f64'], result: 'f64' },
  regs_full: { parameters: ['i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64'], result: 'f64' },
  regs_spill: { parameters: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], result: 'i64' },
  // A kept callback's address: every parameter a scalar, so the fast path makes this call.
  apply_twice: { parameters: ['function', 'i32'], result: 'i32' },
} as const;

let lib: ReturnType<typeof open<typeof decls>>;
let s: (typeof lib)['symbols'];
let raw: ReturnType<typeof koffi.load>;

beforeAll(() => {
  lib = open(PLUGINS.basic, decls);
  s = lib.symbols;
  raw = koffi.load(PLUGINS.basic);
});
afterAll(() => {
  lib?.close();
  raw?.unload();
});

// A deterministic generator: failures reproduce.
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('every argument in its own register', () => {
  it('regs_mix: integer and float classes interleaved, every width, agree with raw koffi', () => {
    const k = raw.func('double regs_mix(int8_t, float, uint16_t, double, int64_t, float, uint64_t, bool, uintptr_t, double)');
    const r = rng(1);
    for (let n = 0; n < 2000; n++) {
      const args = [
        Math.floor(r() * 256) - 128,
        Math.fround((r() - 0.5) * 1000),
        Math.floor(r() * 65536),
        (r() - 0.5) * 1e6,
        // 64-bit values as numbers (both signs, both halves) and as bigints
        n % 3 === 0 ? BigInt(Math.floor((r() - 0.5) * 2 ** 52)) * 1024n : Math.floor((r() - 0.5) * 2 ** 53),
        Math.fround(r() * 10),
        n % 2 === 0 ? BigInt(Math.floor(r() * 2 ** 52)) * 4096n : Math.floor(r() * 2 ** 53),
        r() < 0.5,
        Math.floor(r() * 2 ** 40),
        r(),
      ] as const;
      expect(s.regs_mix(...args)).toBe(k(...args));
    }
  });

  it('regs_full: all six integer and eight float registers', () => {
    const k = raw.func('double regs_full(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, double, double, double, double, double, double, double)');
    const r = rng(2);
    for (let n = 0; n < 500; n++) {
      const ints = Array.from({ length: 6 }, () => Math.floor((r() - 0.5) * 2 ** 31));
      const floats = Array.from({ length: 8 }, () => (r() - 0.5) * 1e3);
      const args = [...ints, ...floats] as Parameters<typeof s.regs_full>;
      expect(s.regs_full(...args)).toBe(k(...args));
    }
    expect(s.regs_full(1, 2, 3, 4, 5, 6, 1, 1, 1, 1, 1, 1, 1, 1)).toBe(1 + 4 + 9 + 16 + 25 + 36 + (7 + 8 + 9 + 10 + 11 + 12 + 13 + 14));
  });

  it('regs_spill: one integer more than the registers still works (through koffi)', () => {
    expect(s.regs_spill(1, 2, 3, 4, 5, 6, 7)).toBe(1 + 4 + 9 + 16 + 25 + 36 + 49);
    expect(s.regs_spill(-1, 0, 0, 0, 0, 0, 2 ** 31 - 1)).toBe(-1 + 7 * (2 ** 31 - 1));
  });
});

describe('results: only the declared bits count', () => {
  it('narrow integers, bool, floats, 64-bit and pointers at their limits', () => {
    for (const v of [-128, -1, 0, 127]) expect(s.echo_i8(v)).toBe(v);
    for (const v of [0, 128, 255]) expect(s.echo_u8(v)).toBe(v);
    for (const v of [-32768, -1, 32767]) expect(s.echo_i16(v)).toBe(v);
    for (const v of [0, 32768, 65535]) expect(s.echo_u16(v)).toBe(v);
    for (const v of [-(2 ** 31), -1, 2 ** 31 - 1]) expect(s.echo_i32(v)).toBe(v);
    for (const v of [0, 2 ** 31, 2 ** 32 - 1]) expect(s.echo_u32(v)).toBe(v);
    for (const v of [true, false]) expect(s.echo_bool(v)).toBe(v);
    for (const v of [0, -0, 1.5, -2.25, Infinity, -Infinity, 3.4028234663852886e38]) expect(Object.is(s.echo_f32(v), Math.fround(v))).toBe(true);
    expect(s.echo_f32(0.1)).toBe(Math.fround(0.1));
    expect(s.echo_f32(NaN)).toBeNaN();
    for (const v of [0, -0, 5e-324, Number.MAX_VALUE, -Infinity]) expect(Object.is(s.echo_f64(v), v)).toBe(true);
    expect(s.echo_f64(NaN)).toBeNaN();
    // 64-bit: numbers up to ±(2^53 − 1), bigints beyond, both ways
    const MAX = Number.MAX_SAFE_INTEGER;
    for (const v of [0, -1, 1, MAX, -MAX, 2 ** 32, -(2 ** 32), 2 ** 32 - 1, -(2 ** 32) + 1]) expect(s.echo_i64(v)).toBe(v);
    for (const v of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n]) expect(s.echo_i64(v)).toBe(v);
    expect(s.echo_i64(-5n)).toBe(-5);
    for (const v of [0, 1, MAX, 2 ** 32]) expect(s.echo_u64(v)).toBe(v);
    for (const v of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) expect(s.echo_u64(v)).toBe(v);
    expect(s.echo_u64(BigInt(MAX))).toBe(MAX);
    for (const p of [1n, 0xffff_ffff_ffff_fff0n, 0x1_0000_0000n]) expect(s.echo_pointer(p)).toBe(p);
    expect(s.echo_pointer(null)).toBe(null);
    expect(s.echo_pointer(0n)).toBe(null);
  });

  it('random 64-bit values agree with raw koffi', () => {
    const ki = raw.func('int64_t echo_i64(int64_t)');
    const r = rng(3);
    for (let n = 0; n < 2000; n++) {
      const v = BigInt.asIntN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32))) >> BigInt(Math.floor(r() * 64));
      const expected = BigInt(ki(v) as number | bigint);
      const got = s.echo_i64(v);
      expect(BigInt(got)).toBe(expected);
      expect(typeof got).toBe(expected >= -(2n ** 53n) + 1n && expected <= 2n ** 53n - 1n ? 'number' : 'bigint');
    }
  });
});

describe('strings and buffers are converted by the addon', () => {
  it('UTF-8 lengths around the on-stack arena (1 KiB) and far beyond, multibyte characters on the edge', () => {
    for (let n = 1000; n <= 1040; n++) {
      for (const tail of ['', 'é', '日', '🦀', '\ud800']) {
        const str = 'a'.repeat(n) + tail;
        expect(s.str_len(str)).toBe(Buffer.byteLength(str));
      }
    }
    const huge = '🦀'.repeat(1 << 18) + 'x';
    expect(s.str_len(huge)).toBe(4 * (1 << 18) + 1);
    expect(s.greet('日本'.repeat(600))).toBe(`Hello, ${'日本'.repeat(600)}!`);
    // lone surrogates become U+FFFD, as in every UTF-8 encoding Node does
    expect(s.greet('\udc00')).toBe('Hello, \ufffd!');
  });

  it('random strings agree with raw koffi', () => {
    const k = raw.func('size_t str_len(const char *)');
    const r = rng(4);
    const pool = ['a', 'é', '日', '🦀', ' ', 'Z', '\u0080', '\u07ff', '\uffff'];
    for (let n = 0; n < 500; n++) {
      let str = '';
      const len = Math.floor(r() * 2000);
      for (let i = 0; i < len; i++) str += pool[Math.floor(r() * pool.length)];
      expect(s.str_len(str)).toBe(k(str));
    }
  });

  it('strings, buffers and scalars in one call keep their registers', () => {
    const buf = Buffer.alloc(6);
    s.fill_bytes(buf.subarray(1, 4), 3, 9);
    expect([...buf]).toEqual([0, 9, 9, 9, 0, 0]);
    expect(s.sum_bytes(new Uint16Array([0x0101, 0x0202]).subarray(1), 2)).toBe(4);
    expect(s.sum_bytes(null, 0)).toBe(0);
  });

  it("string results: copied, freed with 'free', null stays null", () => {
    const before = s.strings_alive();
    for (let i = 0; i < 3000; i++) expect(s.greet(`x${i}`)).toBe(`Hello, x${i}!`);
    expect(s.strings_alive()).toBe(before);
    expect(s.version()).toBe('basic 1.0.0');
    const echo = open(PLUGINS.basic, { str_echo: { parameters: ['string'], result: 'string' }, str_null: { name: 'echo_pointer', parameters: ['pointer'], result: 'string' } });
    expect(echo.symbols.str_echo('round trip 🦀')).toBe('round trip 🦀');
    expect(echo.symbols.str_null(null)).toBe(null);
    echo.close();
  });
});

describe('calls nested inside the call share the frame', () => {
  it("a kept callback's JS calls fast symbols (other slots, other results) while the outer call runs", () => {
    let depth = 0;
    const cb: PluginCallback = lib.callback({ parameters: ['i32'], result: 'i32' }, (x): number => {
      depth++;
      // Overwrites every part of the frame the outer call used: argument slots, the result as an
      // integer, a double, a bigint.
      const f = s.regs_full(9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9);
      const big = s.echo_u64(2n ** 64n - 1n);
      const inner: number = depth < 3 ? s.apply_twice(cb.pointer, 0) : 0; // deeper nesting, same frame
      depth--;
      return s.add(x, 100) + (f > 0 ? 1 : 0) + (big === 2n ** 64n - 1n ? 1 : 0) + inner * 0;
    });
    try {
      // apply_twice(cb, 5) = cb(cb(5)); cb(x) = x + 102
      expect(s.apply_twice(cb.pointer, 5)).toBe(5 + 2 * 102);
      expect(s.add(40, 2)).toBe(42);
      expect(depth).toBe(0);
    } finally {
      cb.close();
    }
  });

  it("a callback's exception propagates out of the fast call, and the next call is right", () => {
    const cb = lib.callback({ parameters: ['i32'], result: 'i32' }, () => {
      s.regs_mix(1, 2, 3, 4, 5, 6, 7, true, 9, 10);
      throw new Error('thrown inside');
    });
    try {
      expect((thrown(() => s.apply_twice(cb.pointer, 1)) as Error).message).toBe('thrown inside');
      expect(s.add(2, 3)).toBe(5);
      // The same through koffi (a { function } parameter given an address): rethrown alike, and
      // koffi holds nothing back for its next call.
      const viaKoffi = open(PLUGINS.basic, { apply_twice: { parameters: [{ function: { parameters: ['i32'], result: 'i32' } }, 'i32'], result: 'i32' } });
      expect((thrown(() => viaKoffi.symbols.apply_twice(cb.pointer, 1)) as Error).message).toBe('thrown inside');
      expect(viaKoffi.symbols.apply_twice((x) => x + 1, 1)).toBe(3);
      viaKoffi.close();
      expect(s.echo_f64(0.5)).toBe(0.5);
    } finally {
      cb.close();
    }
  });

  it('thrown with no sync call of ours on the stack (raw koffi here): reported as uncaught, never held for the next call', () => {
    const script = `
      import koffi from 'koffi';
      const { open } = await import(${JSON.stringify(distIndex)});
      const lib = open(${JSON.stringify(PLUGINS.basic)}, { add: { parameters: ['i32', 'i32'], result: 'i32' } });
      const cb = lib.callback({ parameters: ['i32'], result: 'i32' }, () => { throw new Error('thrown outside'); });
      const k = koffi.load(${JSON.stringify(PLUGINS.basic)});
      console.log('apply_twice', k.func('int32_t apply_twice(void *, int32_t)')(cb.pointer, 1));
      console.log('add', k.func('int32_t add(int32_t, int32_t)')(2, 3), lib.symbols.add(2, 3));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    // The plugin got 0 from both calls of the callback (JS ran once); the next calls are clean.
    expect(r.stdout).toBe('apply_twice 0\nadd 5 5\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Error: thrown outside');
  });

  it('close() from inside the call: the outer call returns its result, later calls throw', () => {
    // cb(cb(1)): the first cb call closes the library. With RTLD_NODELETE the kept callback closes
    // at once and the second call gets 0 from its trampoline (no JS); without, close() waits for
    // the sync call on the stack to return, so the second call runs JS and sees the library closed.
    for (const [nodelete, expected] of [[true, 0], [false, -1]] as const) {
      const own = open(PLUGINS.basic, { apply_twice: decls.apply_twice, add: decls.add }, { nodelete });
      const cb = own.callback({ parameters: ['i32'], result: 'i32' }, (x) => {
        if (own.closed) return -1;
        const v = own.symbols.add(x, 1);
        own.close();
        return v;
      });
      expect(own.symbols.apply_twice(cb.pointer, 1)).toBe(expected);
      expect(own.closed).toBe(true);
      expect(cb.closed).toBe(true);
      expect(thrown(() => own.symbols.add(1, 2))).toBeInstanceOf(PluginClosedError);
    }
  });
});

describe('worker threads', () => {
  it('each environment has its own frame: concurrent calls on two threads never mix', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.dist).then(({ open }) => {
        const lib = open(workerData.path, { add: { parameters: ['i32', 'i32'], result: 'i32' }, echo_f64: { parameters: ['f64'], result: 'f64' } });
        let bad = 0;
        for (let i = 0; i < 300000; i++) {
          if (lib.symbols.add(i, 7) !== i + 7) bad++;
          if (lib.symbols.echo_f64(i + 0.25) !== i + 0.25) bad++;
        }
        parentPort.postMessage(bad);
      });`;
    const workers = [0, 1].map(() => new Worker(code, { eval: true, workerData: { dist: distIndex, path: PLUGINS.basic } }));
    const results = workers.map((w) => new Promise<number>((resolve, reject) => (w.once('message', resolve), w.once('error', reject))));
    let bad = 0;
    for (let i = 0; i < 300000; i++) if (s.regs_spill(i, 0, 0, 0, 0, 0, 0) !== i || s.add(i, -i) !== 0) bad++;
    expect(await Promise.all(results)).toEqual([0, 0]);
    expect(bad).toBe(0);
    await Promise.all(workers.map((w) => w.terminate()));
  });
});
