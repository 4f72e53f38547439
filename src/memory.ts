// Reading plugin-owned memory at an address a plugin returned: view(pointer, length) copies bytes
// out, read(pointer, type) decodes one value of a declared type (scalar, struct). Both copy: the JS
// value stays valid after the plugin frees or reuses its memory. The address must be valid for the
// bytes read; rustplug cannot check that (a wrong address crashes the process, as in C).
import koffi from 'koffi';

import { PluginArgumentError } from './errors.js';
import { describe, koffiOf, TypeReader } from './ir.js';
import { decoderOf } from './snapshot.js';
import type { ResultValue, ValueType } from './types.js';
import './abi.js'; // koffi's call-stack setup (koffi.load(null)) before koffi.decode

/** Largest view(): a plain Uint8Array copy. */
const MAX_VIEW = 2 ** 31 - 1;

function address(fn: string, pointer: unknown): bigint {
  if (typeof pointer !== 'bigint' || BigInt.asUintN(64, pointer) !== pointer) {
    throw new PluginArgumentError(fn, `${fn}(pointer, ...): pointer must be a bigint address (as a 'pointer' result returns), got ${pointer === null ? 'null' : typeof pointer}`);
  }
  if (pointer === 0n) throw new PluginArgumentError(fn, `${fn}(pointer, ...): pointer is null (0n); check for null before reading`);
  return pointer;
}

/** A copy of `length` bytes of plugin memory at `pointer`. */
export function view(pointer: bigint, length: number): Uint8Array {
  const p = address('view', pointer);
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || length > MAX_VIEW) {
    throw new PluginArgumentError('view', `view(pointer, length): length must be an integer in [0, ${MAX_VIEW}], got ${typeof length === 'number' ? length : typeof length}`);
  }
  if (length === 0) return new Uint8Array(0);
  return new Uint8Array(koffi.view(p, length).slice(0));
}

/** The value of a declared type (e.g. 'u32', { struct: { x: 'f64', y: 'f64' } }) at `pointer`, copied. */
export function read<const T extends ValueType>(pointer: bigint, type: T): ResultValue<T> {
  const p = address('read', pointer);
  const t = new TypeReader().value(type, 'read(pointer, type)');
  let k: unknown;
  try {
    k = koffi.decode(p, koffiOf(t));
  } catch (cause) {
    throw new PluginArgumentError('read', `read(pointer, ${describe(t)}): ${(cause as Error).message}`);
  }
  const decode = decoderOf(t);
  return (decode === undefined ? k : decode(k)) as ResultValue<T>;
}
