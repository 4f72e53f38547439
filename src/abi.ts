// The async-ffi layouts for the koffi side (see shared/abi.md; native/ffi_abi.h has the same
// facts for the native poll path). x86_64 SysV: a pointer and a u64 are passed and returned alike,
// so pointers are declared as uint64_t here to get them back as plain numbers (user-space
// addresses are below 2^53), which is cheaper than koffi's bigint pointers.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

// koffi 3.3.4 sets up its call stacks inside load(): a koffi.call or a decoded function used
// before any load() crashes the process. We never use koffi's loader (the addon owns dlopen),
// so open the main program once to get that setup done.
koffi.load(null);

/** `FfiFuture<T>` / `LocalFfiFuture<T>`: 24 bytes, returned by value (hidden result pointer).
 *  Anonymous: koffi's type names are process-wide, and another copy of rustplug sharing this
 *  koffi (another version in the same dependency tree) makes its own. */
export const FfiFuture = koffi.struct({
  fut_ptr: 'uint64_t',
  poll_fn: 'uint64_t',
  drop_fn: 'uint64_t',
});

export interface FfiFutureValue {
  fut_ptr: number | bigint;
  poll_fn: number | bigint;
  drop_fn: number | bigint;
}

export const POLL_READY = 0;
export const POLL_PENDING = 1;
export const POLL_PANICKED = 2;

/** `FfiPoll<T>` is `repr(C, u8)`: a u8 tag then T at its own alignment, like this C struct. */
export function pollStruct(value: TypeObject): TypeObject {
  return koffi.struct({ tag: 'uint8_t', value });
}

/** `extern "C" fn(fut_ptr, cx: *mut FfiContext) -> FfiPoll<T>` */
export function pollProto(pollType: TypeObject): TypeObject {
  return koffi.proto(pollType, ['uint64_t', 'uint64_t']);
}
