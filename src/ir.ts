// The declaration compiler: reads the user's declarations exactly once, at open(), into a frozen
// IR that nothing re-reads later (a getter in a declaration runs during open() and never during a
// call or a poll). Every name the user chose (symbol keys, struct fields) either works or is
// refused here with a DeclarationError; none reaches koffi or generated source as code.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

/** Anything koffi accepts where a type goes. */
export type KoffiSpec = string | TypeObject | ReturnType<typeof koffi.out>;

import { DeclarationError } from './errors.js';
import { suggest } from './suggest.js';

interface Scalar {
  koffi: string;
  /** JS source of a check that `v` is a valid value (`v` must be a plain identifier). */
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

export const pointerCheck = (v: string) => `(${v} === null || (typeof ${v} === 'bigint' && BigInt.asUintN(64, ${v}) === ${v}))`;

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

/** A scalar value type: i8 … f64, bool, pointer. */
export type ScalarName = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'isize' | 'usize' | 'f32' | 'f64' | 'bool' | 'pointer';

export interface FieldIR {
  /** The user's name (a named struct) or the index as a string (a tuple). */
  readonly name: string;
  readonly type: ValueIR;
}

/**
 * A repr(C) struct. koffi's members are always named f0, f1, … in order: the user's field names
 * never reach koffi, which drops a member named '_' (padding), refuses names that are not
 * identifiers, and would set a prototype for '__proto__'.
 */
export interface StructIR {
  readonly kind: 'struct';
  readonly tuple: boolean;
  readonly fields: readonly FieldIR[];
  readonly koffi: TypeObject;
  readonly text: string;
}

/** A fixed-length array `[T; N]`: a struct field, a pointee, or a parameter (passed as a pointer to it, as C does). */
export interface ArrayIR {
  readonly kind: 'array';
  readonly element: ValueIR;
  readonly length: number;
  readonly koffi: TypeObject;
  readonly text: string;
}

/**
 * A C union: named members sharing the same bytes. koffi's members are f0, f1, … like a struct's.
 * JS passes an object with exactly one member set; JS gets every member decoded from the bytes.
 */
export interface UnionIR {
  readonly kind: 'union';
  readonly members: readonly FieldIR[];
  readonly koffi: TypeObject;
  readonly text: string;
}

export type ValueIR = ScalarName | StructIR | ArrayIR | UnionIR;

/** The longest fixed-length array a declaration may have. */
export const MAX_ARRAY_LENGTH = 1 << 20;

const INT64: ReadonlySet<string> = new Set(['i64', 'u64', 'isize', 'usize']);

/** True for i64/u64/isize/usize: koffi returns ±2^53 as a number, the API a bigint (|v| > 2^53−1). */
export function is64(t: unknown): boolean {
  return typeof t === 'string' && INT64.has(t);
}

export function isStructIR(t: unknown): t is StructIR {
  return typeof t === 'object' && t !== null && (t as StructIR).kind === 'struct';
}

export function isUnionIR(t: unknown): t is UnionIR {
  return typeof t === 'object' && t !== null && (t as UnionIR).kind === 'union';
}

/** A struct or a union: koffi takes and gives an object of f0, f1, … (never a bare scalar). */
export function isAggregateIR(t: unknown): t is StructIR | UnionIR {
  return isStructIR(t) || isUnionIR(t);
}

export function isArrayIR(t: unknown): t is ArrayIR {
  return typeof t === 'object' && t !== null && (t as ArrayIR).kind === 'array';
}

/** C has no array values outside structs and pointees: refuses one where a value is passed or returned. */
export function refuseArray(t: ValueIR, where: string): void {
  if (isArrayIR(t)) {
    throw new DeclarationError(`${where}: a C function cannot take or return an array (${t.text}) by value here; wrap it in a struct ({ struct: [{ array, length }] }), or return a 'pointer' and read() it`);
  }
}

export function describe(t: ValueIR | string): string {
  return typeof t === 'string' ? t : t.text;
}

export function koffiOf(t: ValueIR): KoffiSpec {
  return typeof t === 'string' ? SCALARS[t]!.koffi : t.koffi;
}

// ---- reading user objects once ------------------------------------------------------------------

/** How deep structs may nest: deeper is certainly a mistake, and recursion must stay bounded. */
export const MAX_STRUCT_DEPTH = 64;
/** koffi's own limit on a function's parameters. */
export const MAX_PARAMETERS = 64;

/** Own enumerable keys (each is then read exactly once by the caller). */
function keysOf(o: object, where: string): string[] {
  try {
    return Object.keys(o);
  } catch (cause) {
    throw new DeclarationError(`${where}: reading the declaration's keys threw: ${String((cause as Error)?.message ?? cause)}`, { cause });
  }
}

/** Refuses a key no declaration understands, naming it and the closest known keys. */
export function refuseUnknownKey(where: string, key: string, known: readonly string[], hint = ''): never {
  const near = suggest(key, known, 2);
  const tail = near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : ` (known keys: ${known.join(', ')})`;
  throw new DeclarationError(`${where}: unknown key '${key}'${tail}${hint}`);
}

/** Reads the listed keys of a plain declaration object once; unknown keys are refused. */
export function readKeys<K extends string>(o: object, where: string, known: readonly K[], hints: Partial<Record<string, string>> = {}): Partial<Record<K, unknown>> {
  const out = Object.create(null) as Partial<Record<K, unknown>>;
  for (const key of keysOf(o, where)) {
    if (!(known as readonly string[]).includes(key)) refuseUnknownKey(where, key, known, hints[key] ?? '');
    out[key as K] = (o as Record<string, unknown>)[key];
  }
  return out;
}

/** Reads an array once: its length, then each element. */
function readArray(a: readonly unknown[], where: string, max: number, what: string): unknown[] {
  const n = a.length;
  if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new DeclarationError(`${where}: ${what} can have at most ${max} entries, got ${String(n)}`);
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = a[i];
  return out;
}

const INDEX_LIKE = /^(?:0|[1-9]\d*)$/;

function show(t: unknown): string {
  if (typeof t === 'string') return `'${t.length > 40 ? t.slice(0, 40) + '…' : t}'`;
  if (t === null || typeof t !== 'object') return String(t);
  return Array.isArray(t) ? 'an array' : 'an object';
}

/** One open()'s struct reads: a struct object shared by several fields is read and built once. */
export class TypeReader {
  private readonly done = new Map<object, StructIR | ArrayIR | UnionIR>();
  private readonly inProgress = new Set<object>();

