// The declaration compiler: turns each declared type into its koffi type, a validity check and
// (for tuple structs) the conversion between JS arrays and koffi's objects. One table per fact.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

/** Anything koffi accepts where a type goes. */
export type KoffiSpec = string | TypeObject | ReturnType<typeof koffi.out>;

import { DeclarationError } from './errors.js';
import type { ParameterType, ResultType, StructType, ValueType } from './types.js';

interface Scalar {
  koffi: string;
  /** JS source of a check that `v` is a valid value, or null for a generated one below. */
  check: (v: string) => string;
  expect: string;
}

const int = (bits: number, signed: boolean): Scalar => {
  const lo = signed ? -(2 ** (bits - 1)) : 0;
  const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const c: Record<string, (v: string) => string> = {
    i8: (v) => `(${v} << 24 >> 24) === ${v}`,
    u8: (v) => `(${v} & 255) === ${v}`,
    i16: (v) => `(${v} << 16 >> 16) === ${v}`,
    u16: (v) => `(${v} & 65535) === ${v}`,
    i32: (v) => `(${v} | 0) === ${v}`,
    u32: (v) => `(${v} >>> 0) === ${v}`,
  };
  const name = `${signed ? 'i' : 'u'}${bits}`;
  const inRange = c[name]!;
  return {
    koffi: `${signed ? '' : 'u'}int${bits}_t`,
    // typeof first: the bit operators would coerce (valueOf) or throw (BigInt, Symbol).
    check: (v) => `(typeof ${v} === 'number' && ${inRange(v)})`,
    expect: `an integer in [${lo}, ${hi}]`,
  };
};

const int64 = (signed: boolean, koffiName: string): Scalar => ({
  koffi: koffiName,
  check: signed
    ? (v) => `(typeof ${v} === 'number' ? Number.isSafeInteger(${v}) : typeof ${v} === 'bigint' && BigInt.asIntN(64, ${v}) === ${v})`
    : (v) =>
        `(typeof ${v} === 'number' ? Number.isSafeInteger(${v}) && ${v} >= 0 : typeof ${v} === 'bigint' && BigInt.asUintN(64, ${v}) === ${v})`,
  expect: signed
    ? 'a safe integer number or a bigint in the signed 64-bit range'
    : 'a non-negative safe integer number or a bigint in the unsigned 64-bit range',
});

const pointerCheck = (v: string) => `(${v} === null || (typeof ${v} === 'bigint' && BigInt.asUintN(64, ${v}) === ${v}))`;

const scalars: Record<string, Scalar> = {
  i8: int(8, true),
  u8: int(8, false),
  i16: int(16, true),
  u16: int(16, false),
  i32: int(32, true),
  u32: int(32, false),
  i64: int64(true, 'int64_t'),
  u64: int64(false, 'uint64_t'),
  isize: int64(true, 'intptr_t'),
  usize: int64(false, 'uintptr_t'),
  f32: { koffi: 'float', check: (v) => `typeof ${v} === 'number'`, expect: 'a number' },
  f64: { koffi: 'double', check: (v) => `typeof ${v} === 'number'`, expect: 'a number' },
  bool: { koffi: 'bool', check: (v) => `typeof ${v} === 'boolean'`, expect: 'a boolean' },
  pointer: { koffi: 'void *', check: pointerCheck, expect: 'a bigint address or null' },
  function: { koffi: 'void *', check: pointerCheck, expect: 'a bigint function address or null' },
};
// Null prototype: a type name like 'constructor' or 'toString' must not find Object.prototype's.
export const SCALARS: Readonly<Record<string, Scalar>> = Object.assign(Object.create(null) as Record<string, Scalar>, scalars);

export function isStruct(t: unknown): t is StructType {
  return typeof t === 'object' && t !== null && 'struct' in t;
}

function structFields(t: StructType): [string, ValueType][] {
  const f = t.struct;
  return Array.isArray(f) ? f.map((ft, i) => [`f${i}`, ft]) : Object.entries(f as Record<string, ValueType>);
}

