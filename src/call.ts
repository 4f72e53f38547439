// Turns one declared symbol into a JS function: a specialised wrapper (generated once per symbol,
// so V8 sees monomorphic checks) that validates every argument before any native call, then
// calls through koffi. A future goes to the native runtime (through koffi or the addon's own call).
// Each argument is read once: scalars are checked inline and passed as they are; structs, pointees
// and boxes go through a snapshot (snapshot.ts) whose plain copy is all koffi sees.
import { constants as bufferConstants } from 'node:buffer';
import { types } from 'node:util';

import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import type { KoffiSpec } from './ir.js';

import { PluginArgumentError, PluginClosedError, PluginResultError, typedNativeError } from './errors.js';
import { isAggregateIR, isUnionIR, koffiOf } from './ir.js';
import type { ParamIR, ResultIR, SymbolIR } from './ir.js';
import { BAD, decoderOf, snapshotOf, zeroOf } from './snapshot.js';
import type { Snapshot } from './snapshot.js';
import { CallbackParameter, callbackAdapter, dropWithOwner, memoryResultSize, releaseCallbacks } from './callback.js';
import type { GuardedCallback } from './callback.js';
import { FutureSymbol } from './future.js';
import { addon } from './native.js';
import type { NativeCallback, NativeFutureSymbol, NativeLibrary } from './native.js';
import { inlineCalls, registerJsCallback, releaseJsCallbacks, rethrowInline } from './js-callback.js';
import { failedStream, startStream } from './stream.js';
import { fastCall } from './sync-frame.js';
import type { PluginStream } from './stream.js';
import type { CallControl } from './future.js';
import type { CallOptions } from './types.js';
import { FfiFuture } from './abi.js';

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
  // No property reads here: an error message must not run the caller's getters.
  if (types.isTypedArray(v) || types.isDataView(v)) return `a ${types.isDataView(v) ? 'DataView' : 'TypedArray'}`;
  if (types.isProxy(v)) return 'a Proxy';
  return typeof v === 'object' ? `an object` : typeof v;
}

// Anonymous: koffi's type names are process-wide, and another copy of rustplug in the process
// (another version sharing this koffi) must be able to make its own.
const FREE_PROTO = koffi.proto('void', ['void *']);

// The intrinsic getters, taken before user code can shadow them on an instance.
const typedArrayBuffer = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'buffer')!.get!;
const dataViewBuffer = Object.getOwnPropertyDescriptor(DataView.prototype, 'buffer')!.get!;
const arrayBufferResizable = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable')?.get;

/**
 * A resizable ArrayBuffer, or a view of one. A pending future keeps the buffer's address: shrinking
 * it would decommit memory under the plugin. (A growable SharedArrayBuffer never shrinks: accepted.)
 */
function isResizable(v: unknown): boolean {
  if (arrayBufferResizable === undefined || v === null) return false;
  const buf = types.isTypedArray(v) ? typedArrayBuffer.call(v) : types.isDataView(v) ? dataViewBuffer.call(v) : v;
  return types.isArrayBuffer(buf) && arrayBufferResizable.call(buf) === true;
}

