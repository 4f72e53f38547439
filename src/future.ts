// Futures as Promises. The native hub (native/hub.cc) polls, wakes and settles; this side picks
// the result kind, wires cancellation and keeps argument memory referenced until the future drops.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

import { POLL_PANICKED, pollProto, pollStruct } from './abi.js';
import { DeclarationError, PluginPanicError } from './errors.js';
import type { ResultIR } from './ir.js';
import { addon } from './native.js';
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

// Symbol names by id, per JS environment (module state is per isolate, so per worker too).
const symbolNames: string[] = [];
addon.futureSetup((id: number, tag: number) => {
  const name = symbolNames[id] ?? '<unknown>';
  if (tag === POLL_PANICKED) return new PluginPanicError(name);
  return new DeclarationError(
    `the future returned by '${name}' reported poll tag ${tag}, which is none of Ready (0), Pending (1) or Panicked (2): the declared { future: T } probably does not match the FfiPoll<T> the plugin returns, or the symbol does not return an async-ffi FfiFuture at all`,
  );
});

/** What a call's trailing options resolve to; checked before the plugin is called. */
export interface CallControl {
  ref: boolean;
  signal: AbortSignal | undefined;
  /** Receives the hub's task id when the call stays pending (only with a signal). */
  slot: { id: number } | undefined;
}

/**
 * The per-symbol half of the driver. The generated wrapper (call.ts) checks the options with
 * control(), makes the call through the hub (futureCallStart, or futureKoffiStart with koffi) and
 * hands the result to finish().
 */
export class FutureSymbol {
  readonly kind: number;
  readonly symbolId: number;
  readonly group: number;
  /** Whether a call without { ref } keeps the event loop alive. */
  readonly ref: boolean;
  /** Struct results only: a JS poll function for one future (koffi knows the FfiPoll<Struct> return). */
  readonly jsPoll: ((pollFn: number | bigint, fut: number | bigint) => (cx: bigint) => { tag: number; value: unknown }) | undefined;

  constructor(
    private readonly name: string,
    result: ResultIR,
    lib: LibraryState,
    declRef: boolean | undefined,
    private readonly post: ((v: never) => unknown) | undefined,
  ) {
    this.symbolId = symbolNames.push(name) - 1;
    this.kind = addon.resultKinds[result.futureKind];
    this.group = lib.group;
    this.ref = declRef ?? lib.ref;
    if (result.futureKind === 'js') {
      const proto = pollProto(pollStruct(result.koffiSync as TypeObject));
      // From the IR made at open(): decoding a poll's value runs no user code.
      const decode = decoderOf(result.value!);
      // Decoded once per poll_fn address (one per symbol in practice), never koffi.call(): koffi's
      // call() aborts the process (napi_throw fails fatally) when it runs while a worker is being
      // terminated; a decoded function does not.
      const polls = new Map<number | bigint, (fut: number | bigint, cx: bigint) => { tag: number; value: unknown }>();
      this.jsPoll = (pollFn, fut) => {
        let poll = polls.get(pollFn);
        if (poll === undefined) {
          poll = koffi.decode(BigInt(pollFn), proto) as (fut: number | bigint, cx: bigint) => { tag: number; value: unknown };
          polls.set(pollFn, poll);
        }
        const p = poll;
        return (cx) => {
          const r = p(fut, cx);
          if (r.tag === 0 && decode !== undefined) r.value = decode(r.value);
          return r;
        };
      };
    }
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

  /** The hub returned a value (settled on the first poll) or the pending task's promise. */
  finish(r: unknown, c: CallControl | undefined): Promise<unknown> {
    const post = this.post;
    if (!(r instanceof Promise)) return Promise.resolve(post ? post(r as never) : r);
    if (c === undefined || c.signal === undefined) return post ? r.then((v) => post(v as never)) : r;
    const signal = c.signal;
    const id = c.slot!.id;
    watch(signal, id);
    return r.then(
      (v) => {
        unwatch(signal, id);
        return post ? post(v as never) : v;
      },
      (e) => {
        unwatch(signal, id);
        throw e;
      },
    );
  }
}

// One 'abort' listener per signal, however many pending calls share it (no MaxListeners
// warning, no listener left behind once they settle).
const watched = new WeakMap<AbortSignal, { ids: Set<number>; onAbort: () => void }>();

function watch(signal: AbortSignal, id: number): void {
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

function unwatch(signal: AbortSignal, id: number): void {
  const w = watched.get(signal);
  if (w === undefined) return;
  w.ids.delete(id);
  if (w.ids.size === 0) {
    watched.delete(signal);
    signal.removeEventListener('abort', w.onAbort);
  }
}

/** The hub's counters for this environment (pending futures, live waker cells, polls, wakes…). */
export function futureStats() {
  return addon.futureStats();
}
