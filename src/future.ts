// Futures as Promises. The native runtime (native/runtime/) polls, wakes, cancels and settles;
// this side prepares each future symbol once at open(), wires AbortSignals, and keeps argument
// memory referenced until the future drops.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

import { ABI, optionStruct, pollProto, pollStruct } from './abi.js';
import { DeclarationError, PluginPanicError } from './errors.js';
import type { ParamIR, ResultIR } from './ir.js';
import { addon } from './native.js';
import { takePanic } from './panics.js';
import type { NativeCallback, NativeFutureSymbol, StructPoll } from './native.js';
import { releaseJsCallbacks } from './js-callback.js';
import type { LibraryState } from './call.js';
import { isAborted, readCallOptions } from './options.js';
import type { CallOptionValues } from './options.js';
import { decoderOf } from './snapshot.js';
import type { CallOptions } from './types.js';

/** Rejection of an aborted call; `cause` is the signal's reason, as with Node's own AbortError. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR' as const;
  constructor(reason: unknown) {
    super('The operation was aborted', { cause: reason });
  }
  override get name(): string {
    return 'AbortError';
  }
}

addon.futureSetup((name: string, tag: number) => {
  // The runtime calls this on the JS thread right after the poll that panicked: the plugin's
  // panic slot (src/panics.ts) still holds that panic's message and location.
  if (tag === ABI.pollTags.panicked) return new PluginPanicError(name, { panic: takePanic(name) });
  return new DeclarationError(
    `the future returned by '${name}' reported poll tag ${tag}, which is none of Ready (${ABI.pollTags.ready}), Pending (${ABI.pollTags.pending}) or Panicked (${ABI.pollTags.panicked}): the declared { future: T } probably does not match the FfiPoll<T> the plugin returns, or the symbol does not return an async-ffi FfiFuture at all`,
  );
});

/** What a call's trailing options resolve to; checked before the plugin is called. */
export interface CallControl {
  ref: boolean;
  signal: AbortSignal | undefined;
  /** Receives the runtime's task id when the call stays pending (only with a signal). */
  slot: { id: number } | undefined;
}

/**
 * The argument classes of a future-creating call for the addon's call planner, or null when some
 * parameter is not a register value (a struct by value): koffi makes that call.
 */
function argClasses(params: readonly ParamIR[]): number[] | null {
  const out: number[] = [];
  for (const p of params) {
    if (p.kind === 'string' || p.kind === 'buffer' || p.kind === 'pointerTo') out.push(ABI.argClasses.integer);
    else if (p.kind !== 'scalar') return null;
    else out.push(p.text === 'f64' ? ABI.argClasses.f64 : p.text === 'f32' ? ABI.argClasses.f32 : ABI.argClasses.integer);
  }
  return out;
}

/**
 * The per-symbol half of the driver: the native symbol handle, and what the generated wrapper
 * (call.ts) needs around the call: control() for the options, finish() for the result.
 */
export class FutureSymbol {
  readonly native: NativeFutureSymbol;
  /** Whether the addon calls the symbol itself (futureStart), or koffi does (futureKoffiStart). */
  readonly planned: boolean;
  /** Whether a call without { ref } keeps the event loop alive. */
  readonly ref: boolean;

  constructor(
    private readonly name: string,
    result: ResultIR,
    params: readonly ParamIR[],
    address: bigint,
    lib: LibraryState,
    declRef: boolean | undefined,
    free: bigint | undefined,
    stream = false,
  ) {
    this.ref = declRef ?? lib.ref;
    const kind = ABI.resultKinds[result.futureKind];
    const poll = result.futureKind === 'js' ? structPoll(result, stream) : null;
    this.native = addon.futureSymbol(lib.native, address, name, kind, argClasses(params), poll, free ?? null, stream);
    this.planned = addon.futureSymbolPlanned(this.native);
  }

  /** Reads the options once (getters may throw); a bad or aborted signal rejects before the plugin is called. */
  control(options: CallOptions): CallControl | Promise<never> {
    let o: CallOptionValues;
    try {
      o = readCallOptions(this.name, options);
    } catch (e) {
      return Promise.reject(e);
    }
    const signal = o.signal;
    if (signal !== undefined && isAborted(signal)) return Promise.reject(new AbortError(signal.reason));
    return { ref: o.ref ?? this.ref, signal, slot: signal === undefined ? undefined : { id: 0 } };
  }

