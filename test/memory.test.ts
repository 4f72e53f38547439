// view(pointer, length) and read(pointer, type): plugin-owned memory at a returned address, copied.
import { describe, expect, it } from 'vitest';

import { open, PluginArgumentError, read, view, DeclarationError } from '../src/index.js';
import { PLUGINS, thrown } from './helpers/plugins.js';

const lib = open(PLUGINS.basic, {
  greet_ptr: { name: 'greet', parameters: ['string'], result: 'pointer' },
  basic_free_string: { parameters: ['pointer'], result: 'void' },
});

/** A plugin-allocated "Hello, <name>!\0", freed after `fn`. */
function withGreeting<T>(name: string, fn: (p: bigint) => T): T {
  const p = lib.symbols.greet_ptr(name)!;
  try {
    return fn(p);
  } finally {
    lib.symbols.basic_free_string(p);
  }
}

describe('view', () => {
  it('copies bytes of plugin memory; the copy outlives the memory', () => {
    const bytes = withGreeting('view', (p) => view(p, 12));
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(bytes).toString('latin1')).toBe('Hello, view!');
    expect(withGreeting('x', (p) => view(p, 0))).toEqual(new Uint8Array(0));
  });

  it('refuses null, non-bigint addresses and bad lengths with ERR_PLUGIN_INVALID_ARG', () => {
    for (const [p, n] of [[0n, 1], [null, 1], [5, 1], [-1n, 1], [1n, -1], [1n, 1.5], [1n, 2 ** 31]] as const) {
      const e = thrown(() => view(p as bigint, n));
      expect(e).toBeInstanceOf(PluginArgumentError);
      expect(e).toMatchObject({ code: 'ERR_PLUGIN_INVALID_ARG', symbol: 'view' });
    }
  });
});

describe('read', () => {
  it('decodes scalars and structs (named and tuple) at an address', () => {
    withGreeting('AB', (p) => {
      expect(read(p, 'u32')).toBe(0x6c6c6548); // 'Hell', little-endian
      expect(read(p, 'u8')).toBe(72);
      const t: [number, number, number] = read(p, { struct: ['u8', 'u8', 'u8'] });
      expect(t).toEqual([72, 101, 108]);
      const s: { h: number; rest: number } = read(p, { struct: { h: 'u8', rest: 'u16' } });
      expect(s).toEqual({ h: 72, rest: 0x6c6c }); // u16 at offset 2 ('ll')
      expect(read(p, 'u64')).toBe(0x41202c6f6c6c6548n > BigInt(Number.MAX_SAFE_INTEGER) ? 0x41202c6f6c6c6548n : Number(0x41202c6f6c6c6548n));
    });
  });

  it('refuses a bad type with a DeclarationError and a bad address with ERR_PLUGIN_INVALID_ARG', () => {
    withGreeting('x', (p) => {
      expect(thrown(() => read(p, 'u33' as 'u32'))).toBeInstanceOf(DeclarationError);
      expect(thrown(() => read(p, { struct: [] } as never))).toBeInstanceOf(DeclarationError);
    });
    expect(thrown(() => read(0n, 'u8'))).toMatchObject({ code: 'ERR_PLUGIN_INVALID_ARG', symbol: 'read' });
  });
});