  value(t: unknown, where: string, depth = 0): ValueIR {
    if (typeof t === 'string') {
      if (SCALARS[t] === undefined || t === 'function') {
        const near = suggest(t, Object.keys(SCALARS).filter((n) => n !== 'function'), 2);
        throw new DeclarationError(
          `${where}: unknown value type ${show(t)} (expected one of ${Object.keys(SCALARS).filter((n) => n !== 'function').join(', ')} or { struct: [...] })${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : ''}`,
        );
      }
      return t as ScalarName;
    }
    if (typeof t !== 'object' || t === null) throw new DeclarationError(`${where}: expected a type name, { struct: ... } or { array, length }, got ${show(t)}`);
    const cached = this.done.get(t);
    if (cached) return cached;
    this.refuseCycle(t, where);
    const { struct: f, union: u, array, length } = readKeys(t, where, ['struct', 'union', 'array', 'length'] as const);
    if (f !== undefined && u === undefined && array === undefined && length === undefined) return this.structValue(t, f, where, depth);
    if (u !== undefined && f === undefined && array === undefined && length === undefined) return this.unionValue(t, u, where, depth);
    if (f === undefined && u === undefined && array !== undefined) return this.arrayValue(t, array, length, where, depth);
    throw new DeclarationError(`${where}: expected a type name, { struct: ... }, { union: ... } or { array: T, length: N }`);
  }

  /** The array declared by `t` = { array, length }, whose keys the caller has read already. */
  arrayValue(t: object, element: unknown, length: unknown, where: string, depth = 0): ArrayIR {
    const cached = this.done.get(t);
    if (cached) return cached as ArrayIR;
    this.refuseCycle(t, where);
    if (depth >= MAX_STRUCT_DEPTH) throw new DeclarationError(`${where}: types nested more than ${MAX_STRUCT_DEPTH} deep`);
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1 || length > MAX_ARRAY_LENGTH) {
      throw new DeclarationError(`${where}: { array, length }: length must be an integer in [1, ${MAX_ARRAY_LENGTH}], got ${show(length)}`);
    }
    this.inProgress.add(t);
    try {
      const el = this.value(element, `${where}.array`, depth + 1);
      let k: TypeObject;
      try {
        k = koffi.array(koffiOf(el), length, 'Array');
      } catch (cause) {
        throw new DeclarationError(`${where}: koffi refused the array: ${(cause as Error).message}`, { cause });
      }
      const ir: ArrayIR = Object.freeze({ kind: 'array', element: el, length, koffi: k, text: `[${describe(el)}; ${length}]` });
      this.done.set(t, ir);
      return ir;
    } finally {
      this.inProgress.delete(t);
    }
  }

