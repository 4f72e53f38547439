// { buffer: { lengthFrom } } results against rust-fixtures/c/cunion.c: a pointer result copied into
// a Buffer whose length an out parameter (filled by the plugin) or an input parameter gives; null
// for a null pointer; `free` after the copy; a lying length is a typed error, not a crash.
import { describe, expect, it } from 'vitest';

import { DeclarationError, open, PluginResultError } from '../src/index.js';
import { PLUGINS, thrown } from './helpers/plugins.js';

const lib = open(PLUGINS.cunion, {
  cu_bytes: { parameters: ['u32', { out: 'usize' }], result: { buffer: { lengthFrom: 1 } }, free: 'cu_free_bytes' },
  cu_static: { parameters: ['usize'], result: { buffer: { lengthFrom: 0 } } },
  cu_bytes_bad_len: { parameters: [{ out: 'i64' }], result: { buffer: { lengthFrom: 0 } }, free: 'cu_free_bytes' },
  cu_bytes_alive: { parameters: [], result: 'i64' },
});
const s = lib.symbols;

describe('buffer results', () => {
  it('length from an out parameter the plugin fills; a copy, freed by `free`', () => {
    const before = s.cu_bytes_alive();
    const len: { value?: number | bigint } = {};
    const b: Buffer | null = s.cu_bytes(5, len);
    expect(Buffer.isBuffer(b)).toBe(true);
    expect([...b!]).toEqual([0, 1, 2, 3, 4]);
    expect(len.value).toBe(5);
    expect(s.cu_bytes_alive()).toBe(before); // freed after the copy
    const big = s.cu_bytes(300, {})!;
    expect(big.length).toBe(300);
    expect(big[299]).toBe(299 % 256);
  });

  it('a null pointer is null', () => {
    expect(s.cu_bytes(0, {})).toBeNull();
  });

  it('length from an input parameter; no free: borrowed memory is copied', () => {
    const b = s.cu_static(4)!;
    expect(b.toString()).toBe('0123');
    b[0] = 0x41;
    expect(s.cu_static(10)!.toString()).toBe('0123456789');
    expect(s.cu_static(0)!.length).toBe(0);
  });

  it('a length that is no byte count is a PluginResultError, and the pointer is still freed', () => {
    const before = s.cu_bytes_alive();
    const e = thrown(() => s.cu_bytes_bad_len({}));
    expect(e).toBeInstanceOf(PluginResultError);
    expect((e as PluginResultError).code).toBe('ERR_PLUGIN_BAD_RESULT');
    expect((e as Error).message).toContain('is -1');
    expect(s.cu_bytes_alive()).toBe(before);
  });

  it('declarations that cannot work are refused at open()', () => {
    const refused = (decl: object, text: string) => {
      const e = thrown(() => open(PLUGINS.cunion, { cu_bytes: decl } as never));
      expect(e).toBeInstanceOf(DeclarationError);
      expect((e as Error).message).toContain(text);
    };
    refused({ parameters: ['u32'], result: { buffer: { lengthFrom: 1 } } }, 'must be the index of a parameter');
    refused({ parameters: ['f64'], result: { buffer: { lengthFrom: 0 } } }, 'must be an integer or an { out: integer }');
    refused({ parameters: [{ out: 'f64' }], result: { buffer: { lengthFrom: 0 } } }, 'must be an integer or an { out: integer }');
    refused({ parameters: ['u32'], result: { buffer: { length: 0 } } }, "unknown key 'length'");
    refused({ parameters: ['u32'], result: { buffer: 4 } }, 'takes { lengthFrom');
    refused({ parameters: ['u32'], result: { future: { buffer: { lengthFrom: 0 } } } }, 'for synchronous calls only');
    refused({ parameters: ['u32'], result: { stream: { buffer: { lengthFrom: 0 } } } }, 'for synchronous calls only');
    refused({ parameters: ['u32'], result: 'pointer', free: 'cu_free_bytes' }, "'free' applies to a 'string' or { buffer } result only");
  });
});
