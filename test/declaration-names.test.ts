// Every name a user can choose (symbol keys, exported names, struct fields) either works or is
// refused with a DeclarationError; unknown keys anywhere in a declaration, open()'s options or a
// call's options are refused with a did-you-mean; declarations are read once, at open().
import { afterAll, describe, expect, it } from 'vitest';

import { DeclarationError, open, PluginArgumentError } from '../src/index.js';
import type { Declarations } from '../src/index.js';
import { asyncPluginPath, rejection } from './helpers/async-fixture.js';
import { PLUGINS, thrown } from './helpers/plugins.js';

const ADD = { parameters: ['i32', 'i32'], result: 'i32' } as const;
const libs: { close(): void }[] = [];
afterAll(() => libs.forEach((l) => l.close()));

/** open() that is expected to work; closed after the file. Loosely typed: the keys are the point. */
function opened(path: string, decls: Declarations): { symbols: Record<string, any> } {
  const lib = open(path, decls as Record<string, never>);
  libs.push(lib);
  return lib;
}

function declarationError(fn: () => unknown, ...patterns: RegExp[]): DeclarationError {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(DeclarationError);
  expect((e as DeclarationError).code).toBe('ERR_PLUGIN_BAD_DECLARATION');
  for (const p of patterns) expect((e as Error).message).toMatch(p);
  return e as DeclarationError;
}

describe('symbol keys', () => {
  // The generated wrapper's own identifiers, strict-mode oddities, reserved words and
  // Object.prototype's names.
  const keys = [
    'h', 'raw', 'BAD', 'a0', 'a1', 'k0', 'o', 'n', 'c', 'r', 'e', 'symbol', 'arguments', 'eval', 'class', 'if',
    'await', 'yield', 'let', 'static', 'new', 'this', 'function', 'return', 'constructor', 'toString',
    'hasOwnProperty', 'valueOf', '__proto__', '__defineGetter__', 'then', 'with space', '名前', '\u2028', 'a"b', "a'b", 'a`b${x}', '}); throw 1; ({',
  ];

  it('every key works as a sync and as an async symbol, and names its function', async () => {
    const decls = Object.create(null) as Record<string, unknown>;
    for (const k of keys) decls[k] = { name: 'add', ...ADD };
    const lib = opened(PLUGINS.basic, decls as Declarations);
    expect(Object.getPrototypeOf(lib.symbols)).toBe(null);
    expect(Object.keys(lib.symbols)).toEqual(Object.keys(decls));
    for (const k of keys) {
      const fn = lib.symbols[k] as (a: number, b: number) => number;
      expect(Object.hasOwn(lib.symbols, k), k).toBe(true);
      expect(fn(2, 3), k).toBe(5);
      expect(fn.name, k).toBe(k);
    }

    const adecls = Object.create(null) as Record<string, unknown>;
    for (const k of keys) adecls[k] = { name: 'ready_u64', parameters: ['u64'], result: { future: 'u64' } };
    const alib = opened(asyncPluginPath, adecls as Declarations);
    for (const k of keys) expect(await (alib.symbols[k] as (v: number) => Promise<number>)(7), k).toBe(7);
  });

  it("a key '__proto__' is an own symbol and leaves the prototype alone", () => {
    const decls = JSON.parse('{"__proto__": {"name": "add", "parameters": ["i32", "i32"], "result": "i32"}}') as Declarations;
    const lib = opened(PLUGINS.basic, decls);
    const fn = Object.getOwnPropertyDescriptor(lib.symbols, '__proto__')?.value as (a: number, b: number) => number;
    expect(fn(40, 2)).toBe(42);
    expect(Object.getPrototypeOf(lib.symbols)).toBe(null);
    expect(Object.isFrozen(lib.symbols)).toBe(true);
  });

  it('an exported name must be a non-empty string without NUL (dlsym would cut it short)', () => {
    declarationError(() => open(PLUGINS.basic, { x: { name: 'add\0junk', ...ADD } }), /'name' must be a non-empty string without NUL/);
    declarationError(() => open(PLUGINS.basic, { x: { name: '', ...ADD } }), /'name'/);
    declarationError(() => open(PLUGINS.basic, { x: { name: 5 as unknown as string, ...ADD } }), /'name'/);
    declarationError(() => open(PLUGINS.basic, { 'add\0junk': ADD }), /the key/);
    declarationError(() => open(PLUGINS.basic, { '': ADD }), /the key/);
    // with a name, any key is fine
    expect(opened(PLUGINS.basic, { '': { name: 'add', ...ADD }, 'a\0b': { name: 'add', ...ADD } }).symbols['a\0b']!(1, 1)).toBe(2);
    declarationError(
      () => open(PLUGINS.basic, { greet: { parameters: ['string'], result: 'string', free: 'basic_free_string\0' } }),
      /'free' must be a non-empty string without NUL/,
    );
  });
});