  /** The struct declared by `t` = { struct: f }, whose keys the caller has read already. */
  structValue(t: object, f: unknown, where: string, depth = 0): StructIR {
    const cached = this.done.get(t);
    if (cached) return cached as StructIR;
    this.refuseCycle(t, where);
    if (depth >= MAX_STRUCT_DEPTH) throw new DeclarationError(`${where}: structs nested more than ${MAX_STRUCT_DEPTH} deep`);
    this.inProgress.add(t);
    try {
      const ir = this.struct(f, where, depth);
      this.done.set(t, ir);
      return ir;
    } finally {
      this.inProgress.delete(t);
    }
  }

  /** The union declared by `t` = { union: m }, whose keys the caller has read already. */
  unionValue(t: object, m: unknown, where: string, depth = 0): UnionIR {
    const cached = this.done.get(t);
    if (cached) return cached as UnionIR;
    this.refuseCycle(t, where);
    if (depth >= MAX_STRUCT_DEPTH) throw new DeclarationError(`${where}: types nested more than ${MAX_STRUCT_DEPTH} deep`);
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      throw new DeclarationError(`${where}: { union } takes an object of named members ({ union: { i: 'i32', f: 'f64' } }), got ${show(m)}`);
    }
    this.inProgress.add(t);
    try {
      const names = keysOf(m, where);
      if (names.length === 0) throw new DeclarationError(`${where}: a union needs at least one member`);
      if (names.length > 1 << 16) throw new DeclarationError(`${where}: a union can have at most ${1 << 16} members`);
      const members: FieldIR[] = names.map((name) => Object.freeze({ name, type: this.value((m as Record<string, unknown>)[name], `${where}.${name}`, depth + 1) }));
      const spec: Record<string, KoffiSpec> = {};
      members.forEach((fd, i) => (spec[`f${i}`] = koffiOf(fd.type)));
      let k: TypeObject;
      try {
        k = koffi.union(spec);
      } catch (cause) {
        throw new DeclarationError(`${where}: koffi refused the union: ${(cause as Error).message}`, { cause });
      }
      const text = `union {${members.map((fd) => `${fd.name}: ${describe(fd.type)}`).join(', ')}}`;
      const ir: UnionIR = Object.freeze({ kind: 'union', members: Object.freeze(members), koffi: k, text: text.length > 200 ? text.slice(0, 200) + '…}' : text });
      this.done.set(t, ir);
      return ir;
    } finally {
      this.inProgress.delete(t);
    }
  }

  private refuseCycle(t: object, where: string): void {
    if (this.inProgress.has(t)) throw new DeclarationError(`${where}: a struct or union contains itself; a C type cannot (use a 'pointer' field for a link)`);
  }

  private struct(f: unknown, where: string, depth: number): StructIR {
    if (typeof f !== 'object' || f === null) throw new DeclarationError(`${where}: { struct } takes an array of field types or an object of named fields, got ${show(f)}`);
    const tuple = Array.isArray(f);
    let entries: [string, unknown][];
    if (tuple) {
      entries = readArray(f, where, 1 << 16, 'a struct').map((ft, i) => [String(i), ft]);
    } else {
      entries = keysOf(f, where).map((k) => {
        // Object.keys puts integer-like keys first whatever the declaration's order: the layout
        // would silently differ from what the user wrote.
        if (INDEX_LIKE.test(k)) throw new DeclarationError(`${where}: field name '${k}' is an integer, which JavaScript orders before the other keys, so the layout would not follow the declaration; use a tuple struct ({ struct: [...] }) or another name`);
        return [k, (f as Record<string, unknown>)[k]];
      });
    }
    if (entries.length === 0) throw new DeclarationError(`${where}: a struct needs at least one field (a zero-sized repr(C) struct has no C equivalent)`);
    const fields: FieldIR[] = entries.map(([name, ft]) => Object.freeze({ name, type: this.value(ft, tuple ? `${where}[${name}]` : `${where}.${name}`, depth + 1) }));
    const members: Record<string, KoffiSpec> = {};
    fields.forEach((fd, i) => (members[`f${i}`] = koffiOf(fd.type)));
    let k: TypeObject;
    try {
      k = koffi.struct(members);
    } catch (cause) {
      throw new DeclarationError(`${where}: koffi refused the struct: ${(cause as Error).message}`, { cause });
    }
    const text = tuple
      ? `struct [${fields.map((fd) => describe(fd.type)).join(', ')}]`
      : `struct {${fields.map((fd) => `${fd.name}: ${describe(fd.type)}`).join(', ')}}`;
    return Object.freeze({ kind: 'struct', tuple, fields: Object.freeze(fields), koffi: k, text: text.length > 200 ? text.slice(0, 200) + '…}' : text });
  }

  /** A parameter list: an array read once, at most MAX_PARAMETERS long. */
  list(a: unknown, where: string): unknown[] {
    if (!Array.isArray(a)) throw new DeclarationError(`${where}: parameters must be an array`);
    return readArray(a, where, MAX_PARAMETERS, 'a parameter list');
  }
}