export function compileSymbol(ir: SymbolIR, address: bigint, lib: LibraryState): Function {
  const { params, result, isFuture, isStream } = ir;
  // Futures and streams: the call returns at once and the plugin keeps using its arguments.
  const isAsync = isFuture || isStream;
  const freeAddress = ir.free !== undefined ? lib.address(ir.free) : undefined;
  const free = freeAddress !== undefined ? (koffi.decode(freeAddress, FREE_PROTO) as (p: bigint) => void) : undefined;
  const name = ir.exported;

  const signature = `${name}(${params.map((p) => p.text).join(', ')})`;
  // Per parameter: the one-pass copy of structs, pointees and box contents; the decoder of boxes.
  const snap: (Snapshot | undefined)[] = params.map((p) => (p.inner === undefined ? undefined : snapshotOf(p.inner)));
  const boxDecode = params.map((p) => (p.inner === undefined ? undefined : decoderOf(p.inner)));
  const resultDecode = result.value === undefined ? undefined : decoderOf(result.value);
  const callbacks = params.map((p, i) =>
    p.callback === undefined ? undefined : new CallbackParameter(i, p.callback.params.length, p.koffiSync as TypeObject, memoryResultSize(p.callback), callbackAdapter(p.callback, name, i)),
  );
  const h = {
    closed(): never {
      throw new PluginClosedError(`${name}() was called after the library ${lib.path} was closed; open it again to call it`, { path: lib.path });
    },
    count(n: number): never {
      throw new PluginArgumentError(name, `${signature} takes ${params.length} argument${params.length === 1 ? '' : 's'}${isAsync ? ' (plus an optional { signal, ref } options object)' : ''}, got ${n}`);
    },
    bad(i: number, v: unknown): never {
      throw new PluginArgumentError(name, `${name}(): parameter ${i} (${params[i]!.text}) expects ${params[i]!.expect}, got ${kindOf(v)}`);
    },
    resizable(i: number): never {
      throw new PluginArgumentError(
        name,
        `${name}(): parameter ${i} (buffer) is a resizable ArrayBuffer (or a view of one); an async call keeps the buffer's address until the future is dropped, and shrinking the buffer meanwhile would free memory under the plugin. Pass a fixed-length buffer (e.g. copy it with buf.slice())`,
      );
    },
    isArrayBuffer: types.isArrayBuffer,
    isResizable,
    S: snap,
    cbIn(i: number, f: Function): GuardedCallback {
      return callbacks[i]!.enter(f);
    },
    cbOut(...g: (GuardedCallback | undefined)[]): void {
      releaseCallbacks(name, guardedParams, g);
    },
    /** pointerTo: a scalar pointee goes in a one-element array (koffi would take a bare number as an address). */
    ptr(i: number, v: unknown): unknown {
      const k = snap[i]!(v);
      return k === BAD || isAggregateIR(params[i]!.inner) ? k : [k];
    },
    /** out/inout: box.value is read once; an out box that holds no valid value starts as zeros. */
    boxIn(i: number, box: unknown): unknown {
      if (typeof box !== 'object' || box === null) return BAD;
      const p = params[i]!;
      let k = snap[i]!((box as { value?: unknown }).value);
      if (k === BAD) {
        if (p.kind === 'inout') return BAD;
        k = zeroOf(p.inner!);
      }
      if (isUnionIR(p.inner)) {
        // koffi writes an inout union back only into a koffi.Union, set through its one member.
        const u = new (koffi.Union as unknown as new (t: TypeObject) => Record<string, unknown>)(p.inner.koffi);
        const [key, val] = Object.entries(k as object)[0]!;
        u[key] = val;
        return u;
      }
      return isAggregateIR(p.inner) ? k : [k];
    },
    boxOut(i: number, box: { value?: unknown }, k: unknown): void {
      const v = isAggregateIR(params[i]!.inner) ? k : (k as unknown[])[0];
      const d = boxDecode[i];
      box.value = d === undefined ? v : d(v);
    },
    /** For a future, argument memory must outlive the call: a pointee is copied into a Buffer. */
    encode(i: number, v: unknown): unknown {
      const k = snap[i]!(v);
      if (k === BAD) return BAD;
      const pointee = koffiOf(params[i]!.inner!);
      const buf = Buffer.alloc(koffi.sizeof(pointee));
      koffi.encode(buf, pointee, k);
      return buf;
    },
    str(p: bigint | null): string | null {
      if (p === null) return null;
      const s = koffi.decode(p, 'char', -1) as string;
      if (free) free(p);
      return s;
    },
    /** A { buffer } result: `len` bytes at p copied into a Buffer (then p freed, if declared); null for null. */
    buf(p: bigint | null, len: unknown): Buffer | null {
      if (p === null) return null;
      const n = typeof len === 'bigint' ? (len >= 0n && len <= BigInt(bufferConstants.MAX_LENGTH) ? Number(len) : -1) : (len as number);
      if (!Number.isSafeInteger(n) || n < 0 || n > bufferConstants.MAX_LENGTH) {
        if (free) free(p);
        throw new PluginResultError(`${name}() returned a buffer whose length (parameter ${result.bufferLength}) is ${String(len)}, not a byte count in [0, ${bufferConstants.MAX_LENGTH}]${free ? `; the pointer was passed to ${ir.free}` : ''}`, { path: lib.path });
      }
      const out = Buffer.allocUnsafe(n);
      if (n > 0) out.set(new Uint8Array(koffi.view(p, n)));
      if (free) free(p);
      return out;
    },
    fromK: resultDecode,
    isOpts(o: unknown): boolean {
      return o === undefined || (typeof o === 'object' && o !== null && !Array.isArray(o));
    },
    cstr(s: string): Buffer {
      return Buffer.from(s + '\0', 'utf8');
    },
    s: lib,
    d: undefined as FutureSymbol | undefined,
    sym: undefined as NativeFutureSymbol | undefined,
    start: addon.futureStart,
    koffiStart: addon.futureKoffiStart,
    streamStart: addon.streamStart,
    /** The addon's coded errors (a symbol that returns no FfiFuture, a closed library) as their classes. */
    rethrowInline,
    typed(e: unknown): unknown {
      return typedNativeError(e, lib.path);
    },
    streamKoffiStart: addon.streamKoffiStart,
    /** A `{ callback }` argument: its trampoline for this call ([address, handle]). */
    jsCb(i: number, f: Function): [bigint, NativeCallback] {
      return registerJsCallback(`${name}() parameter ${i}`, params[i]!.jsCallback!, f, false);
    },
    stream(start: () => number, c: CallControl | undefined, cbs: [bigint, NativeCallback][] | undefined): PluginStream<unknown> {
      return startStream(start, c?.signal, cbs === undefined ? undefined : () => releaseJsCallbacks(cbs.map((x) => x[1])));
    },
    /** A stream call that failed before the plugin ran: the iterator's first next() rejects. */
    failed(p: Promise<never>): PluginStream<unknown> {
      return failedStream(p);
    },
  };

  const args = params.map((_, i) => `a${i}`);
  const checks: string[] = [];
  const callArgs: string[] = [];
  const after: string[] = [];
  const guarded: number[] = [];
  const prepare: string[] = [];
  const keep: string[] = [];
  const jsCallbacks: number[] = [];
  params.forEach((p, i) => {
    const a = `a${i}`;
    const k = `k${i}`;
    const converted = (expr: string) => {
      checks.push(`const ${k} = ${expr};`, `if (${k} === BAD) h.bad(${i}, ${a});`);
      callArgs.push(k);
    };
    switch (p.kind) {
      case 'struct':
        converted(`h.S[${i}](${a})`);
        break;
      case 'pointerTo':
        if (isAsync) {
          converted(`h.encode(${i}, ${a})`);
          keep.push(k);
        } else {
          converted(`h.ptr(${i}, ${a})`);
        }
        break;
      case 'out':
      case 'inout':
        converted(`h.boxIn(${i}, ${a})`);
        after.push(`h.boxOut(${i}, ${a}, ${k});`);
        break;
      case 'string':
        checks.push(`if (!(${p.check!(a)})) h.bad(${i}, ${a});`);
        if (isAsync) {
          checks.push(`const ${k} = h.cstr(${a});`);
          callArgs.push(k);
          keep.push(k);
        } else {
          callArgs.push(a);
        }
        break;
      case 'buffer':
        checks.push(`if (!(${p.check!(a)})) h.bad(${i}, ${a});`);
        if (isAsync) {
          checks.push(`if (h.isResizable(${a})) h.resizable(${i});`);
          keep.push(a);
        }
        callArgs.push(a);
        break;
      case 'jsCallback':
        checks.push(`if (!(${p.check!(a)})) h.bad(${i}, ${a});`);
        // Registered right before the call (a bad option must not leak it), released when the
        // call ends: the index into the call's callback list stands in for the argument.
        callArgs.push(`cbs[${jsCallbacks.length}][0]`);
        jsCallbacks.push(i);
        break;
      case 'callback':
        checks.push(`if (!(${p.check!(a)})) h.bad(${i}, ${a});`);
        // Registered only once every argument is valid: a later bad one must not leak it.
        prepare.push(`${k} = typeof ${a} === 'function' ? h.cbIn(${i}, ${a}) : undefined;`);
        callArgs.push(`${k} === undefined ? ${a} : ${k}.pointer`);
        guarded.push(i);
        break;
      default:
        checks.push(`if (!(${p.check!(a)})) h.bad(${i}, ${a});`);
        callArgs.push(a);
    }
  });

  const guardedParams = guarded.map((i) => callbacks[i]!);
  let body: string;
  let direct = false;
  // Scalars in registers only: the addon calls the plugin itself (sync-frame.ts).
  const fast = isAsync ? undefined : fastCall(params, result, address, freeAddress);
  if (!isAsync) {
    // koffi returns ±2^53 as numbers; the API returns numbers only for safe integers.
    const L = result.bufferLength;
    const post = result.isString
      ? 'h.str(r)'
      : L !== undefined
        ? `h.buf(r, ${params[L]!.kind === 'scalar' ? `a${L}` : `k${L}[0]`})`
      : result.is64
        ? `(typeof r === 'number' && (r > ${Number.MAX_SAFE_INTEGER} || r < -${Number.MAX_SAFE_INTEGER}) ? BigInt(r) : r)`
        : resultDecode !== undefined
          ? 'h.fromK(r)'
          : 'r';
    // The plugin call counts as a sync call for kept callbacks that run inline and throw
    // (js-callback.ts): their exception is rethrown here once the plugin has returned.
    const counted = (c: string) => [`IC.depth++;`, `try { ${c} } finally { IC.depth--; }`, `if (IC.thrown) h.rethrowInline();`];
    const call = fast !== undefined ? [...fast.writes, 'let r;', ...counted(`r = raw(${fast.args.join(', ')});`), ...fast.read] : [
      ...(guarded.length === 0
        ? [`let r;`, ...counted(`r = raw(${callArgs.join(', ')});`)]
        : [
            `let r, ${guarded.map((i) => `k${i}`).join(', ')};`,
            `try {`,
            ...prepare,
            ...counted(`r = raw(${callArgs.join(', ')});`),
            `} finally { h.cbOut(${guarded.map((i) => `k${i}`).join(', ')}); }`,
          ]),
      ...after,
      `return ${post};`,
    ];
    body = [
      `if (h.s.closed) h.closed();`,
      `if (arguments.length !== ${params.length}) h.count(arguments.length);`,
      ...checks,
      // Reading the arguments may have run JS (getters) that closed the library.
      // (A scalar's check reads no property and runs no JS: h.bad only throws.)
      ...(checks.some((c) => /h\.(?!bad\()/.test(c)) ? [`if (h.s.closed) h.closed();`] : []),
      // Without RTLD_NODELETE a close() from a callback inside this call must not unmap the code
      // this call is still running (or the free function a string result still needs).
      ...(lib.unmaps ? [`h.s.depth++;`, `try {`, ...call, `} finally {`, `  if (--h.s.depth === 0 && h.s.closeDeferred !== undefined) h.s.closeDeferred();`, `}`] : call),
    ].join('\n');
  } else {
    const d = new FutureSymbol(name, result, params, address, lib, ir.ref, freeAddress, isStream);
    h.d = d;
    h.sym = d.native;
    const n = params.length;
    const keepExpr = keep.length ? `[${keep.join(', ')}]` : 'undefined';
    // Either way the plugin call and the runtime taking its future over are one native call, so
    // a worker termination cannot fall between them. Signatures the addon's call planner accepts
    // are called by the addon itself; the rest through their koffi function.
    direct = d.planned;
    const startFn = isStream ? (direct ? 'h.streamStart' : 'h.streamKoffiStart') : direct ? 'h.start' : 'h.koffiStart';
    const startArgs = `h.sym, ${direct ? '' : 'raw, '}c === undefined ? ${d.ref} : c.ref, ${keepExpr}${isStream ? '' : ', c === undefined ? undefined : c.slot'}${callArgs.map((a) => `, ${a}`).join('')}`;
    const cbsExpr = jsCallbacks.length ? 'cbs' : 'undefined';
    const prologue = [
      `if (h.s.closed) h.closed();`,
      `const n = arguments.length;`,
      `if (n !== ${n} && (n !== ${n + 1} || !h.isOpts(o))) h.count(n);`,
      ...checks,
      `let c;`,
      `if (o !== undefined) { c = h.d.control(o); if (c instanceof Promise) return ${isStream ? 'h.failed(c)' : 'c'}; }`,
      // Reading the arguments and options may have run JS (getters) that closed the library or
      // aborted the signal.
      `if (h.s.closed) h.closed();`,
      ...(jsCallbacks.length ? [`const cbs = [${jsCallbacks.map((i) => `h.jsCb(${i}, a${i})`).join(', ')}];`] : []),
    ];
    // An async call never throws: whatever goes wrong before the plugin runs (a getter that
    // throws, a bad signal, a string too long to encode) becomes the returned Promise's rejection
    // (a stream's first next()).
    body = isStream
      ? [
          `try {`,
          ...prologue,
          `return h.stream(() => { try { return ${startFn}(${startArgs}); } catch (e) { throw h.typed(e); } }, c, ${cbsExpr});`,
          `} catch (e) { return h.failed(Promise.reject(e)); }`,
        ].join('\n')
      : [
          `try {`,
          ...prologue,
          `if (c !== undefined && c.signal !== undefined && c.signal.aborted) return h.d.finish(undefined, c, ${cbsExpr});`,
          `let r;`,
          `try { r = ${startFn}(${startArgs}); } catch (e) { h.d.release(${cbsExpr}); return Promise.reject(h.typed(e)); }`,
          `return h.d.finish(r, c, ${cbsExpr});`,
          `} catch (e) { return Promise.reject(e); }`,
        ].join('\n');
    args.push('o');
  }

  const koffiParams = params.map((p) => (isAsync ? asyncKoffiType(p) : p.koffiSync));
  const raw = fast !== undefined ? fast.call : direct ? undefined : (koffi.decode(address, koffi.proto(isAsync ? FfiFuture : result.koffiSync, koffiParams)) as Function);
  // The user's key never enters the source (it could be 'h', 'raw', 'a0', a reserved word…): the
  // function gets a fixed name in the source and the key as its `name` (which stack traces show).
  // The fast path's frame views are closure constants, one load away from the wrapper.
  const views = fast === undefined ? '' : `const { ${Object.keys(fast.views).join(', ')} } = F;\n`;
  const src = `"use strict";\n${views}return function symbol(${args.join(', ')}) {\n${body}\n};`;
  const fn = new Function('h', 'raw', 'BAD', 'F', 'IC', src)(h, raw, BAD, fast?.views, inlineCalls) as Function;
  Object.defineProperty(fn, 'name', { value: ir.key });
  if (fast !== undefined) addonCalled.add(fn);
  dropWithOwner(fn, callbacks.filter((c) => c !== undefined));
  return fn;
}

// Sync wrappers whose plugin call the addon makes itself (sync-frame.ts), for NODE_DEBUG.
const addonCalled = new WeakSet<Function>();

/** How a compiled symbol reaches the plugin: 'async', or a sync call by the 'addon' or 'koffi'. */
export function callPath(fn: Function, isFuture: boolean): 'async' | 'addon' | 'koffi' {
  return isFuture ? 'async' : addonCalled.has(fn) ? 'addon' : 'koffi';
}

/** For a future, argument memory must outlive the call: strings and pointees go through Buffers. */
function asyncKoffiType(p: ParamIR): KoffiSpec {
  if (p.kind === 'string' || p.kind === 'pointerTo') return 'void *';
  return p.koffiSync;
}

export type { CallOptions, ResultIR };