describe('struct field names', () => {
  // Names koffi would mishandle: '__proto__' (a prototype), '_' (padding, never written),
  // non-identifiers (refused), and Object.prototype's names.
  const pairs: [string, string][] = [
    ['__proto__', '_'],
    ['', ' '],
    ['constructor', 'toString'],
    ['a b', 'é'],
    ['x\0', 'hasOwnProperty'],
    ['f1', 'f0'],
  ];

  it.each(pairs)('{ %j, %j } keeps its layout, in and out', (a, b) => {
    const point = { struct: JSON.parse(JSON.stringify({ [a]: 'f64', [b]: 'f64' })) as Record<string, 'f64'> };
    const lib = opened(PLUGINS.basic, {
      point_len: { parameters: [point], result: 'f64' },
      point_add: { parameters: [point, point], result: point },
      point_norm_ptr: { parameters: [{ pointer: point }], result: 'f64' },
      point_scale_in_place: { parameters: [{ inout: point }, 'f64'], result: 'void' },
      point_map: { parameters: [{ function: { parameters: [point], result: point } }, point], result: 'void' },
    });
    const make = (x: number, y: number) => {
      const o = {} as Record<string, number>;
      Object.defineProperty(o, a, { value: x, enumerable: true });
      Object.defineProperty(o, b, { value: y, enumerable: true });
      return o;
    };
    expect(lib.symbols.point_len(make(3, 4))).toBe(5);
    expect(lib.symbols.point_norm_ptr(make(6, 8))).toBe(10);
    const sum = lib.symbols.point_add(make(1, 2), make(10, 20)) as Record<string, number>;
    expect(Object.getPrototypeOf(sum)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(sum, a)?.value).toBe(11);
    expect(Object.getOwnPropertyDescriptor(sum, b)?.value).toBe(22);
    const box = { value: make(1, -2) };
    lib.symbols.point_scale_in_place(box, 3);
    expect(Object.getOwnPropertyDescriptor(box.value, a)?.value).toBe(3);
    expect(Object.getOwnPropertyDescriptor(box.value, b)?.value).toBe(-6);
  });

  it('struct futures get the names back as own properties', async () => {
    const point = { struct: JSON.parse('{"__proto__": "f64", "_": "f64"}') as Record<string, 'f64'> };
    const lib = opened(asyncPluginPath, { ready_point: { parameters: ['f64', 'f64'], result: { future: point } } });
    const p = (await lib.symbols.ready_point(1.5, 2.5)) as Record<string, number>;
    expect(Object.getOwnPropertyDescriptor(p, '__proto__')?.value).toBe(1.5);
    expect(p._).toBe(2.5);
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
  });

  it('integer-like names are refused: JavaScript would reorder them before the others', () => {
    declarationError(() => open(PLUGINS.basic, { point_len: { parameters: [{ struct: { y: 'f64', 0: 'f64' } }], result: 'f64' } }), /field name '0' is an integer/, /tuple struct/);
    // not integer-like: kept in order
    expect(opened(PLUGINS.basic, { point_len: { parameters: [{ struct: { '-1': 'f64', '01': 'f64' } }], result: 'f64' } }).symbols.point_len({ '-1': 3, '01': 4 })).toBe(5);
  });
});