// ---- parameters ---------------------------------------------------------------------------------

export type ParamKind = 'scalar' | 'buffer' | 'string' | 'struct' | 'pointerTo' | 'out' | 'inout' | 'callback' | 'jsCallback';

export interface CallbackIR {
  readonly proto: TypeObject;
  readonly params: readonly (ValueIR | 'string')[];
  readonly result: ValueIR | 'void' | 'string';
}

/**
 * A JS function the plugin may keep and call from any thread (`{ callback: { parameters, result } }`):
 * the runtime's names of each parameter's and the result's kind, for the native trampolines.
 */
export interface JsCallbackIR {
  readonly params: readonly CallbackKind[];
  /** A kind, or 'void'; 'string' only for { future: T }. */
  readonly result: CallbackKind | 'void';
  readonly future: boolean;
}

/** The runtime's names of the kinds a callback passes and returns (native/abi: ResultKind). */
export type CallbackKind = 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64' | 'pointer' | 'string';

export interface ParamIR {
  readonly kind: ParamKind;
  readonly text: string;
  /** The value type behind struct / pointerTo / out / inout. */
  readonly inner?: ValueIR;
  readonly callback?: CallbackIR;
  readonly jsCallback?: JsCallbackIR;
  readonly koffiSync: KoffiSpec;
  /** JS source: true when `v` is acceptable, for kinds checked inline (scalar, buffer, string, callback). */
  readonly check?: (v: string) => string;
  readonly expect: string;
}

const PARAM_TYPE_KEYS = ['struct', 'union', 'array', 'pointer', 'out', 'inout', 'function', 'callback'] as const;

