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
  /** The guard thunk's address, or what koffi calls directly when there is no guard. */
  readonly pointer: unknown;
  readonly thunk: bigint | null;
  /** The user's function, named in the error. */
  readonly user: Function;
}

/** A koffi registration that calls whatever function its cell holds during the current call. */
interface Cell {
  registered: unknown;
  f: Function | undefined;
}

/**
 * One { function } parameter of a symbol. The plugin gets a guard thunk (native/callback_guard.cc)
 * in front of a koffi-registered trampoline, so that a call from another thread is refused
 * instead of deadlocking. Registering with koffi costs more than the call itself, so each nesting
 * depth of this parameter has one registration for the symbol's lifetime; it holds the user's
 * function only during the call (nothing the user passed is kept alive by koffi afterwards).
 */
export class CallbackParameter {
  private readonly cells: Cell[] = [];
  private depth = 0;

  constructor(
    readonly index: number,
    private readonly arity: number,
    private readonly type: TypeObject,
    private readonly memoryResult: number,
    private readonly adapt: Adapt | undefined,
  ) {}

  enter(user: Function): GuardedCallback {
    const f = this.adapt === undefined ? user : this.adapt(user);
    // Without the guard (another platform), koffi makes its own trampoline for the call.
    if (addon.callbackGuardSlots === 0) return { pointer: f, thunk: null, user };
    let cell = this.cells[this.depth];
    if (cell === undefined) {
      const c: Cell = { registered: undefined, f: undefined };
      c.registered = koffi.register(this.forward(c), this.type);
      cell = this.cells[this.depth] = c;
    }
    cell.f = f;
    this.depth++;
    // Every thunk in use (1024 nested calls): the registration itself, unguarded.
    const thunk = addon.callbackGuardAcquire(cell.registered as bigint, this.memoryResult);
    return { pointer: thunk ?? cell.registered, thunk, user };
  }

  /** A function of the callback's arity that calls the cell's current function (no rest array per call). */
  private forward(c: Cell): Function {
    const args = Array.from({ length: this.arity }, (_, i) => `a${i}`).join(', ');
    return new Function('c', `"use strict"; return function forward(${args}) { return c.f(${args}); };`)(c) as Function;
  }

  /** How many calls through g came from another thread (and were refused). */
  leave(g: GuardedCallback): number {
    if (addon.callbackGuardSlots === 0) return 0;
    this.depth--;
    this.cells[this.depth]!.f = undefined;
    return g.thunk === null ? 0 : addon.callbackGuardRelease(g.thunk);
  }

  /** Gives koffi its trampolines back (when the symbol's function is collected). */
  drop(): void {
    for (const c of this.cells) koffi.unregister(c.registered as never);
    this.cells.length = 0;
  }
}

const registrations = new FinalizationRegistry<CallbackParameter[]>((params) => params.forEach((p) => p.drop()));

/** Unregisters the parameters' koffi trampolines once `owner` (a symbol's function) is collected. */
export function dropWithOwner(owner: object, params: CallbackParameter[]): void {
  if (params.length > 0) registrations.register(owner, params);
}

/** Undoes enter() for every callback of a call; throws if the plugin called one from another thread. */
export function releaseCallbacks(symbol: string, params: readonly CallbackParameter[], guarded: readonly (GuardedCallback | undefined)[]): void {
  let refused: { n: number; parameter: number; user: Function } | undefined;
  // Innermost first: cells are a stack per parameter.
  for (let i = guarded.length - 1; i >= 0; i--) {
    const g = guarded[i];
    if (g === undefined) continue;
    const n = params[i]!.leave(g);
    if (n > 0) refused = { n, parameter: params[i]!.index, user: g.user };
  }
  if (refused !== undefined) {
    // A data property only: no user getter runs.
    const name: unknown = Object.getOwnPropertyDescriptor(refused.user, 'name')?.value;
    throw new CallbackThreadError(symbol, refused.parameter, typeof name === 'string' ? name : '', refused.n);
  }
}

/** Bytes of a callback's struct result that the ABI returns through a hidden pointer (x86_64 SysV: over 16). */
export function memoryResultSize(cb: CallbackIR): number {
  if (!isStructIR(cb.result)) return 0;
  const size = koffi.sizeof(cb.result.koffi);
  return size > 16 ? size : 0;
}
