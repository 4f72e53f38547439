// Turns one declared symbol into a JS function: a specialised wrapper (generated once per symbol,
// so V8 sees monomorphic checks) that validates every argument before any native call, then
// calls through koffi. A future goes to the native hub (through koffi or the hub's own call).
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import type { KoffiSpec } from './ir.js';

import { FfiFuture } from './abi.js';
import { PluginArgumentError, PluginClosedError, DeclarationError } from './errors.js';
import { compileParameter, compileResult, describe, fromKoffi, hasTuple, is64, isValidValue, toKoffi, zeroValue } from './ir.js';
import type { ParamIR, ResultIR } from './ir.js';
import { FutureSymbol } from './future.js';
import { addon } from './native.js';
import type { NativeFutureSymbol, NativeLibrary } from './native.js';
import type { CallOptions, ResultType, SymbolDeclaration, ValueType } from './types.js';

/** What a symbol's wrapper needs from its library. */
export interface LibraryState {
  closed: boolean;
  path: string;
  /** Default for futures: keep the event loop alive while pending. */
  ref: boolean;
  /** Resolves another export of the same library (for `free`). */
  address(name: string): bigint;
  /** The addon's library: futures hold its code mapped; close() goes through it. */
  native: NativeLibrary;
  /** Opened without RTLD_NODELETE: dlclose unmaps, so close() must wait for sync calls on the stack. */
  unmaps: boolean;
  /** Sync calls of this library on the JS stack right now (counted only when `unmaps`). */
  depth: number;
  /** close() was called inside a sync call; it finishes when the outermost one returns. */
  closeDeferred: (() => void) | undefined;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}${typeof v === 'bigint' ? 'n' : ''}`;
  if (typeof v === 'function') return 'a function';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v === 'object' ? `an object` : typeof v;
}

// Created once, anonymous: koffi type names are process-wide, and another copy of rustplug may load.
const FREE_PROTO = koffi.proto('void', ['void *']);

export function compileSymbol(key: string, decl: SymbolDeclaration, address: bigint, lib: LibraryState): Function {
  const where = `symbol '${key}'`;
  if (typeof decl !== 'object' || decl === null || !Array.isArray(decl.parameters)) {
    throw new DeclarationError(`${where}: a declaration is { parameters: [...], result: ... }`);
  }
  const params = decl.parameters.map((p, i) => compileParameter(p, `${where} parameter ${i}`));
  const resultDecl = decl.result;
  const isFuture = typeof resultDecl === 'object' && resultDecl !== null && 'future' in resultDecl;
  const resultType = (isFuture ? (resultDecl as { future: ResultType }).future : resultDecl) as ResultType;
  if (resultType === undefined) throw new DeclarationError(`${where}: missing result (use 'void' for none)`);
  const result = compileResult(resultType, `${where} result`);
  if (decl.free !== undefined && !result.isString) {
    throw new DeclarationError(`${where}: 'free' applies to a 'string' result only`);
  }
  const freeAddress = decl.free !== undefined ? lib.address(decl.free) : undefined;
  const free = freeAddress !== undefined ? (koffi.decode(freeAddress, FREE_PROTO) as (p: bigint) => void) : undefined;
  const name = decl.name ?? key;

  const signature = `${name}(${params.map((p) => describe(p.type)).join(', ')})`;
  const h = {
    closed(): never {
      throw new PluginClosedError(`${name}() was called after the library ${lib.path} was closed; open it again to call it`, { path: lib.path });
    },
    count(n: number): never {
      throw new PluginArgumentError(name, `${signature} takes ${params.length} argument${params.length === 1 ? '' : 's'}${isFuture ? ' (plus an optional { signal, ref } options object)' : ''}, got ${n}`);
    },
    bad(i: number, v: unknown): never {
      throw new PluginArgumentError(name, `${name}(): parameter ${i} (${describe(params[i]!.type)}) expects ${params[i]!.expect}, got ${kindOf(v)}`);
    },
    valid(i: number, v: unknown): boolean {
      return isValidValue(params[i]!.inner!, v);
    },
    validBox(i: number, v: unknown): boolean {
      return typeof v === 'object' && v !== null && isValidValue(params[i]!.inner!, (v as { value?: unknown }).value);
    },
    toK(i: number, v: unknown): unknown {
      return toKoffi(params[i]!.inner!, v);
    },
    boxIn(i: number, box: { value?: unknown }): unknown {
      const inner = params[i]!.inner!;
      // An out box starts as its current value when it holds a valid one, else zeros: what the
      // plugin does not write reads back unchanged (never uninitialised memory).
      const start = params[i]!.kind === 'inout' || isValidValue(inner, box.value) ? box.value : zeroValue(inner);
      const v = toKoffi(inner, start);
      return typeof inner === 'string' ? [v] : v;
    },
    boxOut(i: number, box: { value?: unknown }, k: unknown): void {
      const inner = params[i]!.inner!;
      box.value = fromKoffi(inner, typeof inner === 'string' ? (k as unknown[])[0] : k);
    },
    str(p: bigint | null): string | null {
      if (p === null) return null;
      const s = koffi.decode(p, 'char', -1) as string;
      if (free) free(p);
      return s;
    },
    fromK(v: unknown): unknown {
      return fromKoffi(result.type as ValueType, v);
    },
    isOpts(o: unknown): boolean {
      return o === undefined || (typeof o === 'object' && o !== null && !Array.isArray(o));
    },
    cstr(s: string): Buffer {
      return Buffer.from(s + '\0', 'utf8');
    },
    encode(i: number, v: unknown): Buffer {
      const t = koffiTypeOf(params[i]!);
      const buf = Buffer.alloc(koffi.sizeof(t));
      koffi.encode(buf, t, toKoffi(params[i]!.inner!, v));
      return buf;
    },
    /** Async calls report argument errors as rejections, like every other failure. */
    reject(f: () => never): Promise<never> {
      try {
        f();
      } catch (e) {
        return Promise.reject(e);
      }
    },
    s: lib,
    d: undefined as FutureSymbol | undefined,
    sym: undefined as NativeFutureSymbol | undefined,
    start: addon.futureStart,
    koffiStart: addon.futureKoffiStart,
  };

  const args = params.map((_, i) => `a${i}`);
  const lines: string[] = [];
  const callArgs: string[] = [];
  const after: string[] = [];
  const keep: string[] = [];
  params.forEach((p, i) => {
    const a = `a${i}`;
    switch (p.kind) {
      case 'struct':
        callArgs.push(needsConvert(p) ? `h.toK(${i}, ${a})` : a);
        break;
      case 'pointerTo':
        if (isFuture) {
          lines.push(`const k${i} = h.encode(${i}, ${a});`);
          callArgs.push(`k${i}`);
          keep.push(`k${i}`);
        } else {
          callArgs.push(needsConvert(p) ? `h.toK(${i}, ${a})` : a);
        }
        break;
      case 'out':
      case 'inout':
        lines.push(`const k${i} = h.boxIn(${i}, ${a});`);
        callArgs.push(`k${i}`);
        after.push(`h.boxOut(${i}, ${a}, k${i});`);
        break;
      case 'string':
        if (isFuture) {
          lines.push(`const k${i} = h.cstr(${a});`);
          callArgs.push(`k${i}`);
          keep.push(`k${i}`);
        } else {
          callArgs.push(a);
        }
        break;
      case 'buffer':
        callArgs.push(a);
        if (isFuture) keep.push(a);
        break;
      default:
        callArgs.push(a);
    }
  });

  let body: string;
  let direct = false;
  const checks = params.map((p, i) =>
    isFuture ? `if (!(${p.check(`a${i}`, i)})) return h.reject(() => h.bad(${i}, a${i}));` : `if (!(${p.check(`a${i}`, i)})) h.bad(${i}, a${i});`,
  );
  if (!isFuture) {
    // koffi returns ±2^53 as numbers; the API returns numbers only for safe integers.
    const post = result.isString
      ? 'h.str(r)'
      : is64(result.type)
        ? `(typeof r === 'number' && (r > ${Number.MAX_SAFE_INTEGER} || r < -${Number.MAX_SAFE_INTEGER}) ? BigInt(r) : r)`
        : result.convert
          ? 'h.fromK(r)'
          : 'r';
    const call = [`const r = raw(${callArgs.join(', ')});`, ...after, `return ${post};`];
    body = [
      `if (h.s.closed) h.closed();`,
      `if (arguments.length !== ${params.length}) h.count(arguments.length);`,
      ...checks,
      ...lines,
      `if (h.s.closed) h.closed();`,
      // Without RTLD_NODELETE a close() from a callback inside this call must not unmap the code
      // this call is still running (or the free function a string result still needs).
      ...(lib.unmaps ? [`h.s.depth++;`, `try {`, ...call, `} finally {`, `  if (--h.s.depth === 0 && h.s.closeDeferred !== undefined) h.s.closeDeferred();`, `}`] : call),
    ].join('\n');
  } else {
    for (const p of params) {
      if (p.kind === 'out' || p.kind === 'inout') throw new DeclarationError(`${where}: out/inout parameters cannot be used with a future result (the plugin would write after the call returned); return a struct instead`);
      if (p.kind === 'callback') throw new DeclarationError(`${where}: a JS callback is only valid during a synchronous call; for a future, pass a registered callback address as 'function'`);
    }
    const d = new FutureSymbol(name, result, params, address, lib, decl.ref, freeAddress);
    h.d = d;
    h.sym = d.native;
    const n = params.length;
    const keepExpr = keep.length ? `[${keep.join(', ')}]` : 'undefined';
    // Either way the plugin call and the runtime taking its future over are one native call, so
    // a worker termination cannot fall between them. Signatures the addon's call planner accepts
    // are called by the addon itself; the rest through their koffi function.
    direct = d.planned;
    const startArgs = `h.sym, ${direct ? '' : 'raw, '}c === undefined ? ${d.ref} : c.ref, ${keepExpr}, c === undefined ? undefined : c.slot${callArgs.map((a) => `, ${a}`).join('')}`;
    body = [
      `if (h.s.closed) return h.reject(h.closed);`,
      `const n = arguments.length;`,
      `if (n !== ${n} && (n !== ${n + 1} || !h.isOpts(o))) return h.reject(() => h.count(n));`,
      ...checks,
      `let c;`,
      `if (o !== undefined) { c = h.d.control(o); if (c instanceof Promise) return c; }`,
      ...lines,
      // Converting the arguments may have run JS (getters) that closed the library or aborted.
      `if (h.s.closed) return h.reject(h.closed);`,
      `if (c !== undefined && c.signal !== undefined && c.signal.aborted) return h.d.finish(undefined, c);`,
      `let r;`,
      `try { r = ${direct ? 'h.start' : 'h.koffiStart'}(${startArgs}); } catch (e) { return Promise.reject(e); }`,
      `return h.d.finish(r, c);`,
    ].join('\n');
    args.push('o');
  }

  const koffiParams = params.map((p) => (isFuture ? asyncKoffiType(p) : p.koffiSync));
  const raw = direct ? undefined : (koffi.decode(address, koffi.proto(isFuture ? FfiFuture : result.koffiSync, koffiParams)) as Function);
  const fnName = /^[A-Za-z_$][\w$]*$/.test(key) ? key : 'symbol';
  const src = `"use strict";\nreturn function ${fnName}(${args.join(', ')}) {\n${body}\n};`;
  const fn = new Function('h', 'raw', src)(h, raw) as Function;
  return fn;
}

function needsConvert(p: ParamIR): boolean {
  return p.inner !== undefined && hasTuple(p.inner);
}

function koffiTypeOf(p: ParamIR): TypeObject {
  const t = p.koffiSync as TypeObject;
  // pointerTo's koffi type is a pointer; encode the pointee.
  return (t.ref ?? t) as TypeObject;
}

/** For a future, argument memory must outlive the call: strings and pointees go through Buffers. */
function asyncKoffiType(p: ParamIR): KoffiSpec {
  if (p.kind === 'string' || p.kind === 'pointerTo') return 'void *';
  return p.koffiSync;
}

export type { CallOptions, ResultIR };