export function compileParameter(t: unknown, where: string, types: TypeReader): ParamIR {
  if (typeof t === 'string') {
    if (t === 'buffer') {
      return {
        kind: 'buffer', text: t, koffiSync: 'void *',
        check: (v) => `(${v} === null || ArrayBuffer.isView(${v}) || h.isArrayBuffer(${v}))`,
        expect: 'a Buffer, TypedArray, DataView, ArrayBuffer or null',
      };
    }
    if (t === 'string') {
      // A NUL would silently end the C string early (as Node's fs APIs, refuse it).
      return {
        kind: 'string', text: t, koffiSync: 'const char *',
        check: (v) => `(typeof ${v} === 'string' && !${v}.includes('\\0'))`, expect: 'a string without NUL characters',
      };
    }
    const s = SCALARS[t];
    if (!s) {
      const near = suggest(t, [...Object.keys(SCALARS), 'buffer', 'string'], 2);
      throw new DeclarationError(
        `${where}: unknown parameter type ${show(t)} (expected one of ${Object.keys(SCALARS).join(', ')}, buffer, string, or { struct | pointer | out | inout | function: ... })${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : ''}`,
      );
    }
    return { kind: 'scalar', text: t, koffiSync: s.koffi, check: s.check, expect: s.expect };
  }
  if (typeof t !== 'object' || t === null) throw new DeclarationError(`${where}: bad parameter type ${show(t)}`);
  const { length, ...o } = readKeys(t, where, [...PARAM_TYPE_KEYS, 'length'] as const);
  if (o.array !== undefined && Object.keys(o).length === 1) {
    // `[T; N]` as a parameter is what C passes: a pointer to the first element (here: to a copy).
    const inner = types.arrayValue(t, o.array, length, where);
    return {
      kind: 'pointerTo', text: `pointer ${describe(inner)}`, inner, koffiSync: koffi.pointer(koffiOf(inner)),
      expect: `an array of ${inner.length} ${describe(inner.element)} (copied in for the call)`,
    };
  }
  if (length !== undefined) throw new DeclarationError(`${where}: 'length' goes with 'array' ({ array: T, length: N })`);
  const keys = Object.keys(o) as (typeof PARAM_TYPE_KEYS)[number][];
  if (keys.length !== 1) {
    throw new DeclarationError(`${where}: a parameter type object has exactly one of the keys ${PARAM_TYPE_KEYS.join(', ')}, got ${keys.length ? keys.join(', ') : 'none'}`);
  }
  const key = keys[0]!;
  const inner0 = o[key];
  if (key === 'struct') {
    const inner = types.structValue(t, inner0, where);
    return { kind: 'struct', text: describe(inner), inner, koffiSync: koffiOf(inner), expect: `a value of ${describe(inner)}` };
  }
  if (key === 'union') {
    const inner = types.unionValue(t, inner0, where);
    return { kind: 'struct', text: describe(inner), inner, koffiSync: koffiOf(inner), expect: unionExpect(inner) };
  }
  if (key === 'pointer') {
    const inner = types.value(inner0, `${where}.pointer`);
    return {
      kind: 'pointerTo', text: `pointer ${describe(inner)}`, inner, koffiSync: koffi.pointer(koffiOf(inner)),
      expect: isUnionIR(inner) ? `${unionExpect(inner)}, copied in for the call` : `a value of ${describe(inner)} (copied in for the call)`,
    };
  }
  if (key === 'out' || key === 'inout') {
    const inner = types.value(inner0, `${where}.${key}`);
    return {
      kind: key, text: `${key} ${describe(inner)}`, inner,
      // 'out' is inout for koffi too: the wrapper fills the memory with the box's current value
      // (or zeros), so a plugin that writes nothing leaves box.value as it was.
      koffiSync: koffi.inout(koffi.pointer(koffiOf(inner))),
      expect: key === 'out' ? 'a box object {} that receives .value' : `a box { value: ${describe(inner)} }`,
    };
  }
  if (key === 'callback') {
    const jsCallback = compileJsCallback(inner0, `${where}.callback`);
    return {
      kind: 'jsCallback', text: 'callback(...)', jsCallback, koffiSync: 'void *',
      check: (v) => `typeof ${v} === 'function'`,
      expect: 'a function (it may return a Promise)',
    };
  }
  const callback = compileCallback(inner0, `${where}.function`, types);
  return {
    kind: 'callback', text: 'function(...)', callback, koffiSync: koffi.pointer(callback.proto),
    check: (v) => `(typeof ${v} === 'function' || ${pointerCheck(v)})`,
    expect: 'a function, a bigint function address or null',
  };
}

/** What JS passes for a union: names the members, since exactly one must be set. */
export function unionExpect(u: UnionIR): string {
  return `an object with exactly one of ${u.members.map((m) => `'${m.name}'`).join(', ')} set (${u.text})`;
}

/** Unions through a { function } callback are not supported (koffi's callback decoding of them is untested here). */
function refuseUnion(t: ValueIR, where: string): void {
  if (isUnionIR(t)) throw new DeclarationError(`${where}: a { function } callback cannot take or return a union (${t.text}) yet; pass a pointer to it`);
}

