// JS functions a plugin may keep and call from any thread (native/callbacks/): `{ callback: … }`
// parameters of async calls, which live until the call ends, and `lib.callback()`, which lives
// until it is closed. The addon gives each one a trampoline address the plugin calls.
import koffi from 'koffi';

import { ABI } from './abi.js';
import { PluginClosedError } from './errors.js';
import type { CallbackKind, JsCallbackIR } from './ir.js';
import { addon } from './native.js';
import type { NativeCallback } from './native.js';

function argClass(kind: CallbackKind): number {
  return kind === 'f64' ? ABI.argClasses.f64 : kind === 'f32' ? ABI.argClasses.f32 : ABI.argClasses.integer;
}

/**
 * A JS exception cannot unwind through a plugin's frames. When a callback running inline on the
 * JS thread throws, the exception waits here and the sync call the plugin was called from
 * (call.ts counts them in `depth`) rethrows it once the plugin returns; until then further inline
 * calls return zero to the plugin without running JS. Thrown outside any sync call (a future the
 * runtime polls), it is reported as an uncaught exception. Per environment, like all module state.
 */
export const inlineCalls = { depth: 0, thrown: false, error: undefined as unknown };

/** For a sync call's wrapper once the plugin returned: throws what an inline callback threw. */
export function rethrowInline(): never {
  const e = inlineCalls.error;
  inlineCalls.thrown = false;
  inlineCalls.error = undefined;
  throw e;
}

function runInline(frame: bigint): void {
  if (inlineCalls.thrown) return;
  try {
    addon.callbackRunInline(frame);
  } catch (e) {
    if (inlineCalls.depth > 0) {
      inlineCalls.thrown = true;
      inlineCalls.error = e;
    } else {
      process.nextTick(() => {
        throw e;
      });
    }
  }
}

// A call a plugin makes on the JS thread may come from inside a koffi call, which runs native
// code on a stack of its own where V8 cannot run JS; a koffi-registered function switches back to
// V8's stack before running JS. It never lets an exception reach koffi, which would hold it for
// whichever koffi call comes next. One per environment (module state is per isolate).
let inlineEntry: bigint | undefined;
function inlineEntryAddress(): bigint {
  if (inlineEntry === undefined) {
    const proto = koffi.proto('void', ['void *']);
    inlineEntry = koffi.register(runInline, koffi.pointer(proto)) as unknown as bigint;
  }
  return inlineEntry;
}

/** Registers `fn` behind a trampoline; the caller must release it (or close the library). */
export function registerJsCallback(name: string, ir: JsCallbackIR, fn: Function, ref: boolean): [bigint, NativeCallback] {
  return addon.callbackCreate(
    fn,
    name,
    ir.params.map(argClass),
    ir.params.map((k) => ABI.resultKinds[k]),
    ABI.resultKinds[ir.result],
    ir.future,
    ref,
    inlineEntryAddress(),
  );
}

export function releaseJsCallbacks(handles: readonly NativeCallback[]): void {
  for (const h of handles) addon.callbackRelease(h);
}

/**
 * A JS function behind a C function pointer that a plugin may keep and call from any thread until
 * `close()` (or the library's close()). From the JS thread it runs inline; from another thread a
 * `void` (or `{ future: T }`) result is queued and the caller never waits, any other result makes
 * the caller wait until JS has run.
 */
export class PluginCallback {
  /** The C function pointer to hand to the plugin (a `'function'` or `'pointer'` argument). */
  readonly pointer: bigint;
  #handle: NativeCallback | undefined;
  readonly #onClose: (cb: PluginCallback) => void;

  constructor(name: string, ir: JsCallbackIR, fn: Function, ref: boolean, onClose: (cb: PluginCallback) => void) {
    [this.pointer, this.#handle] = registerJsCallback(name, ir, fn, ref);
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#handle === undefined;
  }

  /** Calls made after this get an error future, or zero: the plugin must stop using the pointer. */
  close(): void {
    const h = this.#handle;
    if (h === undefined) return;
    this.#handle = undefined;
    addon.callbackRelease(h);
    this.#onClose(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export function closedCallbackError(path: string): PluginClosedError {
  return new PluginClosedError(`callback(): the library ${path} is closed`, { path });
}

/** Callbacks alive in this process (registered, not yet released) and calls made through them. */
export function callbackStats(): { alive: number; calls: number } {
  return addon.callbackStats();
}