describe('struct shapes', () => {
  it('a struct that contains itself is a DeclarationError', () => {
    const self: { struct: Record<string, unknown> } = { struct: { x: 'f64' } };
    self.struct.next = self;
    declarationError(() => open(PLUGINS.basic, { point_len: { parameters: [self as never], result: 'f64' } }), /contains itself/, /'point_len'/);
    const a: { struct: unknown[] } = { struct: ['f64'] };
    const b = { struct: ['f64', a] };
    a.struct.push(b);
    declarationError(() => open(PLUGINS.basic, { point_len: { parameters: ['f64'], result: a as never } }), /contains itself/);
  });

  it('a struct nested 20 000 deep is a DeclarationError, not a RangeError', () => {
    let t: unknown = 'f64';
    for (let i = 0; i < 20_000; i++) t = { struct: [t] };
    declarationError(() => open(PLUGINS.basic, { point_len: { parameters: [t as never], result: 'f64' } }), /nested more than 64 deep/);
    declarationError(() => open(PLUGINS.basic, { point_len: { parameters: ['f64'], result: t as never } }), /nested more than 64 deep/);
  });

  it('a struct shared by many fields is read once (no exponential blow-up)', () => {
    let reads = 0;
    let t: unknown = {
      get struct() {
        reads++;
        return ['f64'];
      },
    };
    for (let i = 0; i < 20; i++) t = { struct: [t, t] }; // 2^20 leaves if read as a tree
    const lib = opened(PLUGINS.basic, { echo_f64: { parameters: ['f64'], result: 'f64' }, unused: { name: 'echo_f64', parameters: [{ pointer: t as never }], result: 'f64' } });
    expect(reads).toBe(1);
    expect(lib.symbols.echo_f64(1)).toBe(1);
  });

  it('at most 64 parameters (koffi\'s limit)', () => {
    declarationError(() => open(PLUGINS.basic, { add: { parameters: Array(65).fill('i32'), result: 'i32' } }), /at most 64/);
  });
});