const CALLBACK_SCALARS: ReadonlySet<string> = new Set(['bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'isize', 'usize', 'f32', 'f64', 'pointer']);
const CALLBACK_KIND: Readonly<Record<string, CallbackKind>> = { isize: 'i64', usize: 'u64' };

function callbackScalar(t: unknown, where: string, allowString: boolean): CallbackKind {
  if (typeof t === 'string' && CALLBACK_SCALARS.has(t)) return CALLBACK_KIND[t] ?? (t as CallbackKind);
  if (t === 'string' && allowString) return 'string';
  throw new DeclarationError(
    `${where}: a callback the plugin keeps takes and returns scalars (${[...CALLBACK_SCALARS].join(', ')}${allowString ? ', string' : ''}), got ${show(t)}; pass structs through a pointer`,
  );
}

export function compileJsCallback(f: unknown, where: string): JsCallbackIR {
  if (typeof f !== 'object' || f === null) throw new DeclarationError(`${where}: a callback type is { callback: { parameters: [...], result } }`);
  const { parameters, result } = readKeys(f, where, ['parameters', 'result'] as const);
  if (!Array.isArray(parameters)) throw new DeclarationError(`${where}: missing parameters (use [] for none)`);
  if (result === undefined) throw new DeclarationError(`${where}: missing result (use 'void' for none)`);
  const params = parameters.map((p, i) => callbackScalar(p, `${where}.parameters[${i}]`, true));
  if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
    const { future } = readKeys(result, `${where}.result`, ['future'] as const);
    if (future === undefined) throw new DeclarationError(`${where}.result: expected a scalar, 'void' or { future: T }`);
    return Object.freeze({ params: Object.freeze(params), result: future === 'void' ? 'void' : callbackScalar(future, `${where}.result.future`, true), future: true });
  }
  // A synchronous result from another thread makes the caller wait for JS: scalars only, and no
  // string (nothing would own it once JS returns).
  return Object.freeze({ params: Object.freeze(params), result: result === 'void' ? 'void' : callbackScalar(result, `${where}.result`, false), future: false });
}

function compileCallback(f: unknown, where: string, types: TypeReader): CallbackIR {
  if (typeof f !== 'object' || f === null) throw new DeclarationError(`${where}: a callback type is { function: { parameters: [...], result } }`);
  const { parameters, result } = readKeys(f, where, ['parameters', 'result'] as const);
  if (result === undefined) throw new DeclarationError(`${where}: missing result (use 'void' for none)`);
  const params = types.list(parameters, `${where}.parameters`).map((p, i) => {
    if (p === 'string') return 'string';
    const v = types.value(p, `${where}.parameters[${i}]`);
    refuseArray(v, `${where}.parameters[${i}]`);
    refuseUnion(v, `${where}.parameters[${i}]`);
    return v;
  });
  const res = result === 'void' || result === 'string' ? result : types.value(result, `${where}.result`);
  if (res !== 'void' && res !== 'string') {
    refuseArray(res, `${where}.result`);
    refuseUnion(res, `${where}.result`);
  }
  const k = (t: ValueIR | 'string' | 'void') => (t === 'string' ? 'const char *' : t === 'void' ? 'void' : koffiOf(t));
  let proto: TypeObject;
  try {
    proto = koffi.proto(k(res), params.map(k));
  } catch (cause) {
    throw new DeclarationError(`${where}: koffi refused the callback type: ${(cause as Error).message}`, { cause });
  }
  return Object.freeze({ proto, params: Object.freeze(params), result: res });
}

// ---- results ------------------------------------------------------------------------------------

export interface ResultIR {
  readonly text: string;
  /** The value type of a struct or scalar result; undefined for void and string. */
  readonly value: ValueIR | undefined;
  readonly koffiSync: KoffiSpec;
  /** The native future driver's ResultKind name for this T. */
  readonly futureKind: 'void' | 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64' | 'pointer' | 'string' | 'js';
  readonly isString: boolean;
  readonly is64: boolean;
  /** `{ buffer: { lengthFrom: i } }`: a pointer result copied into a Buffer of the length parameter i gives. */
  readonly bufferLength?: number;
}

const FUTURE_KIND: Record<string, ResultIR['futureKind']> = {
  void: 'void', bool: 'bool', i8: 'i8', u8: 'u8', i16: 'i16', u16: 'u16', i32: 'i32', u32: 'u32',
  i64: 'i64', isize: 'i64', u64: 'u64', usize: 'u64', f32: 'f32', f64: 'f64', pointer: 'pointer', function: 'pointer', string: 'string',
};

export function compileResult(t: unknown, where: string, types: TypeReader): ResultIR {
  if (t === 'void') return { text: t, value: undefined, koffiSync: 'void', futureKind: 'void', isString: false, is64: false };
  if (t === 'string') return { text: t, value: undefined, koffiSync: 'void *', futureKind: 'string', isString: true, is64: false };
  if (t === 'function') return { text: t, value: undefined, koffiSync: 'void *', futureKind: 'pointer', isString: false, is64: false };
  const v = types.value(t, where);
  refuseArray(v, where);
  return {
    text: describe(v),
    value: v,
    koffiSync: koffiOf(v),
    futureKind: typeof v === 'string' ? FUTURE_KIND[v]! : 'js',
    isString: false,
    is64: is64(v),
  };
}

// ---- symbols ------------------------------------------------------------------------------------

export interface SymbolIR {
  /** The key in the declarations (and in lib.symbols). */
  readonly key: string;
  /** The exported name looked up with dlsym. */
  readonly exported: string;
  readonly params: readonly ParamIR[];
  readonly result: ResultIR;
  readonly isFuture: boolean;
  /** `{ stream: T }`: the call returns an async iterator over the plugin's FfiStream<T>. */
  readonly isStream: boolean;
  readonly free: string | undefined;
  readonly optional: boolean;
  readonly ref: boolean | undefined;
}

const DECL_KEYS = ['parameters', 'result', 'name', 'free', 'optional', 'ref'] as const;
// Keys of Deno.dlopen declarations that rustplug has no equivalent for: say what to do instead.
const DENO_HINTS: Partial<Record<string, string>> = {
  nonblocking: ". rustplug has no nonblocking (thread-pool) calls: make the Rust function return an async-ffi FfiFuture and declare result: { future: T }",
  callback: '. rustplug needs no callback flag: declare the parameter as { function: { parameters, result } }',
  type: '. Statics are not supported: export a function that returns the value',
};

/** An exported name dlsym can look up as written (a NUL would cut it short). */
function exportName(v: unknown, where: string, what: string): string {
  if (typeof v !== 'string' || v === '' || v.includes('\0')) throw new DeclarationError(`${where}: ${what} must be a non-empty string without NUL characters, got ${show(v)}`);
  return v;
}

function optionalBoolean(v: unknown, where: string, what: string): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw new DeclarationError(`${where}: '${what}' must be a boolean, got ${show(v)}`);
  return v;
}

