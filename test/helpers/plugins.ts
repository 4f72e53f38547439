// The fixture plugins the open/sync/panic tests use (test/helpers/fixtures.ts), the declarations of
// libbasic's exports, and small file helpers for the open/sync/panic tests.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { FIXTURES } from './fixtures.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const PLUGINS = {
  /** crate-type = ["cdylib"]: std linked in, no Rust NEEDED. */
  basic: FIXTURES.basic,
  /** The same source as a Rust dylib built with -C prefer-dynamic: NEEDED libstd-<hash>.so. */
  basicDylib: FIXTURES.basic_dylib,
  /** Plain C: c_add(int, int), c_mul(double, double), c_name(). */
  cplugin: FIXTURES.cplugin,
  /** Plain C: unions and { buffer } results (rust-fixtures/c/cunion.c). */
  cunion: FIXTURES.cunion,
} as const;

/** A fresh private temp dir (mkdtemp makes it 0700). */
export function tempDir(prefix = 'rustplug-t-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cc(args: string[], cwd: string): void {
  execFileSync('cc', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function copyTo(src: string, dst: string, mode = 0o755): string {
  copyFileSync(src, dst);
  chmodSync(dst, mode);
  return dst;
}

/** Copies the first `length` bytes of `src`. */
export function truncatedCopy(src: string, dst: string, length: number): string {
  writeFileSync(dst, readFileSync(src).subarray(0, length), { mode: 0o755 });
  return dst;
}

/** Copies `src` with a little-endian u16 written at `offset`. */
export function patchedU16Copy(src: string, dst: string, offset: number, value: number): string {
  const buf = readFileSync(src);
  buf.writeUInt16LE(value, offset);
  writeFileSync(dst, buf, { mode: 0o755 });
  return dst;
}

/** Calls fn and returns what it threw; fails when it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** Awaits p and returns what it rejected with; fails when it resolves. */
export async function rejected(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the promise to reject, but it resolved');
    },
    (e: unknown) => e,
  );
}

const point = { struct: { x: 'f64', y: 'f64' } } as const;
const mixedTuple = { struct: ['u8', 'i32', 'u64', 'f32'] } as const;
const mixedNamed = { struct: { a: 'u8', b: 'i32', c: 'u64', d: 'f32' } } as const;

/** Every export of rust-fixtures/basic/src/lib.rs, declared. */
export const basicDecls = {
  add: { parameters: ['i32', 'i32'], result: 'i32' },
  scale: { parameters: ['f64', 'f64'], result: 'f64' },
  greet: { parameters: ['string'], result: 'string', free: 'basic_free_string' },
  /** greet, but the result is left alone (borrowed): it leaks unless freed by hand. */
  greet_borrowed: { name: 'greet', parameters: ['string'], result: 'string' },
  greet_ptr: { name: 'greet', parameters: ['string'], result: 'pointer' },
  basic_free_string: { parameters: ['pointer'], result: 'void' },
  strings_alive: { parameters: [], result: 'i64' },
  version: { parameters: [], result: 'string' },
  str_len: { parameters: ['string'], result: 'usize' },
  echo_i8: { parameters: ['i8'], result: 'i8' },
  echo_u8: { parameters: ['u8'], result: 'u8' },
  echo_i16: { parameters: ['i16'], result: 'i16' },
  echo_u16: { parameters: ['u16'], result: 'u16' },
  echo_i32: { parameters: ['i32'], result: 'i32' },
  echo_u32: { parameters: ['u32'], result: 'u32' },
  echo_i64: { parameters: ['i64'], result: 'i64' },
  echo_u64: { parameters: ['u64'], result: 'u64' },
  echo_isize: { parameters: ['isize'], result: 'isize' },
  echo_usize: { parameters: ['usize'], result: 'usize' },
  echo_f32: { parameters: ['f32'], result: 'f32' },
  echo_f64: { parameters: ['f64'], result: 'f64' },
  echo_bool: { parameters: ['bool'], result: 'bool' },
  echo_pointer: { parameters: ['pointer'], result: 'pointer' },
  not_bool: { parameters: ['bool'], result: 'bool' },
  u64_max: { parameters: [], result: 'u64' },
  i64_min: { parameters: [], result: 'i64' },
  sum_bytes: { parameters: ['buffer', 'usize'], result: 'u64' },
  fill_bytes: { parameters: ['buffer', 'usize', 'u8'], result: 'void' },
  point_len: { parameters: [point], result: 'f64' },
  point_add: { parameters: [point, point], result: point },
  point_scale_in_place: { parameters: [{ inout: point }, 'f64'], result: 'void' },
  point_norm_ptr: { parameters: [{ pointer: point }], result: 'f64' },
  /** point_scale_in_place seen as an out parameter: the box's prior value (or zeros) goes in. */
  point_scale_out: { name: 'point_scale_in_place', parameters: [{ out: point }, 'f64'], result: 'void' },
  point_scale_out_tuple: { name: 'point_scale_in_place', parameters: [{ out: { struct: ['f64', 'f64'] } }, 'f64'], result: 'void' },
  mixed_make: { parameters: ['u8', 'i32', 'u64', 'f32'], result: mixedTuple },
  mixed_make_named: { name: 'mixed_make', parameters: ['u8', 'i32', 'u64', 'f32'], result: mixedNamed },
  mixed_sum: { parameters: [mixedTuple], result: 'f64' },
  mixed_sum_named: { name: 'mixed_sum', parameters: [mixedNamed], result: 'f64' },
  divmod: { parameters: ['i32', 'i32', { out: 'i32' }, { out: 'i32' }], result: 'bool' },
  apply_twice: { parameters: [{ function: { parameters: ['i32'], result: 'i32' } }, 'i32'], result: 'i32' },
  call_n: { parameters: [{ function: { parameters: ['u32'], result: 'void' } }, 'u32'], result: 'void' },
  sum_with: { parameters: [{ function: { parameters: ['f64', 'f64'], result: 'f64' } }, 'f64', 'f64'], result: 'f64' },
  point_map: { parameters: [{ function: { parameters: [point], result: point } }, point], result: point },
  point_map_tuple: {
    name: 'point_map',
    parameters: [{ function: { parameters: [{ struct: ['f64', 'f64'] }], result: { struct: ['f64', 'f64'] } } }, { struct: ['f64', 'f64'] }],
    result: { struct: ['f64', 'f64'] },
  },
  f64_ptr_inc: { parameters: [{ pointer: 'f64' }], result: 'f64' },
  caught_panic: { parameters: [], result: 'i32' },
} as const;