export function describe(t: unknown): string {
  if (typeof t === 'string') return t;
  if (isStruct(t)) {
    const f = t.struct;
    return Array.isArray(f)
      ? `struct [${f.map(describe).join(', ')}]`
      : `struct {${Object.entries(f as Record<string, unknown>).map(([k, v]) => `${k}: ${describe(v)}`).join(', ')}}`;
  }
  if (typeof t === 'object' && t !== null) {
    const [k, v] = Object.entries(t)[0] ?? ['?', '?'];
    if (k === 'function') return 'function(...)';
    return `${k} ${describe(v)}`;
  }
  return String(t);
}

const structCache = new WeakMap<object, TypeObject>();

/** The koffi type of a value type (scalar or struct). */
export function koffiValueType(t: ValueType, where: string): KoffiSpec {
  if (typeof t === 'string') {
    const s = SCALARS[t];
    if (!s || (t as string) === 'function') throw new DeclarationError(`${where}: unknown value type '${t}' (expected one of ${Object.keys(SCALARS).join(', ')} or { struct: [...] })`);
    return s.koffi;
  }
  if (!isStruct(t) || typeof t.struct !== 'object' || t.struct === null) {
    throw new DeclarationError(`${where}: expected a type name or { struct: [...] }, got ${JSON.stringify(t)}`);
  }
  let k = structCache.get(t);
  if (!k) {
    const fields = structFields(t);
    if (fields.length === 0) throw new DeclarationError(`${where}: a struct needs at least one field (a zero-sized repr(C) struct has no C equivalent)`);
    const def: Record<string, KoffiSpec> = {};
    for (const [name, ft] of fields) def[name] = koffiValueType(ft, `${where}.${name}`);
    k = koffi.struct(def);
    structCache.set(t, k);
  }
  return k;
}

/** True when a value of type t must be converted between JS arrays and koffi objects. */
export function hasTuple(t: unknown): boolean {
  if (!isStruct(t)) return false;
  if (Array.isArray(t.struct)) return true;
  return Object.values(t.struct).some(hasTuple);
}

export function isValidValue(t: ValueType, v: unknown): boolean {
  if (typeof t === 'string') {
    switch (t) {
      case 'i8': return typeof v === 'number' && ((v << 24) >> 24) === v;
      case 'u8': return typeof v === 'number' && (v & 255) === v;
      case 'i16': return typeof v === 'number' && ((v << 16) >> 16) === v;
      case 'u16': return typeof v === 'number' && (v & 65535) === v;
      case 'i32': return typeof v === 'number' && (v | 0) === v;
      case 'u32': return typeof v === 'number' && v >>> 0 === v;
      case 'i64': case 'isize':
        return typeof v === 'number' ? Number.isSafeInteger(v) : typeof v === 'bigint' && BigInt.asIntN(64, v) === v;
      case 'u64': case 'usize':
        return typeof v === 'number' ? Number.isSafeInteger(v) && v >= 0 : typeof v === 'bigint' && BigInt.asUintN(64, v) === v;
      case 'f32': case 'f64': return typeof v === 'number';
      case 'bool': return typeof v === 'boolean';
      case 'pointer': return v === null || (typeof v === 'bigint' && BigInt.asUintN(64, v) === v);
      default: return false;
    }
  }
  if (typeof v !== 'object' || v === null) return false;
  const f = t.struct;
  if (Array.isArray(f)) {
    return Array.isArray(v) && v.length === f.length && f.every((ft, i) => isValidValue(ft, v[i]));
  }
  return Object.entries(f as Record<string, ValueType>).every(([k, ft]) => isValidValue(ft, (v as Record<string, unknown>)[k]));
}