/** Reads every declaration once into frozen IR, refusing what cannot work. */
export function readDeclarations(declarations: unknown): SymbolIR[] {
  if (typeof declarations !== 'object' || declarations === null || Array.isArray(declarations)) {
    throw new DeclarationError('open(path, declarations): declarations must be an object of { name: { parameters, result } }');
  }
  const types = new TypeReader();
  return keysOf(declarations, 'open(path, declarations)').map((key) => readSymbol(key, (declarations as Record<string, unknown>)[key], types));
}

function readSymbol(key: string, decl: unknown, types: TypeReader): SymbolIR {
  const where = `symbol '${key}'`;
  if (typeof decl !== 'object' || decl === null || Array.isArray(decl)) throw new DeclarationError(`${where}: a declaration is { parameters: [...], result: ... }, got ${show(decl)}`);
  const d = readKeys(decl, where, DECL_KEYS, DENO_HINTS);
  if (d.parameters === undefined) throw new DeclarationError(`${where}: missing parameters (use [] for none)`);
  if (d.result === undefined) throw new DeclarationError(`${where}: missing result (use 'void' for none)`);
  const exported = d.name === undefined ? exportName(key, where, "the key (the exported name unless 'name' is given)") : exportName(d.name, where, "'name'");
  const params = types.list(d.parameters, `${where} parameters`).map((p, i) => compileParameter(p, `${where} parameter ${i}`, types));

  let resultType = d.result;
  let isFuture = false;
  let isStream = false;
  let bufferLength: number | undefined;
  if (typeof resultType === 'object' && resultType !== null && !Array.isArray(resultType)) {
    const r = readKeys(resultType, `${where} result`, ['future', 'stream', 'struct', 'union', 'buffer', 'array', 'length'] as const);
    if (r.array !== undefined || r.length !== undefined) {
      throw new DeclarationError(`${where} result: a C function cannot return an array by value; wrap it in a struct ({ struct: [{ array, length }] }), or return a 'pointer' and read() it`);
    }
    const given = [r.future, r.stream, r.struct, r.union, r.buffer].filter((x) => x !== undefined).length;
    if (given !== 1) {
      throw new DeclarationError(`${where} result: expected a type name, { struct: ... }, { union: ... }, { buffer: { lengthFrom } }, { future: T } or { stream: T }`);
    } else if (r.buffer !== undefined) {
      bufferLength = readBufferResult(r.buffer, params, `${where} result`);
    } else if (r.union !== undefined) {
      resultType = types.unionValue(resultType, r.union, `${where} result`);
    } else if (r.future !== undefined) {
      refuseAsyncBuffer(r.future, `${where} result`);
      isFuture = true;
      resultType = r.future;
    } else if (r.stream !== undefined) {
      refuseAsyncBuffer(r.stream, `${where} result`);
      isStream = true;
      resultType = r.stream;
    } else {
      resultType = types.structValue(resultType, r.struct, `${where} result`);
    }
  }
  if (resultType === undefined) throw new DeclarationError(`${where}: missing result (use 'void' for none)`);
  const result =
    bufferLength !== undefined
      ? bufferResult(bufferLength)
      : isAggregateIR(resultType)
        ? aggregateResult(resultType)
        : compileResult(resultType, `${where} result`, types);
  if (isStream && isUnionIR(result.value)) {
    throw new DeclarationError(`${where} result: { stream: T } with a union T is not supported yet (no stream fixture checks koffi's decoding of it); return a struct that holds the union, or a future`);
  }

  const free = d.free === undefined ? undefined : exportName(d.free, where, "'free'");
  if (free !== undefined && !result.isString && bufferLength === undefined) throw new DeclarationError(`${where}: 'free' applies to a 'string' or { buffer } result only`);
  const optional = optionalBoolean(d.optional, where, 'optional') ?? false;
  const ref = optionalBoolean(d.ref, where, 'ref');
  const isAsync = isFuture || isStream;
  if (ref !== undefined && !isAsync) throw new DeclarationError(`${where}: 'ref' applies to { future: T } and { stream: T } results only (a synchronous call never keeps the event loop alive)`);
  if (isAsync) {
    const what = isFuture ? 'a future' : 'a stream';
    for (const p of params) {
      if (p.kind === 'out' || p.kind === 'inout') throw new DeclarationError(`${where}: out/inout parameters cannot be used with ${what} result (the plugin would write after the call returned); return a struct instead`);
      if (p.kind === 'callback') throw new DeclarationError(`${where}: a { function } callback is only valid during a synchronous call; for ${what}, declare it as { callback: { parameters, result } } (callable from any thread until the call ends)`);
    }
  } else {
    for (const p of params) {
      if (p.kind === 'jsCallback') throw new DeclarationError(`${where}: a { callback } parameter belongs to { future: T } or { stream: T } calls (it lives until the call ends); in a synchronous call use { function: ... }, or keep one with lib.callback()`);
    }
  }
  return Object.freeze({ key, exported, params: Object.freeze(params), result: Object.freeze(result), isFuture, isStream, free, optional, ref });
}

