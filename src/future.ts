// Futures as Promises. The native hub (native/hub.cc) polls, wakes and settles; this side picks
// the result kind, wires cancellation and keeps argument memory referenced until the future drops.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

import { DropFn, POLL_PANICKED, pollProto, pollStruct } from './abi.js';
import { DeclarationError, PluginArgumentError, PluginPanicError } from './errors.js';
import { fromKoffi } from './ir.js';
import type { ResultIR } from './ir.js';
import { addon } from './native.js';
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

// Symbol names by id, per JS environment (module state is per isolate, so per worker too).
const symbolNames: string[] = [];
addon.futureSetup((id: number, tag: number) => {
  const name = symbolNames[id] ?? '<unknown>';
  if (tag === POLL_PANICKED) return new PluginPanicError(name);
  return new DeclarationError(
    `the future returned by '${name}' reported poll tag ${tag}, which is none of Ready (0), Pending (1) or Panicked (2): the declared { future: T } probably does not match the FfiPoll<T> the plugin returns, or the symbol does not return an async-ffi FfiFuture at all`,
  );
});

export type Driver = (
  futPtr: number | bigint,
  pollFn: number | bigint,
  dropFn: number | bigint,
  keep: unknown[] | undefined,
  options: CallOptions | undefined,
) => Promise<unknown>;

export function makeDriver(
  name: string,
  result: ResultIR,
  lib: LibraryState,
  declRef: boolean | undefined,
  post: ((v: never) => unknown) | undefined,
): Driver {
  const symbolId = symbolNames.push(name) - 1;
  const kind = addon.resultKinds[result.futureKind];
  let jsPollFor: ((pollFn: number | bigint, fut: number | bigint) => (cx: bigint) => { tag: number; value?: unknown }) | undefined;
  if (result.futureKind === 'js') {
    // Struct results: koffi knows how an FfiPoll<Struct> comes back (registers or memory).
    const proto = pollProto(pollStruct(result.koffiSync as TypeObject));
    const t = result.type as ValueType;
    // Decoded once per poll_fn address (one per symbol in practice), never koffi.call(): koffi's
    // call() aborts the process (napi_throw fails fatally) when it runs while a worker is being
    // terminated; a decoded function does not.
    const polls = new Map<number | bigint, (fut: number | bigint, cx: bigint) => { tag: number; value: unknown }>();
    jsPollFor = (pollFn, fut) => {
      let poll = polls.get(pollFn);
      if (poll === undefined) {
        poll = koffi.decode(BigInt(pollFn), proto) as (fut: number | bigint, cx: bigint) => { tag: number; value: unknown };
        polls.set(pollFn, poll);
      }
      const p = poll;
      return (cx) => {
        const r = p(fut, cx);
        if (r.tag === 0 && result.convert) r.value = fromKoffi(t, r.value);
        return r;
      };
    };
  }

  return function drive(futPtr, pollFn, dropFn, keep, options) {
    let ref = declRef ?? lib.ref;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      try {
        if (options.ref !== undefined) ref = options.ref === true;
        signal = options.signal;
      } catch (e) {
        // A throwing getter: the future exists already, so drop it, and reject like a bad argument.
        dropUnpolled(dropFn, futPtr);
        return Promise.reject(e);
      }
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        dropUnpolled(dropFn, futPtr);
        return Promise.reject(new PluginArgumentError(name, `${name}(): options.signal must be an AbortSignal`));
      }
      if (signal?.aborted) {
        dropUnpolled(dropFn, futPtr);
        return Promise.reject(new AbortError(signal.reason));
      }
    }
    // The slot receives the task id only when there is something to cancel it by.
    const slot = signal !== undefined ? { id: 0 } : undefined;
    let r: unknown;
    try {
      r = addon.futureStart(futPtr, pollFn, dropFn, kind, symbolId, ref, jsPollFor?.(pollFn, futPtr), keep, slot, lib.group);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!(r instanceof Promise)) return Promise.resolve(post ? post(r as never) : r);
    if (signal === undefined) return post ? r.then((v) => post(v as never)) : r;

    const s = signal;
    const id = slot!.id;
    const onAbort = () => addon.futureCancel(id, new AbortError(s.reason));
    s.addEventListener('abort', onAbort, { once: true });
    return r.then(
      (v) => {
        s.removeEventListener('abort', onAbort);
        return post ? post(v as never) : v;
      },
      (e) => {
        s.removeEventListener('abort', onAbort);
        throw e;
      },
    );
  };
}

const drops = new Map<number | bigint, (fut: number | bigint) => void>();

/** A future that is never polled still owns its state: drop it exactly once. */
function dropUnpolled(dropFn: number | bigint, futPtr: number | bigint): void {
  // Decoded and cached, not koffi.call() (see jsPollFor above).
  let drop = drops.get(dropFn);
  if (drop === undefined) {
    drop = koffi.decode(BigInt(dropFn), DropFn) as (fut: number | bigint) => void;
    drops.set(dropFn, drop);
  }
  drop(futPtr);
}

/** The hub's counters for this environment (pending futures, live waker cells, polls, wakes…). */
export function futureStats() {
  return addon.futureStats();
}