/** JS value → what koffi expects (tuple structs become {f0, f1, ...}). */
export function toKoffi(t: ValueType, v: unknown): unknown {
  if (!isStruct(t)) return v;
  const f = t.struct;
  const out: Record<string, unknown> = {};
  if (Array.isArray(f)) {
    const arr = v as unknown[];
    for (let i = 0; i < f.length; i++) out[`f${i}`] = toKoffi(f[i]!, arr[i]);
  } else {
    for (const [k, ft] of Object.entries(f as Record<string, ValueType>)) out[k] = toKoffi(ft, (v as Record<string, unknown>)[k]);
  }
  return out;
}

const INT64: ReadonlySet<string> = new Set(['i64', 'u64', 'isize', 'usize']);

/** True for i64/u64/isize/usize: koffi returns ±2^53 as a number, the API a bigint (|v| > 2^53−1). */
export function is64(t: unknown): boolean {
  return typeof t === 'string' && INT64.has(t);
}

/** True when a koffi value of type t needs fromKoffi: tuple structs, and 64-bit integers anywhere. */
export function needsFromKoffi(t: unknown): boolean {
  if (!isStruct(t)) return is64(t);
  return Array.isArray(t.struct) || Object.values(t.struct).some(needsFromKoffi);
}

/** A zero of type t, in JS form (0, false, null, or a struct of zeros). */
export function zeroValue(t: ValueType): unknown {
  if (!isStruct(t)) return t === 'bool' ? false : t === 'pointer' ? null : 0;
  const f = t.struct;
  if (Array.isArray(f)) return f.map(zeroValue);
  return Object.fromEntries(Object.entries(f as Record<string, ValueType>).map(([k, ft]) => [k, zeroValue(ft)]));
}

/** koffi value → JS value (tuple structs become arrays; 64-bit integers beyond 2^53−1 become bigints). */
export function fromKoffi(t: ValueType, v: unknown): unknown {
  if (!isStruct(t)) return typeof v === 'number' && INT64.has(t) && !Number.isSafeInteger(v) ? BigInt(v) : v;
  const f = t.struct;
  const obj = v as Record<string, unknown>;
  if (Array.isArray(f)) return f.map((ft, i) => fromKoffi(ft, obj[`f${i}`]));
  const out: Record<string, unknown> = {};
  for (const [k, ft] of Object.entries(f as Record<string, ValueType>)) out[k] = fromKoffi(ft, obj[k]);
  return out;
}

// ---- parameters ---------------------------------------------------------------------------------

export type ParamKind = 'scalar' | 'buffer' | 'string' | 'struct' | 'pointerTo' | 'out' | 'inout' | 'callback';

export interface ParamIR {
  kind: ParamKind;
  type: ParameterType;
  /** The value type behind struct / pointerTo / out / inout. */
  inner?: ValueType;
  koffiSync: KoffiSpec;
  /** JS source: true when `v` is acceptable (helpers reachable as `h`). */
  check: (v: string, index: number) => string;
  expect: string;
}