/** { future: { buffer } } / { stream: { buffer } }: said plainly (the length comes from a parameter the call has returned past). */
function refuseAsyncBuffer(t: unknown, where: string): void {
  let has = false;
  try {
    has = typeof t === 'object' && t !== null && Object.keys(t).includes('buffer');
  } catch {
    // types.value() reads the keys again and reports a throwing declaration.
  }
  if (has) throw new DeclarationError(`${where}: a { buffer } result is for synchronous calls only; return a struct of pointer and length from the future and view() it`);
}

function aggregateResult(v: StructIR | UnionIR): ResultIR {
  return { text: v.text, value: v, koffiSync: v.koffi, futureKind: 'js', isString: false, is64: false };
}

function bufferResult(lengthFrom: number): ResultIR {
  return { text: `buffer (length from parameter ${lengthFrom})`, value: undefined, koffiSync: 'void *', futureKind: 'pointer', isString: false, is64: false, bufferLength: lengthFrom };
}

const LENGTH_TYPES: ReadonlySet<string> = new Set(['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'isize', 'usize']);

/**
 * `{ buffer: { lengthFrom: i } }`: the byte length is parameter i, an integer the caller passes
 * (`const u8 *get(size_t n)`) or an `{ out: integer }` the plugin fills (`u8 *get(size_t *len)`).
 */
function readBufferResult(b: unknown, params: readonly ParamIR[], where: string): number {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new DeclarationError(`${where}: { buffer } takes { lengthFrom: <parameter index> }, got ${show(b)}`);
  const { lengthFrom } = readKeys(b, `${where}.buffer`, ['lengthFrom'] as const);
  if (typeof lengthFrom !== 'number' || !Number.isInteger(lengthFrom) || lengthFrom < 0 || lengthFrom >= params.length) {
    throw new DeclarationError(`${where}: { buffer: { lengthFrom } } must be the index of a parameter (0 to ${params.length - 1}), got ${show(lengthFrom)}`);
  }
  const p = params[lengthFrom]!;
  const ok = (p.kind === 'scalar' && LENGTH_TYPES.has(p.text)) || ((p.kind === 'out' || p.kind === 'inout') && typeof p.inner === 'string' && LENGTH_TYPES.has(p.inner));
  if (!ok) throw new DeclarationError(`${where}: { buffer: { lengthFrom: ${lengthFrom} } }: parameter ${lengthFrom} (${p.text}) must be an integer or an { out: integer } the plugin fills`);
  return lengthFrom;
}