describe('unknown keys', () => {
  it('in a declaration: named, with a did-you-mean or what exists', () => {
    declarationError(() => open(PLUGINS.basic, { add: { paramters: ['i32', 'i32'], result: 'i32' } as never }), /'add'/, /unknown key 'paramters'; did you mean 'parameters'\?/);
    declarationError(() => open(PLUGINS.basic, { add: { ...ADD, optinal: true } as never }), /did you mean 'optional'/);
    declarationError(() => open(PLUGINS.basic, { add: { ...ADD, nonblocking: true } as never }), /unknown key 'nonblocking'/, /\{ future: T \}/);
    declarationError(() => open(PLUGINS.basic, { add: { ...ADD, wat: 1 } as never }), /unknown key 'wat' \(known keys: parameters, result, name, free, optional, ref\)/);
  });

  it('in type objects', () => {
    declarationError(() => open(PLUGINS.basic, { point_len: { parameters: [{ struct: { x: 'f64', y: 'f64' }, packed: true }], result: 'f64' } as never }), /unknown key 'packed'/);
    declarationError(() => open(PLUGINS.basic, { point_len: { parameters: [{ sturct: { x: 'f64', y: 'f64' } }], result: 'f64' } as never }), /did you mean 'struct'/);
    declarationError(() => open(PLUGINS.basic, { f64_ptr_inc: { parameters: [{ pointer: 'f64', out: 'f64' }], result: 'f64' } as never }), /exactly one of the keys/);
    declarationError(
      () => open(PLUGINS.basic, { apply_twice: { parameters: [{ function: { parameters: ['i32'], result: 'i32', abi: 'C' } }, 'i32'], result: 'i32' } as never }),
      /unknown key 'abi'/,
    );
    declarationError(() => open(asyncPluginPath, { ready_u64: { parameters: ['u64'], result: { future: 'u64', ref: false } } as never }), /unknown key 'ref'/);
    declarationError(() => open(PLUGINS.basic, { add: { parameters: ['i32', 'i32'], result: 'i3' } as never }), /unknown value type 'i3'.*did you mean 'i32'/);
  });

  it('ref and optional must be booleans; ref is for futures only', () => {
    declarationError(() => open(PLUGINS.basic, { add: { ...ADD, optional: 'yes' } as never }), /'optional' must be a boolean/);
    declarationError(() => open(PLUGINS.basic, { add: { ...ADD, ref: false } }), /'ref' applies to \{ future: T \} and \{ stream: T \} results only/);
  });

  it("in open()'s options", () => {
    declarationError(() => open(PLUGINS.basic, { add: ADD }, { lazzy: true } as never), /unknown key 'lazzy'; did you mean 'lazy'\?/);
    declarationError(() => open(PLUGINS.basic, { add: ADD }, { flags: 1 } as never), /unknown key 'flags' \(known keys: lazy, global/);
    declarationError(() => open(PLUGINS.basic, { add: ADD }, { lazy: 'yes' } as never), /'lazy' must be a boolean/);
    declarationError(() => open(PLUGINS.basic, { add: ADD }, null as never), /options must be an object/);
    // sysroot is known (the loader's option)
    expect(thrown(() => open(PLUGINS.basic, { add: ADD }, { sysroot: true, lazzy: 1 } as never))).toBeInstanceOf(DeclarationError);
  });

  it("in a call's options: a rejection, the plugin not called", async () => {
    const lib = opened(asyncPluginPath, { ready_u64: { parameters: ['u64'], result: { future: 'u64' } }, futures_alive: { parameters: [], result: 'i64' } });
    const before = lib.symbols.futures_alive();
    const call = lib.symbols.ready_u64 as (...a: unknown[]) => Promise<unknown>;
    const e = await rejection(call(1, { sginal: AbortSignal.timeout(10) }));
    expect(e).toBeInstanceOf(PluginArgumentError);
    expect(e.message).toMatch(/unknown call option 'sginal'; did you mean 'signal'\?/);
    expect((await rejection(call(1, { timeout: 5 }))).message).toMatch(/unknown call option 'timeout' \(the options are signal, ref\)/);
    expect((await rejection(call(1, { ref: 1 }))).message).toMatch(/options.ref must be a boolean/);
    expect(await call(1, { ref: false, signal: undefined })).toBe(1);
    expect(lib.symbols.futures_alive()).toBe(before);
  });
});

describe('declarations are read once, at open()', () => {
  it('each property once; calls and polls read nothing again', async () => {
    const reads: string[] = [];
    /** An object whose every property is a getter that logs its reads. */
    const spied = (o: Record<string, unknown>) => {
      const out = {};
      for (const [k, v] of Object.entries(o)) Object.defineProperty(out, k, { enumerable: true, get: () => (reads.push(k), v) });
      return out;
    };
    const point = spied({ struct: spied({ x: 'f64', y: 'f64' }) });
    const decl = spied({ parameters: ['u32', 'f64', 'f64'], result: spied({ future: point }) });
    const lib = opened(asyncPluginPath, { sleep_point: decl as never, ready_point: { parameters: ['f64', 'f64'], result: { future: point } } as never });
    expect(reads.sort()).toEqual(['future', 'parameters', 'result', 'struct', 'x', 'y']);
    reads.length = 0;
    // a struct result decoded after a wake (the poll runs later, from the hub) and at the first poll
    expect(await (lib.symbols.sleep_point as (...a: unknown[]) => Promise<unknown>)(2, 1, 2)).toEqual({ x: 1, y: 2 });
    expect(await (lib.symbols.ready_point as (...a: unknown[]) => Promise<unknown>)(3, 4)).toEqual({ x: 3, y: 4 });
    expect(reads).toEqual([]);
  });

  it('a getter that throws at open() is reported there', () => {
    const boom = new Error('getter');
    const decl = {
      get parameters(): never {
        throw boom;
      },
      result: 'i32',
    };
    expect(thrown(() => open(PLUGINS.basic, { add: decl as never }))).toBe(boom);
  });
});