  /**
   * The runtime returned a value (settled on the first poll) or the pending task's promise. JS
   * that ran inside the first poll may have aborted the signal: the abort wins, as it would a
   * moment later.
   */
  finish(r: unknown, c: CallControl | undefined, cbs?: readonly [bigint, NativeCallback][]): Promise<unknown> {
    const signal = c?.signal;
    if (!(r instanceof Promise)) {
      this.release(cbs);
      return signal?.aborted ? Promise.reject(new AbortError(signal.reason)) : Promise.resolve(r);
    }
    if (cbs !== undefined) {
      // The call's callbacks live until it settles, however it settles.
      const release = () => this.release(cbs);
      r.then(release, release);
    }
    if (signal === undefined) return r;
    const id = c!.slot!.id;
    if (signal.aborted) {
      addon.futureCancel(id, new AbortError(signal.reason));
      return r;
    }
    watchSignal(signal, id);
    return r.then(
      (v) => {
        unwatchSignal(signal, id);
        return v;
      },
      (e) => {
        unwatchSignal(signal, id);
        throw e;
      },
    );
  }

  /** Lets go of a call's `{ callback }` arguments. */
  release(cbs: readonly [bigint, NativeCallback][] | undefined): void {
    if (cbs !== undefined) releaseJsCallbacks(cbs.map((x) => x[1]));
  }
}

/**
 * Struct results: koffi knows the FfiPoll<Struct> return convention. A poll function is decoded
 * once per poll_fn address (one per symbol in practice), never through koffi.call(): koffi's
 * call() aborts the process when it runs while a worker is being terminated; a decoded function
 * does not.
 */
function structPoll(result: ResultIR, stream: boolean): StructPoll {
  // A stream's poll_next returns FfiPoll<FfiOption<T>>: the option is a u8 tag then T, like the
  // poll itself (docs/abi.md).
  const item = result.koffiSync as TypeObject;
  const proto = pollProto(pollStruct(stream ? optionStruct(item) : item));
  // From the IR made at open(): decoding a poll's value runs no user code.
  const decode = decoderOf(result.value!);
  type Decoded = (fut: bigint, cx: bigint) => { tag: number; value: unknown; end?: boolean };
  const decoded = new Map<bigint, Decoded>();
  return (pollFn, fut, cx) => {
    let poll = decoded.get(pollFn);
    if (poll === undefined) {
      poll = koffi.decode(pollFn, proto) as Decoded;
      decoded.set(pollFn, poll);
    }
    const r = poll(fut, cx);
    if (r.tag !== ABI.pollTags.ready) return r;
    if (stream) {
      const o = r.value as { tag: number; value: unknown };
      if (o.tag === ABI.optionTags.none) return { tag: r.tag, value: undefined, end: true };
      if (o.tag !== ABI.optionTags.some) return { tag: 0xff, value: undefined };
      r.value = o.value;
    }
    if (decode !== undefined) r.value = decode(r.value);
    return r;
  };
}

// One 'abort' listener per signal, however many pending calls and open streams share it (no
// MaxListeners warning, no listener left behind once they settle).
const watched = new WeakMap<AbortSignal, { ids: Set<number>; onAbort: () => void }>();

export function watchSignal(signal: AbortSignal, id: number): void {
  let w = watched.get(signal);
  if (w === undefined) {
    const ids = new Set<number>();
    const onAbort = () => {
      watched.delete(signal);
      for (const taskId of ids) addon.futureCancel(taskId, new AbortError(signal.reason));
    };
    w = { ids, onAbort };
    watched.set(signal, w);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  w.ids.add(id);
}

export function unwatchSignal(signal: AbortSignal, id: number): void {
  const w = watched.get(signal);
  if (w === undefined) return;
  w.ids.delete(id);
  if (w.ids.size === 0) {
    watched.delete(signal);
    signal.removeEventListener('abort', w.onAbort);
  }
}

/** The runtime's counters for this environment (pending futures, live waker cells, polls, wakes…). */
export function futureStats() {
  return addon.futureStats();
}
