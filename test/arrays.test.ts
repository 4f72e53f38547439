// Fixed-length arrays ({ array: T, length: N }): struct fields (by value, in results, nested),
// parameters (passed as a pointer to a copy, as C does), pointees, out boxes, futures' arguments,
// read(); and what C cannot do (an array returned by value) refused at open().
import { describe, expect, it } from 'vitest';

import { DeclarationError, open, PluginArgumentError, read } from '../src/index.js';
import { asyncPluginPath } from './helpers/async-fixture.js';
import { PLUGINS, thrown } from './helpers/plugins.js';

const XY = { struct: { xy: { array: 'f64', length: 2 } } } as const satisfies { struct: object };
const lib = open(PLUGINS.basic, {
  sum4: { name: 'sum_bytes', parameters: [{ array: 'u8', length: 4 }, 'usize'], result: 'u64' },
  sum_tagged: { name: 'sum_bytes', parameters: [{ pointer: { struct: { tag: 'u8', data: { array: 'u8', length: 3 } } } }, 'usize'], result: 'u64' },
  fill4: { name: 'fill_bytes', parameters: [{ out: { array: 'u8', length: 4 } }, 'usize', 'u8'], result: 'void' },
  // Point { x: f64, y: f64 } has the layout of a struct holding [f64; 2].
  point_add: { parameters: [XY, XY], result: XY },
  greet_ptr: { name: 'greet', parameters: ['string'], result: 'pointer' },
  basic_free_string: { parameters: ['pointer'], result: 'void' },
});

describe('arrays', () => {
  it('as a parameter: a pointer to a copy of the JS array or TypedArray', () => {
    expect(lib.symbols.sum4([1, 2, 3, 4], 4)).toBe(10);
    expect(lib.symbols.sum4(new Uint8Array([10, 20, 30, 40]), 4)).toBe(100);
  });

  it('inside a struct, by value and as a result', () => {
    const r: { xy: number[] } = lib.symbols.point_add({ xy: [1, 2] }, { xy: [3, 4] });
    expect(r).toEqual({ xy: [4, 6] });
  });

  it('inside a pointee struct, and in an out box', () => {
    expect(lib.symbols.sum_tagged({ tag: 1, data: [2, 3, 4] }, 4)).toBe(10);
    const box: { value?: number[] } = {};
    lib.symbols.fill4(box, 4, 7);
    expect(box.value).toEqual([7, 7, 7, 7]);
    const inout = { value: [1, 2, 3, 4] };
    lib.symbols.fill4(inout, 2, 9);
    expect(inout.value).toEqual([9, 9, 3, 4]);
  });

  it('read() decodes arrays, alone and in structs', () => {
    const p = lib.symbols.greet_ptr('AB')!;
    try {
      expect(read(p, { array: 'u8', length: 5 })).toEqual([72, 101, 108, 108, 111]);
      expect(read(p, { struct: { h: 'u8', rest: { array: 'u8', length: 2 } } })).toEqual({ h: 72, rest: [101, 108] });
      expect(read(p, { array: { struct: ['u8', 'u8'] }, length: 2 })).toEqual([[72, 101], [108, 108]]);
    } finally {
      lib.symbols.basic_free_string(p);
    }
  });

  it('a wrong length, element or container is a PluginArgumentError, and the plugin is not called', () => {
    for (const bad of [[1, 2, 3], [1, 2, 3, 4, 5], [1, 2, 3, 256], [1, 2, 3, '4'], new Uint16Array(4).subarray(0, 3), new DataView(new ArrayBuffer(4)), { length: 4 }, null]) {
      const e = thrown(() => lib.symbols.sum4(bad as number[], 4));
      expect(e).toBeInstanceOf(PluginArgumentError);
      expect((e as Error).message).toContain('an array of 4 u8');
    }
  });

  it('declarations C cannot express are refused at open()', () => {
    const refused = (decl: object, text: string) => {
      const e = thrown(() => open(PLUGINS.basic, { add: decl } as never));
      expect(e).toBeInstanceOf(DeclarationError);
      expect((e as Error).message).toContain(text);
    };
    refused({ parameters: [], result: { array: 'u8', length: 2 } }, 'cannot return an array by value');
    refused({ parameters: [], result: { future: { array: 'u8', length: 2 } } }, 'cannot take or return an array');
    refused({ parameters: [{ array: 'u8', length: 0 }], result: 'void' }, 'length must be an integer in [1,');
    refused({ parameters: [{ array: 'u8', length: 2.5 }], result: 'void' }, 'length must be an integer');
    refused({ parameters: [{ array: 'u8' }], result: 'void' }, 'length must be an integer');
    refused({ parameters: [{ struct: ['u8'], length: 2 }], result: 'void' }, "'length' goes with 'array'");
    refused({ parameters: [{ array: 'u9', length: 2 }], result: 'void' }, "unknown value type 'u9'");
    refused({ parameters: [{ function: { parameters: [{ array: 'u8', length: 2 }], result: 'void' } }], result: 'void' }, 'cannot take or return an array');
  });
});

describe('arrays and futures', () => {
  const plugin = open(asyncPluginPath, {
    // fetch_len(url: *const c_char): the bytes of a NUL-terminated string, passed as [u8; 6].
    fetch_len: { parameters: [{ array: 'u8', length: 6 }], result: { future: 'u64' } },
    point_len_after: { parameters: ['u32', XY], result: { future: 'f64' } },
  });

  it('an array argument stays valid while the future is pending; a struct with an array by value', async () => {
    expect(await plugin.symbols.fetch_len([104, 101, 108, 108, 111, 0])).toBe(5); // read after a 1 ms sleep
    expect(await plugin.symbols.point_len_after(1, { xy: [3, 4] })).toBe(5);
  });

  it('a bad array argument rejects (an async call never throws)', async () => {
    await expect(plugin.symbols.fetch_len([1, 2])).rejects.toBeInstanceOf(PluginArgumentError);
  });
});
