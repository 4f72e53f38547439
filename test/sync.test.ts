// Synchronous calls into libbasic.so: every type's round trip, strings and their ownership,
// buffers, structs, out/inout parameters, callbacks, and argument validation (which must throw
// before the plugin runs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { open, PluginArgumentError } from '../src/index.js';
import type { Library } from '../src/index.js';
import { fullGc } from './helpers/async-fixture.js';
import { basicDecls, PLUGINS, thrown } from './helpers/plugins.js';

let lib: Library<typeof basicDecls>;
let s: Library<typeof basicDecls>['symbols'];

beforeAll(() => {
  lib = open(PLUGINS.basic, basicDecls);
  s = lib.symbols;
});
afterAll(() => lib?.close());

/** Asserts `fn` throws a PluginArgumentError about `symbol` (and, when given, parameter `index`). */
function argError(fn: () => unknown, symbol: string, index?: number): PluginArgumentError {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(PluginArgumentError);
  expect(e).toBeInstanceOf(TypeError);
  const err = e as PluginArgumentError;
  expect(err.code).toBe('ERR_PLUGIN_INVALID_ARG');
  expect(err.symbol).toBe(symbol);
  expect(err.name).toBe('PluginArgumentError');
  expect(err.message).toContain(symbol);
  if (index !== undefined) expect(err.message).toMatch(new RegExp(`\\bparameter ${index}\\b`));
  return err;
}