export function compileParameter(t: ParameterType, where: string): ParamIR {
  if (typeof t === 'string') {
    if (t === 'buffer') {
      return {
        kind: 'buffer', type: t, koffiSync: 'void *',
        check: (v) => `(${v} === null || ArrayBuffer.isView(${v}) || ${v} instanceof ArrayBuffer)`,
        expect: 'a Buffer, TypedArray, DataView, ArrayBuffer or null',
      };
    }
    if (t === 'string') {
      // A NUL would silently end the C string early (as Node's fs APIs, refuse it).
      return {
        kind: 'string', type: t, koffiSync: 'const char *',
        check: (v) => `(typeof ${v} === 'string' && !${v}.includes('\\0'))`, expect: 'a string without NUL characters',
      };
    }
    const s = SCALARS[t];
    if (!s) {
      throw new DeclarationError(
        `${where}: unknown parameter type '${t}' (expected one of ${Object.keys(SCALARS).join(', ')}, buffer, string, or { struct | pointer | out | inout | function: ... })`,
      );
    }
    return { kind: 'scalar', type: t, koffiSync: s.koffi, check: (v) => s.check(v), expect: s.expect };
  }
  if (typeof t !== 'object' || t === null) throw new DeclarationError(`${where}: bad parameter type ${JSON.stringify(t)}`);
  if (isStruct(t)) {
    return {
      kind: 'struct', type: t, inner: t, koffiSync: koffiValueType(t, where),
      check: (v, i) => `h.valid(${i}, ${v})`, expect: `a value of ${describe(t)}`,
    };
  }
  if ('pointer' in t) {
    const inner = t.pointer;
    return {
      kind: 'pointerTo', type: t, inner, koffiSync: koffi.pointer(koffiValueType(inner, where)),
      check: (v, i) => `h.valid(${i}, ${v})`, expect: `a value of ${describe(inner)} (copied in for the call)`,
    };
  }
  if ('out' in t || 'inout' in t) {
    const isOut = 'out' in t;
    const inner = isOut ? (t as { out: ValueType }).out : (t as { inout: ValueType }).inout;
    const base = koffi.pointer(koffiValueType(inner, where));
    return {
      kind: isOut ? 'out' : 'inout', type: t, inner,
      // 'out' is inout for koffi too: boxIn fills the memory with the box's current value (or
      // zeros), so a plugin that writes nothing leaves box.value as it was.
      koffiSync: koffi.inout(base),
      check: (v, i) => (isOut ? `(typeof ${v} === 'object' && ${v} !== null)` : `h.validBox(${i}, ${v})`),
      expect: isOut ? 'a box object {} that receives .value' : `a box { value: ${describe(inner)} }`,
    };
  }
  if ('function' in t) {
    const f = t.function;
    if (!f || !Array.isArray(f.parameters)) throw new DeclarationError(`${where}: a callback type is { function: { parameters: [...], result } }`);
    const params = f.parameters.map((p, i) => callbackType(p, `${where}.function.parameters[${i}]`));
    const result = f.result === 'void' ? 'void' : callbackType(f.result, `${where}.function.result`);
    const proto = koffi.proto(result, params);
    return {
      kind: 'callback', type: t, koffiSync: koffi.pointer(proto),
      check: (v) => `(typeof ${v} === 'function' || ${pointerCheck(v)})`,
      expect: 'a function, a bigint function address or null',
    };
  }
  throw new DeclarationError(`${where}: unknown parameter type ${JSON.stringify(t)}`);
}

function callbackType(t: unknown, where: string): KoffiSpec {
  if (t === 'string') return 'const char *';
  if (isStruct(t) && hasTuple(t)) throw new DeclarationError(`${where}: callbacks take named-field structs only`);
  return koffiValueType(t as ValueType, where);
}

// ---- results ------------------------------------------------------------------------------------

export interface ResultIR {
  type: ResultType;
  koffiSync: KoffiSpec;
  /** The native future driver's ResultKind name for this T. */
  futureKind: 'void' | 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64' | 'pointer' | 'string' | 'js';
  isString: boolean;
  convert: boolean;
}

const FUTURE_KIND: Record<string, ResultIR['futureKind']> = {
  void: 'void', bool: 'bool', i8: 'i8', u8: 'u8', i16: 'i16', u16: 'u16', i32: 'i32', u32: 'u32',
  i64: 'i64', isize: 'i64', u64: 'u64', usize: 'u64', f32: 'f32', f64: 'f64', pointer: 'pointer', function: 'pointer', string: 'string',
};

export function compileResult(t: ResultType, where: string): ResultIR {
  if (t === 'void') return { type: t, koffiSync: 'void', futureKind: 'void', isString: false, convert: false };
  if (t === 'string') return { type: t, koffiSync: 'void *', futureKind: 'string', isString: true, convert: false };
  if (typeof t === 'string' && (t as string) === 'function') {
    return { type: t, koffiSync: 'void *', futureKind: 'pointer', isString: false, convert: false };
  }
  const k = koffiValueType(t as ValueType, where);
  return {
    type: t,
    koffiSync: k,
    futureKind: typeof t === 'string' ? FUTURE_KIND[t]! : 'js',
    isString: false,
    convert: needsFromKoffi(t),
  };
}
