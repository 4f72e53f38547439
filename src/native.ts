// The compiled addon (native/), built by node-gyp at `npm install`.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

export interface DlopenResult {
  handle?: bigint;
  realPath?: string;
  error?: string;
}

export interface FutureStats {
  pending: number;
  wakerCells: number;
  wakerClones: number;
  wakes: number;
  signals: number;
  drains: number;
  polls: number;
  settled: number;
  loopRefs: number;
  bytesPerPending: number;
}

/** Makes the JS poll function of one struct-result future (koffi decodes its FfiPoll<T>). */
export type JsPollFactory = (pollFn: number | bigint, fut: number | bigint) => (cx: bigint) => { tag: number; value?: unknown };

export interface Addon {
  dlopen(path: string, flags: number): DlopenResult;
  dlsym(handle: bigint, name: string): bigint | string;
  dlclose(handle: bigint): string | undefined;
  dladdr(address: bigint): { file?: string; base: bigint; symbol?: string; symbolAddress?: bigint } | null;
  loadedObjects(): string[];
  RTLD: Record<'RTLD_LAZY' | 'RTLD_NOW' | 'RTLD_GLOBAL' | 'RTLD_LOCAL' | 'RTLD_NODELETE' | 'RTLD_NOLOAD' | 'RTLD_DEEPBIND', number>;
  resultKinds: Record<'void' | 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64' | 'pointer' | 'js', number>;
  /** Calls a koffi function returning an FfiFuture and starts the future in the same native call. */
  futureKoffiStart(
    raw: Function,
    kind: number,
    symbolId: number,
    ref: boolean,
    jsPollFactory: JsPollFactory | undefined,
    keep: unknown,
    slot: { id: number } | undefined,
    group: number,
    ...args: unknown[]
  ): unknown;
  /** Drops and rejects every pending future started with this group; returns how many. */
  futureCancelGroup(group: number, reason: unknown): number;
  futureCancel(id: number, reason: unknown): boolean;
  futureStats(): FutureStats;
  futureSetup(makeError: (symbolId: number, tag: number) => Error): void;
  benchPing(): Promise<void>;
  /** Calls `fn(args) -> FfiFuture<T>` (register arguments only) and starts the future in one native call. */
  futureCallStart(
    fn: bigint,
    kind: number,
    symbolId: number,
    ref: boolean,
    jsPollFactory: JsPollFactory | undefined,
    keep: unknown,
    slot: { id: number } | undefined,
    group: number,
    signature: number,
    ...args: unknown[]
  ): unknown;
  /** How many integer-class and floating-point arguments futureCallStart can pass. */
  futureCallRegisters: { integer: number; float: number };
  /** A guard thunk in front of `target` for the calling thread (native/callback_guard.cc), or null when none is free. */
  callbackGuardAcquire(target: bigint, memoryResult: number): bigint | null;
  /** Frees the thunk; returns how many calls through it came from another thread (and were refused). */
  callbackGuardRelease(thunk: bigint): number;
  /** How many thunks the pool has (0 where the guard is not available: callbacks go to koffi directly). */
  callbackGuardSlots: number;
}

const require = createRequire(import.meta.url);

function loadAddon(): Addon {
  // RUSTPLUG_ADDON: load another build of the addon (scripts/test-asan.sh points it at an
  // AddressSanitizer build); a relative path is taken from the working directory.
  const override = process.env.RUSTPLUG_ADDON;
  if (override) return require(resolve(override)) as Addon;
  try {
    return require('../build/Release/rustplug.node') as Addon;
  } catch (cause) {
    throw new Error(
      "rustplug's native addon is not built (build/Release/rustplug.node). Run `npm install` (or `npm rebuild rustplug`) with python3, make and g++ available.",
      { cause },
    );
  }
}

export const addon: Addon = loadAddon();