describe('integers', () => {
  it('8/16/32-bit integers round-trip at their limits', () => {
    for (const v of [-128, -1, 0, 1, 127]) expect(s.echo_i8(v)).toBe(v);
    for (const v of [0, 1, 128, 255]) expect(s.echo_u8(v)).toBe(v);
    for (const v of [-32768, -1, 0, 32767]) expect(s.echo_i16(v)).toBe(v);
    for (const v of [0, 32768, 65535]) expect(s.echo_u16(v)).toBe(v);
    for (const v of [-(2 ** 31), -1, 0, 2 ** 31 - 1]) expect(s.echo_i32(v)).toBe(v);
    for (const v of [0, 2 ** 31, 2 ** 32 - 1]) expect(s.echo_u32(v)).toBe(v);
    expect(s.add(2, 3)).toBe(5);
    expect(s.add(-7, 3)).toBe(-4);
    // wrapping_add in the plugin: the result is the plugin's, not JS arithmetic
    expect(s.add(2 ** 31 - 1, 1)).toBe(-(2 ** 31));
  });

  it('64-bit results are numbers up to 2^53-1 and bigints beyond', () => {
    const MAX_SAFE = Number.MAX_SAFE_INTEGER;
    for (const echo of [s.echo_i64, s.echo_isize]) {
      expect(echo(MAX_SAFE)).toBe(MAX_SAFE);
      expect(echo(-MAX_SAFE)).toBe(-MAX_SAFE);
      expect(echo(0)).toBe(0);
      expect(echo(-1)).toBe(-1);
      expect(echo(5n)).toBe(5); // a small bigint comes back as a number
      expect(echo(2n ** 53n)).toBe(2n ** 53n); // koffi alone returns ±2^53 as a number
      expect(echo(-(2n ** 53n))).toBe(-(2n ** 53n));
      expect(echo(2n ** 53n + 1n)).toBe(2n ** 53n + 1n);
      expect(echo(2n ** 63n - 1n)).toBe(2n ** 63n - 1n);
      expect(echo(-(2n ** 63n))).toBe(-(2n ** 63n));
    }
    for (const echo of [s.echo_u64, s.echo_usize]) {
      expect(echo(MAX_SAFE)).toBe(MAX_SAFE);
      expect(echo(0)).toBe(0);
      expect(echo(BigInt(MAX_SAFE))).toBe(MAX_SAFE);
      expect(echo(2n ** 53n)).toBe(2n ** 53n);
      expect(echo(2n ** 63n)).toBe(2n ** 63n);
      expect(echo(2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    }
    expect(s.u64_max()).toBe(18446744073709551615n);
    expect(s.i64_min()).toBe(-9223372036854775808n);
  });
});

describe('floats and bools', () => {
  it('f32 rounds like Math.fround, f64 is exact', () => {
    for (const v of [0.1, 1 / 3, 3.4028235e38, 1e-45, 16777217, -2.5]) expect(s.echo_f32(v)).toBe(Math.fround(v));
    expect(s.echo_f32(0.1)).not.toBe(0.1);
    expect(s.echo_f32(1e39)).toBe(Infinity);
    expect(s.echo_f32(NaN)).toBeNaN();
    expect(Object.is(s.echo_f32(-0), -0)).toBe(true);
    for (const v of [0.1, 1 / 3, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, 2 ** 53 + 2]) expect(s.echo_f64(v)).toBe(v);
    expect(s.echo_f64(NaN)).toBeNaN();
    expect(Object.is(s.echo_f64(-0), -0)).toBe(true);
    expect(s.scale(1.5, -4)).toBe(-6);
  });

  it('bool', () => {
    expect(s.echo_bool(true)).toBe(true);
    expect(s.echo_bool(false)).toBe(false);
    expect(s.not_bool(true)).toBe(false);
    expect(s.not_bool(false)).toBe(true);
  });
});

describe('pointers', () => {
  it('round-trip as bigint, null for 0', () => {
    for (const p of [1n, 0x1234n, 0x7fff_ffff_f000n, 0xffff_ffff_ffff_fff0n]) expect(s.echo_pointer(p)).toBe(p);
    expect(s.echo_pointer(null)).toBe(null);
    expect(s.echo_pointer(0n)).toBe(null);
  });

  it("lib.address() is the export's address and works as a 'function' argument", () => {
    const addr = lib.address('echo_i32');
    expect(typeof addr).toBe('bigint');
    expect(addr).not.toBe(0n);
    expect(lib.address('echo_i32')).toBe(addr);
    // apply_twice(echo_i32, 41): the plugin calls its own export through the pointer
    expect(s.apply_twice(addr, 41)).toBe(41);
  });
});

describe('strings', () => {
  it('pass UTF-8 in and out', () => {
    expect(s.greet('Ada')).toBe('Hello, Ada!');
    expect(s.greet('')).toBe('Hello, !');
    expect(s.greet('Zoë, 日本, 🦀')).toBe('Hello, Zoë, 日本, 🦀!');
    const long = 'x'.repeat(100_000);
    expect(s.greet(long)).toBe(`Hello, ${long}!`);
  });

  it('str_len counts UTF-8 bytes', () => {
    expect(s.str_len('')).toBe(0);
    expect(s.str_len('abc')).toBe(3);
    expect(s.str_len('é')).toBe(2);
    expect(s.str_len('日本')).toBe(6);
    expect(s.str_len('🦀')).toBe(4);
    expect(s.str_len('héllo 🦀')).toBe(Buffer.byteLength('héllo 🦀'));
  });

  it("a result declared with 'free' is freed by the plugin after being copied", () => {
    const before = s.strings_alive();
    for (let i = 0; i < 2000; i++) expect(s.greet(`n${i}`)).toBe(`Hello, n${i}!`);
    expect(s.strings_alive()).toBe(before);
  });

  it("several symbols (and libraries) can declare 'free'", () => {
    const again = open(PLUGINS.basic, {
      greet: basicDecls.greet,
      greet2: { name: 'greet', parameters: ['string'], result: 'string', free: 'basic_free_string' },
    });
    const before = s.strings_alive();
    expect(again.symbols.greet('a')).toBe('Hello, a!');
    expect(again.symbols.greet2('b')).toBe('Hello, b!');
    expect(s.strings_alive()).toBe(before);
    again.close();
  });

  it("a result without 'free' is borrowed: never freed", () => {
    expect(s.version()).toBe('basic 1.0.0');
    expect(s.version()).toBe('basic 1.0.0');
    const before = Number(s.strings_alive());
    expect(s.greet_borrowed('leak')).toBe('Hello, leak!');
    expect(s.strings_alive()).toBe(before + 1); // rustplug did not free it
    const p = s.greet_ptr('x');
    expect(typeof p).toBe('bigint');
    expect(s.strings_alive()).toBe(before + 2);
    s.basic_free_string(p);
    expect(s.strings_alive()).toBe(before + 1);
  });
});

describe('buffers', () => {
  it('are passed by address, honouring the view offset', () => {
    expect(s.sum_bytes(Buffer.from([1, 2, 3]), 3)).toBe(6);
    expect(s.sum_bytes(new Uint8Array([10, 20, 30, 40]), 4)).toBe(100);
    expect(s.sum_bytes(new Uint8Array([10, 20, 30, 40]), 2)).toBe(30);
    const whole = new Uint8Array([100, 1, 2, 3, 200]);
    expect(s.sum_bytes(whole.subarray(1, 4), 3)).toBe(6);
    expect(s.sum_bytes(Buffer.from(whole.buffer, 2, 2), 2)).toBe(5);
    expect(s.sum_bytes(new DataView(whole.buffer, 3), 2)).toBe(203);
    expect(s.sum_bytes(whole.buffer, 5)).toBe(306);
    expect(s.sum_bytes(new Uint16Array([0x0102, 0x0304]), 4)).toBe(10);
    expect(s.sum_bytes(new Uint8Array(0), 0)).toBe(0);
    expect(s.sum_bytes(null, 0)).toBe(0);
    const big = new Uint8Array(1 << 20).fill(255);
    expect(s.sum_bytes(big, big.length)).toBe(255 * (1 << 20));
  });

  it('the plugin writes into the JS memory', () => {
    const buf = Buffer.alloc(8);
    s.fill_bytes(buf.subarray(2, 5), 3, 7);
    expect([...buf]).toEqual([0, 0, 7, 7, 7, 0, 0, 0]);
    const ab = new ArrayBuffer(4);
    s.fill_bytes(ab, 4, 0xab);
    expect([...new Uint8Array(ab)]).toEqual([0xab, 0xab, 0xab, 0xab]);
    const f64 = new Float64Array(1);
    s.fill_bytes(f64, 8, 0);
    expect(f64[0]).toBe(0);
    s.fill_bytes(null, 0, 1); // no-op, no crash
  });
});

describe('structs', () => {
  it('named structs by value, in and out', () => {
    expect(s.point_len({ x: 3, y: 4 })).toBe(5);
    expect(s.point_add({ x: 1, y: 2 }, { x: 3.5, y: -4 })).toEqual({ x: 4.5, y: -2 });
  });

  it('tuple structs are JS arrays, with padding handled', () => {
    const m = s.mixed_make(1, -2, 3, 4.5);
    expect(Array.isArray(m)).toBe(true);
    expect(m).toEqual([1, -2, 3, 4.5]);
    expect(s.mixed_make(255, -(2 ** 31), 2n ** 64n - 1n, 0.1)).toEqual([255, -(2 ** 31), 2n ** 64n - 1n, Math.fround(0.1)]);
    expect(s.mixed_make_named(7, 8, 9, 0.5)).toEqual({ a: 7, b: 8, c: 9, d: 0.5 });
    expect(s.mixed_sum([1, -2, 3, 0.5])).toBe(2.5);
    expect(s.mixed_sum([1, -2, 3n, 0.5])).toBe(2.5);
    expect(s.mixed_sum_named({ a: 1, b: -2, c: 3, d: 0.5 })).toBe(2.5);
    // 64-bit fields follow the result rule: numbers only up to 2^53-1
    expect(s.mixed_make(0, 0, Number.MAX_SAFE_INTEGER, 0)[2]).toBe(Number.MAX_SAFE_INTEGER);
    expect(s.mixed_make(0, 0, 2n ** 53n, 0)[2]).toBe(2n ** 53n);
    expect(s.mixed_make_named(0, 0, 2n ** 53n, 0).c).toBe(2n ** 53n);
    expect(s.mixed_make_named(0, 0, 2n ** 53n + 1n, 0).c).toBe(2n ** 53n + 1n);
    // a tuple result fed back as a tuple argument
    expect(s.mixed_sum(s.mixed_make(10, 20, 30, 0.25))).toBe(60.25);
  });

  it('pointer to a struct is copied in for the call', () => {
    expect(s.point_norm_ptr({ x: 6, y: 8 })).toBe(10);
  });

  it('pointer to a scalar: the value is copied in, never taken as an address', () => {
    expect(s.f64_ptr_inc(1.5)).toBe(2.5);
    expect(s.f64_ptr_inc(-1)).toBe(0);
    argError(() => (s.f64_ptr_inc as Function)(1n), 'f64_ptr_inc', 0);
    argError(() => (s.f64_ptr_inc as Function)(null), 'f64_ptr_inc', 0);
  });

  it('inout struct: the box value is copied in and read back', () => {
    const box = { value: { x: 1, y: -2 } };
    s.point_scale_in_place(box, 3);
    expect(box.value).toEqual({ x: 3, y: -6 });
    s.point_scale_in_place(box, 0.5);
    expect(box.value).toEqual({ x: 1.5, y: -3 });
  });
});

describe('out parameters', () => {
  it('receive what the plugin wrote', () => {
    const q: { value?: number } = {};
    const r: { value?: number } = {};
    expect(s.divmod(7, 2, q, r)).toBe(true);
    expect(q.value).toBe(3);
    expect(r.value).toBe(1);
    expect(s.divmod(-7, 2, q, r)).toBe(true);
    expect([q.value, r.value]).toEqual([-3, -1]);
    expect(s.divmod(-(2 ** 31), -1, q, r)).toBe(true);
    expect([q.value, r.value]).toEqual([-(2 ** 31), 0]);
  });

  it('are left untouched when the plugin writes nothing', () => {
    const q = { value: 42 };
    const r = { value: -7 };
    expect(s.divmod(7, 0, q, r)).toBe(false);
    expect(q.value).toBe(42);
    expect(r.value).toBe(-7);
    // an empty box (or one holding no valid i32) reads back the zeroed memory, never garbage
    const e: { value?: number } = {};
    const bad = { value: 'x' as unknown as number };
    expect(s.divmod(7, 0, e, bad)).toBe(false);
    expect(e.value).toBe(0);
    expect(bad.value).toBe(0);
    // struct out boxes: zeros when empty, the prior value otherwise (named and tuple)
    const p: { value?: { x: number; y: number } } = {};
    s.point_scale_out(p, 5);
    expect(p.value).toEqual({ x: 0, y: 0 });
    p.value = { x: 1, y: 2 };
    s.point_scale_out(p, 3);
    expect(p.value).toEqual({ x: 3, y: 6 });
    const t: { value?: [number, number] } = {};
    s.point_scale_out_tuple(t, 2);
    expect(t.value).toEqual([0, 0]);
    t.value = [1, -1];
    s.point_scale_out_tuple(t, 2);
    expect(t.value).toEqual([2, -2]);
    // a prefilled box still receives what the plugin writes
    expect(s.divmod(9, 4, q, r)).toBe(true);
    expect([q.value, r.value]).toEqual([2, 1]);
  });
});

describe('callbacks', () => {
  it('JS functions are called back during the call', () => {
    const seen: number[] = [];
    expect(
      s.apply_twice((x) => {
        seen.push(x);
        return x * 3;
      }, 2),
    ).toBe(18);
    expect(seen).toEqual([2, 6]);
  });

  it('call_n calls in order with every value', () => {
    const got: number[] = [];
    s.call_n((i) => void got.push(i), 100);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    s.call_n(() => {
      throw new Error('must not be called for n = 0');
    }, 0);
  });

  it('a callback may call into the plugin again', () => {
    expect(s.apply_twice((x) => s.add(x, 10), 1)).toBe(21);
  });

  it("a callback's exception is rethrown after the call, and the plugin stays usable", () => {
    let calls = 0;
    const e = thrown(() =>
      s.apply_twice(() => {
        calls++;
        throw new Error('boom in callback');
      }, 1),
    );
    expect((e as Error).message).toBe('boom in callback');
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(s.apply_twice((x) => x + 1, 1)).toBe(3);
  });

  it('struct parameters and results of a callback, named and tuple', () => {
    const seen: unknown[] = [];
    const flip = (p: { x: number; y: number }) => (seen.push(p), { x: p.y, y: -p.x });
    expect(s.point_map(flip, { x: 1, y: 2 })).toEqual({ x: -1, y: -2 });
    expect(seen).toEqual([{ x: 1, y: 2 }, { x: 2, y: -1 }]);
    expect(s.point_map_tuple(([x, y]) => [y, -x], [1, 2])).toEqual([-1, -2]);
    // a result that is not the declared struct: the call throws once it returns
    const e = thrown(() => s.point_map(() => ({ x: 1 }) as never, { x: 0, y: 0 }));
    expect(e).toBeInstanceOf(PluginArgumentError);
    expect((e as Error).message).toMatch(/callback passed as parameter 0 must return a value of struct \{x: f64, y: f64\}/);
  });

  it('nothing keeps a callback alive after the call', async () => {
    let ref!: WeakRef<Function>;
    (() => {
      const cb = (x: number) => x + 1;
      ref = new WeakRef(cb);
      expect(s.apply_twice(cb, 1)).toBe(3);
    })();
    await new Promise((r) => setTimeout(r, 0)); // WeakRef targets are kept until the task ends
    fullGc();
    expect(ref.deref()).toBe(undefined);
  });

  it('sum_with passes f64s both ways', () => {
    expect(s.sum_with((a, b) => a * b, 1.5, 4)).toBe(6);
    expect(s.sum_with((a, b) => a - b, 0.1, 0.3)).toBe(0.1 - 0.3);
    expect(s.sum_with(() => NaN, 1, 2)).toBeNaN();
  });
});

describe('argument validation', () => {
  it('wrong argument count', () => {
    const e = argError(() => (s.add as Function)(1), 'add');
    expect(e.message).toMatch(/takes 2 arguments, got 1/);
    expect(argError(() => (s.add as Function)(1, 2, 3), 'add').message).toMatch(/got 3/);
    expect(argError(() => (s.strings_alive as Function)(1), 'strings_alive').message).toMatch(/takes 0 arguments, got 1/);
    expect(argError(() => (s.str_len as Function)(), 'str_len').message).toMatch(/takes 1 argument, got 0/);
  });

  it('out of range integers', () => {
    argError(() => s.add(2 ** 31, 0), 'add', 0);
    argError(() => s.add(0, -(2 ** 31) - 1), 'add', 1);
    argError(() => s.echo_i8(128), 'echo_i8', 0);
    argError(() => s.echo_i8(-129), 'echo_i8', 0);
    argError(() => s.echo_u8(256), 'echo_u8', 0);
    argError(() => s.echo_u8(-1), 'echo_u8', 0);
    argError(() => s.echo_i16(32768), 'echo_i16', 0);
    argError(() => s.echo_u16(65536), 'echo_u16', 0);
    argError(() => s.echo_u32(-1), 'echo_u32', 0);
    argError(() => s.echo_u32(2 ** 32), 'echo_u32', 0);
    argError(() => s.echo_i32(1.5), 'echo_i32', 0);
    argError(() => s.echo_i32(Infinity), 'echo_i32', 0);
    argError(() => s.echo_u64(-1), 'echo_u64', 0);
    argError(() => s.echo_u64(-1n), 'echo_u64', 0);
    argError(() => s.echo_u64(2n ** 64n), 'echo_u64', 0);
    argError(() => s.echo_usize(2n ** 64n), 'echo_usize', 0);
    argError(() => s.echo_i64(2n ** 63n), 'echo_i64', 0);
    argError(() => s.echo_i64(-(2n ** 63n) - 1n), 'echo_i64', 0);
    argError(() => s.echo_u64(0.5), 'echo_u64', 0);
    // numbers past 2^53 are not exact: they must be passed as bigint
    const e = argError(() => s.echo_i64(2 ** 53), 'echo_i64', 0);
    expect(e.message).toMatch(/bigint/);
    expect(e.message).toMatch(/got number 9007199254740992/);
  });

  it('NaN, strings, bigints and other non-numbers for integers', () => {
    for (const echo of ['echo_i8', 'echo_u8', 'echo_i16', 'echo_u16', 'echo_i32', 'echo_u32', 'echo_i64', 'echo_u64', 'echo_isize', 'echo_usize'] as const) {
      for (const bad of [NaN, '1', true, null, undefined, {}, [1]]) argError(() => (s[echo] as Function)(bad), echo, 0);
    }
    // a bigint for a 32-bit integer must be refused like any non-number (not a raw BigInt TypeError)
    for (const echo of ['echo_i8', 'echo_u8', 'echo_i16', 'echo_u16', 'echo_i32', 'echo_u32'] as const) {
      argError(() => (s[echo] as Function)(1n), echo, 0);
    }
    // a Symbol must not make the check itself throw
    argError(() => (s.echo_i32 as Function)(Symbol('x')), 'echo_i32', 0);
    expect(argError(() => (s.add as Function)('1', 2), 'add', 0).message).toMatch(/got string "1"/);
    argError(() => (s.add as Function)(1, NaN), 'add', 1);
  });

  it('objects with valueOf are refused without being coerced', () => {
    let coerced = 0;
    const sneaky = {
      valueOf() {
        coerced++;
        return 1;
      },
    };
    argError(() => (s.echo_i32 as Function)(sneaky), 'echo_i32', 0);
    argError(() => (s.echo_u8 as Function)(sneaky), 'echo_u8', 0);
    argError(() => (s.echo_u32 as Function)(sneaky), 'echo_u32', 0);
    argError(() => (s.echo_f64 as Function)(sneaky), 'echo_f64', 0);
    expect(coerced).toBe(0);
  });

  it('floats, bools and pointers', () => {
    argError(() => (s.echo_f64 as Function)('1.5'), 'echo_f64', 0);
    argError(() => (s.echo_f64 as Function)(1n), 'echo_f64', 0);
    argError(() => (s.echo_f32 as Function)(null), 'echo_f32', 0);
    argError(() => (s.echo_bool as Function)(1), 'echo_bool', 0);
    argError(() => (s.echo_bool as Function)('true'), 'echo_bool', 0);
    argError(() => (s.echo_pointer as Function)(5), 'echo_pointer', 0);
    argError(() => (s.echo_pointer as Function)(undefined), 'echo_pointer', 0);
    argError(() => s.echo_pointer(-1n), 'echo_pointer', 0);
    argError(() => s.echo_pointer(2n ** 64n), 'echo_pointer', 0);
  });

  it('strings: a number for a string, and a string result never created', () => {
    const before = s.strings_alive();
    for (const bad of [42, null, undefined, Buffer.from('x'), { toString: () => 'x' }]) argError(() => (s.greet as Function)(bad), 'greet', 0);
    argError(() => (s.greet as Function)(), 'greet');
    expect(s.strings_alive()).toBe(before);
    argError(() => (s.str_len as Function)(42), 'str_len', 0);
  });

  it('strings with a NUL are refused instead of silently cut short', () => {
    const before = s.strings_alive();
    const e = argError(() => s.greet('safe\0; rm -rf'), 'greet', 0);
    expect(e.message).toMatch(/NUL/);
    argError(() => s.str_len('a\0b'), 'str_len', 0);
    argError(() => s.str_len('\0'), 'str_len', 0);
    expect(s.strings_alive()).toBe(before);
  });

  it('buffers: the plugin never writes when an argument is bad', () => {
    const buf = Buffer.alloc(4);
    argError(() => s.fill_bytes(buf, 4, 256), 'fill_bytes', 2);
    argError(() => s.fill_bytes(buf, 4, -1), 'fill_bytes', 2);
    argError(() => s.fill_bytes(buf, -1, 7), 'fill_bytes', 1);
    argError(() => s.fill_bytes(buf, 4, 1.5), 'fill_bytes', 2);
    argError(() => (s.fill_bytes as Function)(buf, 4), 'fill_bytes');
    argError(() => (s.fill_bytes as Function)(buf, 4, 7, 0), 'fill_bytes');
    argError(() => (s.fill_bytes as Function)('abcd', 4, 7), 'fill_bytes', 0);
    argError(() => (s.fill_bytes as Function)([0, 0, 0, 0], 4, 7), 'fill_bytes', 0);
    argError(() => (s.fill_bytes as Function)(undefined, 0, 7), 'fill_bytes', 0);
    expect([...buf]).toEqual([0, 0, 0, 0]);
  });

  it('structs, boxes and callbacks', () => {
    argError(() => (s.point_len as Function)({ x: 1 }), 'point_len', 0);
    argError(() => (s.point_len as Function)({ x: 1, y: '2' }), 'point_len', 0);
    argError(() => (s.point_len as Function)([3, 4]), 'point_len', 0);
    argError(() => (s.point_len as Function)(null), 'point_len', 0);
    argError(() => (s.point_add as Function)({ x: 1, y: 2 }, 5), 'point_add', 1);
    argError(() => (s.mixed_sum as Function)([1, 2, 3]), 'mixed_sum', 0);
    argError(() => (s.mixed_sum as Function)([256, 2, 3, 4]), 'mixed_sum', 0);
    argError(() => (s.mixed_sum as Function)({ f0: 1, f1: 2, f2: 3, f3: 4 }), 'mixed_sum', 0);
    argError(() => (s.point_norm_ptr as Function)(null), 'point_norm_ptr', 0);
    argError(() => (s.point_scale_in_place as Function)({}, 2), 'point_scale_in_place', 0);
    argError(() => (s.point_scale_in_place as Function)({ value: { x: 1 } }, 2), 'point_scale_in_place', 0);
    argError(() => (s.point_scale_in_place as Function)(null, 2), 'point_scale_in_place', 0);
    const q = { value: 5 };
    argError(() => (s.divmod as Function)(7, 2, q, 3), 'divmod', 3);
    argError(() => (s.divmod as Function)(7, 2, null, {}), 'divmod', 2);
    expect(q.value).toBe(5);

    let calls = 0;
    const cb = (i: number) => void (calls += i + 1);
    argError(() => s.call_n(cb, -1), 'call_n', 1);
    argError(() => s.call_n(cb, 1.5), 'call_n', 1);
    argError(() => (s.call_n as Function)(cb, 3n), 'call_n', 1);
    argError(() => (s.call_n as Function)('cb', 3), 'call_n', 0);
    argError(() => (s.call_n as Function)(5, 3), 'call_n', 0);
    expect(calls).toBe(0);
    s.call_n(cb, 3);
    expect(calls).toBe(6);
  });

  it('error messages say what was expected', () => {
    const e = argError(() => s.echo_u8(256), 'echo_u8', 0);
    expect(e.message).toBe('echo_u8(): parameter 0 (u8) expects an integer in [0, 255], got number 256');
    expect(argError(() => (s.greet as Function)(42), 'greet', 0).message).toBe(
      'greet(): parameter 0 (string) expects a string without NUL characters, got number 42',
    );
  });
});
