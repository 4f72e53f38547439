// Futures as Promises. The native runtime (native/runtime/) polls, wakes, cancels and settles;
// this side prepares each future symbol once at open(), wires AbortSignals, and keeps argument
// memory referenced until the future drops.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

import { ABI, pollProto, pollStruct } from './abi.js';
import { DeclarationError, PluginArgumentError, PluginPanicError } from './errors.js';
import { fromKoffi } from './ir.js';
import type { ParamIR, ResultIR } from './ir.js';
import { addon } from './native.js';
import { takePanic } from './panics.js';
import type { NativeFutureSymbol, StructPoll } from './native.js';
import type { LibraryState } from './call.js';
import type { CallOptions, ValueType } from './types.js';

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
function argClasses(params: ParamIR[]): number[] | null {
  const out: number[] = [];
  for (const p of params) {
    if (p.kind === 'string' || p.kind === 'buffer' || p.kind === 'pointerTo') out.push(ABI.argClasses.integer);
    else if (p.kind !== 'scalar') return null;
    else out.push(p.type === 'f64' ? ABI.argClasses.f64 : p.type === 'f32' ? ABI.argClasses.f32 : ABI.argClasses.integer);
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
    params: ParamIR[],
    address: bigint,
    lib: LibraryState,
    declRef: boolean | undefined,
    free: bigint | undefined,
  ) {
    this.ref = declRef ?? lib.ref;
    const kind = ABI.resultKinds[result.futureKind];
    const poll = result.futureKind === 'js' ? structPoll(result) : null;
    this.native = addon.futureSymbol(lib.native, address, name, kind, argClasses(params), poll, free ?? null, false);
    this.planned = addon.futureSymbolPlanned(this.native);
  }

  /** Reads the options once (getters may throw); a bad or aborted signal rejects before the plugin is called. */
  control(options: CallOptions): CallControl | Promise<never> {
    let ref = this.ref;
    let signal: AbortSignal | undefined;
    try {
      if (options.ref !== undefined) ref = options.ref === true;
      signal = options.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        return Promise.reject(new PluginArgumentError(this.name, `${this.name}(): options.signal must be an AbortSignal`));
      }
    } catch (e) {
      return Promise.reject(e);
    }
    if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
    return { ref, signal, slot: signal === undefined ? undefined : { id: 0 } };
  }

  /**
   * The runtime returned a value (settled on the first poll) or the pending task's promise. JS
   * that ran inside the first poll may have aborted the signal: the abort wins, as it would a
   * moment later.
   */
  finish(r: unknown, c: CallControl | undefined): Promise<unknown> {
    const signal = c?.signal;
    if (!(r instanceof Promise)) {
      return signal?.aborted ? Promise.reject(new AbortError(signal.reason)) : Promise.resolve(r);
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
}

/**
 * Struct results: koffi knows the FfiPoll<Struct> return convention. A poll function is decoded
 * once per poll_fn address (one per symbol in practice), never through koffi.call(): koffi's
 * call() aborts the process when it runs while a worker is being terminated; a decoded function
 * does not.
 */
function structPoll(result: ResultIR): StructPoll {
  const proto = pollProto(pollStruct(result.koffiSync as TypeObject));
  const t = result.type as ValueType;
  const convert = result.convert;
  type Decoded = (fut: bigint, cx: bigint) => { tag: number; value: unknown };
  const decoded = new Map<bigint, Decoded>();
  return (pollFn, fut, cx) => {
    let poll = decoded.get(pollFn);
    if (poll === undefined) {
      poll = koffi.decode(pollFn, proto) as Decoded;
      decoded.set(pollFn, poll);
    }
    const r = poll(fut, cx);
    if (r.tag === ABI.pollTags.ready && convert) r.value = fromKoffi(t, r.value);
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
