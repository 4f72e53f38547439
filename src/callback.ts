// JS functions passed for { function: ... } parameters of a synchronous call. koffi calls them with
// its own values; structs need the same conversions as arguments and results (koffi's members
// are f0, f1, …; see ir.ts), and the callback's struct result goes through a snapshot. The plugin
// gets a guard thunk in front of koffi's trampoline, which refuses calls from other threads.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

import { CallbackThreadError, PluginArgumentError } from './errors.js';
import { isStructIR } from './ir.js';
import type { CallbackIR } from './ir.js';
import { addon } from './native.js';
import { BAD, decoderOf, snapshotOf } from './snapshot.js';

export type Adapt = (f: Function) => Function;

/** Wraps a user function for koffi when its types need converting, or undefined when none do. */
export function callbackAdapter(cb: CallbackIR, symbol: string, index: number): Adapt | undefined {
  const decode = cb.params.map((t) => (t === 'string' ? undefined : decoderOf(t)));
  const res = cb.result;
  const snapshot = isStructIR(res) ? snapshotOf(res) : undefined;
  if (snapshot === undefined && decode.every((d) => d === undefined)) return undefined;
  return (f) =>
    function (this: unknown, ...args: unknown[]) {
      for (let i = 0; i < args.length; i++) {
        const d = decode[i];
        if (d !== undefined) args[i] = d(args[i]);
      }
      const r: unknown = Reflect.apply(f, this, args);
      if (snapshot === undefined) return r;
      const k = snapshot(r);
      if (k === BAD) throw new PluginArgumentError(symbol, `${symbol}(): the callback passed as parameter ${index} must return a value of ${isStructIR(res) ? res.text : res}`);
      return k;
    };
}

/** One JS function handed to the plugin for one call: what to pass, and what to undo afterwards. */
export interface GuardedCallback {
  /** The guard thunk's address, or the function itself when there is no guard (koffi's own trampoline). */
  readonly pointer: unknown;
  readonly registered: unknown;
  readonly thunk: bigint | null;
  /** The function's own name, for the error (a data property only: no user getter runs). */
  readonly name: string;
}

/**
 * Registers `f` with koffi and puts a guard thunk (native/callback_guard.cc) in front of it, so a
 * call from another thread is refused instead of deadlocking. Without a free thunk (1024 nested
 * calls) or on a platform without the guard, koffi gets the function as before.
 */
export function guardCallback(user: Function, f: Function, type: TypeObject, memoryResult: number): GuardedCallback {
  const unguarded = { pointer: f, registered: undefined, thunk: null, name: '' };
  if (addon.callbackGuardSlots === 0) return unguarded;
  const registered = koffi.register(f, type) as unknown;
  const thunk = addon.callbackGuardAcquire(registered as bigint, memoryResult);
  if (thunk === null) {
    koffi.unregister(registered as never);
    return unguarded;
  }
  const name: unknown = Object.getOwnPropertyDescriptor(user, 'name')?.value;
  return { pointer: thunk, registered, thunk, name: typeof name === 'string' ? name : '' };
}

/** Undoes guardCallback after the call; throws if the plugin called one from another thread. */
export function releaseCallbacks(symbol: string, indexes: readonly number[], guarded: readonly (GuardedCallback | undefined)[]): void {
  let refused: { n: number; parameter: number; name: string } | undefined;
  guarded.forEach((g, i) => {
    if (g === undefined || g.thunk === null) return;
    const n = addon.callbackGuardRelease(g.thunk);
    koffi.unregister(g.registered as never);
    if (n > 0 && refused === undefined) refused = { n, parameter: indexes[i]!, name: g.name };
  });
  if (refused !== undefined) throw new CallbackThreadError(symbol, refused.parameter, refused.name, refused.n);
}

/** Bytes of a callback's struct result that the ABI returns through a hidden pointer (x86_64 SysV: over 16). */
export function memoryResultSize(cb: CallbackIR): number {
  if (!isStructIR(cb.result)) return 0;
  const size = koffi.sizeof(cb.result.koffi);
  return size > 16 ? size : 0;
}
