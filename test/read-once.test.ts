// Every argument is read exactly once: structs, pointees and out/inout boxes are validated and
// copied in one pass, and koffi only sees that copy. A getter that answers differently the second
// time (or throws) used to reach koffi, which crashed the process; those run in a child process.
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { open, PluginArgumentError } from '../src/index.js';
import { asyncPluginPath, runNode, workersDir } from './helpers/async-fixture.js';
import { PLUGINS, thrown } from './helpers/plugins.js';

const P = { struct: { x: 'f64', y: 'f64' } } as const;
const decls = {
  point_len: { parameters: [P], result: 'f64' },
  point_len_nested: { name: 'point_len', parameters: [{ struct: { x: { struct: ['f64'] }, y: { struct: ['f64'] } } }], result: 'f64' },
  point_norm_ptr: { parameters: [{ pointer: P }], result: 'f64' },
  point_scale_in_place: { parameters: [{ inout: P }, 'f64'], result: 'void' },
  point_scale_out: { name: 'point_scale_in_place', parameters: [{ out: P }, 'f64'], result: 'void' },
  mixed_sum: { parameters: [{ struct: ['u8', 'i32', 'u64', 'f32'] }], result: 'f64' },
  divmod: { parameters: ['i32', 'i32', { out: 'i32' }, { inout: 'i32' }], result: 'bool' },
} as const;
const asyncDecls = {
  point_len_after: { parameters: ['u32', P], result: { future: 'f64' } },
  ready_pointer: { parameters: [{ pointer: P }], result: { future: 'pointer' } },
  futures_alive: { parameters: [], result: 'i64' },
} as const;

let lib: ReturnType<typeof open<typeof decls>>;
let plugin: ReturnType<typeof open<typeof asyncDecls>>;

beforeAll(() => {
  lib = open(PLUGINS.basic, decls);
  plugin = open(asyncPluginPath, asyncDecls);
});
afterAll(() => {
  lib?.close();
  plugin?.close();
});

/** `target` behind a Proxy that counts every property read, by key. */
function counted<T extends object>(target: T): { value: T; reads: Map<PropertyKey, number> } {
  const reads = new Map<PropertyKey, number>();
  const value = new Proxy(target, {
    get(t, k, r) {
      reads.set(k, (reads.get(k) ?? 0) + 1);
      return Reflect.get(t, k, r);
    },
  });
  return { value, reads };
}

describe('each field is read once', () => {
  it('a struct by value, named, nested and tuple', () => {
    const p = counted({ x: 3, y: 4 });
    expect(lib.symbols.point_len(p.value)).toBe(5);
    expect(Object.fromEntries(p.reads)).toEqual({ x: 1, y: 1 });

    const inner = counted([3]);
    const outer = counted({ x: inner.value, y: [4] });
    expect(lib.symbols.point_len_nested(outer.value as never)).toBe(5);
    expect(Object.fromEntries(outer.reads)).toEqual({ x: 1, y: 1 });
    expect(inner.reads.get(0 as never) ?? inner.reads.get('0')).toBe(1);

    const m = counted([1, -2, 3n, 0.5]);
    expect(lib.symbols.mixed_sum(m.value as never)).toBe(2.5);
    // length once, each index once (no iteration protocol)
    expect(Object.fromEntries(m.reads)).toEqual({ length: 1, 0: 1, 1: 1, 2: 1, 3: 1 });
  });

  it('a pointee and the boxes of out/inout parameters', () => {
    const p = counted({ x: 6, y: 8 });
    expect(lib.symbols.point_norm_ptr(p.value)).toBe(10);
    expect(Object.fromEntries(p.reads)).toEqual({ x: 1, y: 1 });

    const pt = counted({ x: 1, y: -2 });
    const box = counted<{ value?: { x: number; y: number } }>({ value: pt.value });
    lib.symbols.point_scale_in_place(box.value, 3);
    expect(box.reads.get('value')).toBe(1);
    expect(Object.fromEntries(pt.reads)).toEqual({ x: 1, y: 1 });
    expect(box.value.value).toEqual({ x: 3, y: -6 });

    const out = counted<{ value?: { x: number; y: number } }>({ value: { x: 1, y: 2 } });
    lib.symbols.point_scale_out(out.value, 2);
    expect(out.reads.get('value')).toBe(1);
    expect(out.value.value).toEqual({ x: 2, y: 4 });

    const q = counted<{ value?: number }>({});
    const r = counted<{ value?: number }>({ value: 0 });
    expect(lib.symbols.divmod(7, 2, q.value, r.value)).toBe(true);
    expect([q.reads.get('value'), r.reads.get('value')]).toEqual([1, 1]);
    expect([q.value.value, r.value.value]).toEqual([3, 1]);
  });

  it('a future: struct by value and pointee', async () => {
    const p = counted({ x: 3, y: 4 });
    expect(await plugin.symbols.point_len_after(1, p.value)).toBe(5);
    expect(Object.fromEntries(p.reads)).toEqual({ x: 1, y: 1 });
    const q = counted({ x: 3, y: 4 });
    expect(typeof (await plugin.symbols.ready_pointer(q.value))).toBe('bigint');
    expect(Object.fromEntries(q.reads)).toEqual({ x: 1, y: 1 });
  });

  it('an invalid field stops the read there and names the parameter', () => {
    const p = counted({ x: 'no' as unknown as number, y: 4 });
    const e = thrown(() => lib.symbols.point_len(p.value));
    expect(e).toBeInstanceOf(PluginArgumentError);
    expect((e as Error).message).toMatch(/parameter 0 \(struct \{x: f64, y: f64\}\)/);
    expect(Object.fromEntries(p.reads)).toEqual({ x: 1 });
  });
});

describe('getters that change on a second read cannot reach koffi (child process)', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['sync-struct-throw', { outcome: 'returned', value: 5 }],
    ['sync-struct-type', { outcome: 'returned', value: 5 }],
    ['sync-pointer-throw', { outcome: 'returned', value: 5 }],
    ['sync-inout-throw', { outcome: 'returned', value: 6 }],
    ['sync-tuple-throw', { outcome: 'returned', value: 10 }],
    // koffi alone takes a bare number for a scalar pointer as an address; the wrapper copies it in
    ['sync-scalar-pointer', { outcome: 'returned', value: 6 }],
    ['future-struct-throw', { outcome: 'resolved', value: 5 }],
    ['future-struct-type', { outcome: 'resolved', value: 5 }],
    ['future-pointer-throw', { outcome: 'resolved', value: 'bigint' }],
  ];
  it.each(cases)('%s', async (name, expected) => {
    const r = await runNode(join(workersDir, 'hostile-args.mjs'), [PLUGINS.basic, asyncPluginPath, name]);
    expect({ signal: r.signal, code: r.code, stderr: r.stderr }).toEqual({ signal: null, code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toEqual({ case: name, ...expected });
  }, 20_000); // longer than runNode's kill timer: a hung child is always killed
});
