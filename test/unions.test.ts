// C unions ({ union: { ... } }) against rust-fixtures/c/cunion.c: by value, as a struct field, as a
// pointee, in out/inout boxes, as a sync and a future result, through read(); exactly one member
// in, every member out; what is not supported refused at open().
import { describe, expect, it } from 'vitest';

import { DeclarationError, open, PluginArgumentError, read } from '../src/index.js';
import { PLUGINS, thrown } from './helpers/plugins.js';

const Num = { union: { i: 'i32', f: 'f64' } } as const;
const Tagged = { struct: { tag: 'u8', num: Num } } as const;
const lib = open(PLUGINS.cunion, {
  cu_make_i32: { parameters: ['i32'], result: Num },
  cu_make_f64: { parameters: ['f64'], result: Num },
  cu_get_i32: { parameters: [Num], result: 'i32' },
  cu_get_f64: { parameters: [Num], result: 'f64' },
  cu_tagged_value: { parameters: [Tagged], result: 'f64' },
  cu_tagged_make: { parameters: ['u8', 'f64'], result: Tagged },
  cu_ptr_f64: { parameters: [{ pointer: Num }], result: 'f64' },
  cu_set_i32: { parameters: [{ inout: Num }, 'i32'], result: 'void' },
  cu_set_i32_out: { name: 'cu_set_i32', parameters: [{ out: Num }, 'i32'], result: 'void' },
  cu_ready_num: { parameters: ['f64'], result: { future: Num } },
  cu_make_f64_ptr: { name: 'cu_bytes', parameters: ['u32', { out: 'usize' }], result: 'pointer' },
  cu_free_bytes: { parameters: ['pointer'], result: 'void' },
});
const s = lib.symbols;

/** The bytes of an f64, read as the little-endian i32 of its low half (what a C union gives). */
function lowI32(f: number): number {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, f, true);
  return b.getInt32(0, true);
}

describe('unions', () => {
  it('a result: every member decoded from the same bytes', () => {
    const a: { i: number; f: number } = s.cu_make_i32(42);
    expect(a.i).toBe(42);
    expect(a).toEqual({ i: 42, f: new Float64Array(new Int32Array([42, 0]).buffer)[0] });
    const b = s.cu_make_f64(1.75);
    expect(b).toEqual({ f: 1.75, i: lowI32(1.75) });
    expect(Object.getPrototypeOf(b)).toBe(Object.prototype); // a plain object, not koffi's lazy Union
  });

  it('a parameter by value: the one member set', () => {
    expect(s.cu_get_i32({ i: -7 })).toBe(-7);
    expect(s.cu_get_f64({ f: 2.5 })).toBe(2.5);
    expect(s.cu_get_f64({ f: 2.5, i: undefined })).toBe(2.5);
  });

  it('a struct field, in and out', () => {
    expect(s.cu_tagged_value({ tag: 0, num: { i: 12 } })).toBe(12);
    expect(s.cu_tagged_value({ tag: 1, num: { f: 0.5 } })).toBe(0.5);
    const t: { tag: number; num: { i: number; f: number } } = s.cu_tagged_make(1, 3.25);
    expect(t).toEqual({ tag: 1, num: { f: 3.25, i: lowI32(3.25) } });
    expect(s.cu_tagged_make(0, 9).num.i).toBe(9);
  });

  it('a pointee, and inout/out boxes', () => {
    expect(s.cu_ptr_f64({ f: 6.5 })).toBe(6.5);
    const box = { value: { f: 1.5 } };
    s.cu_set_i32(box, 5);
    // The plugin wrote the low four bytes; the high four are 1.5's.
    const v = box.value as unknown as { i: number; f: number };
    // What comes back has every member set: passing it in again is refused (exactly one member).
    expect(thrown(() => s.cu_set_i32(box, 1))).toBeInstanceOf(PluginArgumentError);
    expect(v.i).toBe(5);
    expect(v.f).toBe(new Float64Array(new Int32Array([5, new Int32Array(new Float64Array([1.5]).buffer)[1]!]).buffer)[0]);
    const out: { value?: { i: number; f: number } } = {};
    s.cu_set_i32_out(out, -3);
    // An out box starts as zeros over the whole union (its largest member).
    expect(out.value).toEqual({ i: -3, f: new Float64Array(new Int32Array([-3, 0]).buffer)[0] });
  });

  it('a future result (koffi decodes FfiPoll<union>)', async () => {
    const r: { i: number; f: number } = await s.cu_ready_num(-4.5);
    expect(r).toEqual({ f: -4.5, i: lowI32(-4.5) });
  });

  it('read() decodes a union at an address', () => {
    const len: { value?: number | bigint } = {};
    const p = s.cu_make_f64_ptr(8, len)!;
    try {
      // bytes 0..7: i = 0x03020100
      expect(read(p, Num).i).toBe(0x03020100);
      expect(read(p, { struct: [{ union: { a: 'u8', b: 'u16' } }, 'u8'] })).toEqual([{ a: 0, b: 0x0100 }, 2]);
    } finally {
      s.cu_free_bytes(p);
    }
  });

  it('none, several, or a wrong member is a PluginArgumentError naming the members', () => {
    for (const bad of [{}, { i: 1, f: 2 }, { i: 1.5 }, { f: '1' }, { x: 1 }, null, 3, [1]]) {
      const e = thrown(() => s.cu_get_i32(bad as never));
      expect(e).toBeInstanceOf(PluginArgumentError);
      expect((e as Error).message).toContain("exactly one of 'i', 'f' set");
    }
    expect(thrown(() => s.cu_tagged_value({ tag: 0, num: { i: 1, f: 1 } } as never))).toBeInstanceOf(PluginArgumentError);
    expect((thrown(() => s.cu_ptr_f64({} as never)) as Error).message).toContain("exactly one of 'i', 'f' set");
  });

  it('each member is read once (a getter cannot change what was checked)', () => {
    let reads = 0;
    const v = {
      get f() {
        reads++;
        return reads === 1 ? 1.25 : 'not a number';
      },
    };
    expect(s.cu_get_f64(v as never)).toBe(1.25);
    expect(reads).toBe(1);
  });

  it('declarations that cannot work are refused at open()', () => {
    const refused = (decl: object, text: string) => {
      const e = thrown(() => open(PLUGINS.cunion, { cu_get_i32: decl } as never));
      expect(e).toBeInstanceOf(DeclarationError);
      expect((e as Error).message).toContain(text);
    };
    refused({ parameters: [{ union: {} }], result: 'void' }, 'at least one member');
    refused({ parameters: [{ union: ['i32'] }], result: 'void' }, 'object of named members');
    refused({ parameters: [{ union: { a: 'i33' } }], result: 'void' }, "unknown value type 'i33'");
    refused({ parameters: [{ union: { a: 'i32' }, struct: ['i32'] }], result: 'void' }, 'exactly one of the keys');
    refused({ parameters: [], result: { stream: Num } }, 'union T is not supported yet');
    refused({ parameters: [{ function: { parameters: [Num], result: 'void' } }], result: 'void' }, 'cannot take or return a union');
    refused({ parameters: [{ function: { parameters: [], result: Num } }], result: 'void' }, 'cannot take or return a union');
    const self: { union: Record<string, unknown> } = { union: {} };
    self.union.me = self;
    refused({ parameters: [self], result: 'void' }, 'contains itself');
  });
});
