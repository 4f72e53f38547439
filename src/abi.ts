// The koffi side of the async-ffi layouts (docs/abi.md). The numbers (poll tags, result kinds,
// argument classes, register budgets) come from the addon (native/abi/), which states each once.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

import { addon, type AbiFacts } from './native.js';

// koffi 3.3.4 sets up its call stacks inside load(): a koffi.call or a decoded function used
// before any load() crashes the process. We never use koffi's loader (the addon owns dlopen),
// so open the main program once to get that setup done.
koffi.load(null);

/** The addon's ABI facts. Read on first use (importing rustplug never loads the addon): a live
 *  binding that replaces itself with the addon's object, after checking koffi agrees on sizes. */
export let ABI: AbiFacts = new Proxy(Object.create(null) as AbiFacts, {
  get(_target, key) {
    const facts = addon.abi;
    if (koffi.sizeof(FfiFuture) !== facts.futureSize) throw new Error('rustplug: koffi and the addon disagree on the size of FfiFuture');
    ABI = facts;
    return Reflect.get(facts, key);
  },
});

/**
 * `FfiFuture<T>` / `LocalFfiFuture<T>`: 24 bytes, returned by value (hidden result pointer).
 * Anonymous, like every koffi type rustplug makes: koffi's type names are process-wide, and a
 * second copy of rustplug in the process must be able to declare its own.
 */
export const FfiFuture = koffi.struct({
  fut_ptr: 'void *',
  poll_fn: 'void *',
  drop_fn: 'void *',
});

/** `FfiPoll<T>` is `repr(C, u8)`: a u8 tag then T at its own alignment, like this C struct. */
export function pollStruct(value: TypeObject): TypeObject {
  return koffi.struct({ tag: 'uint8_t', value });
}

/** `FfiOption<T>` is `repr(C, u8)` too: a u8 tag (None = 0, Some = 1) then T. */
export function optionStruct(value: TypeObject): TypeObject {
  return koffi.struct({ tag: 'uint8_t', value });
}

/** `extern "C" fn(fut_ptr, cx: *mut FfiContext) -> FfiPoll<T>`; both pointers passed as bigints. */
export function pollProto(pollType: TypeObject): TypeObject {
  return koffi.proto(pollType, ['void *', 'void *']);
}
