// The compiled addon (native/): the package's prebuild (prebuilds/, made by prebuildify), or a
// local build (build/Release, node-gyp), as node-gyp-build picks; loaded on first use.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';

import { AddonUnavailableError } from './errors.js';

export interface DlopenResult {
  handle?: bigint;
  realPath?: string;
  error?: string;
}

export interface FutureStats {
  /** Futures waiting for a wake, and futures inside their first poll (on the stack of a call). */
  pending: number;
  starting: number;
  /** Streams alive (started and not yet ended, returned, aborted or closed), and items they delivered. */
  streams: number;
  streamItems: number;
  /** Waker cells alive (one per pending future, plus cells plugins still hold clones of). */
  wakerCells: number;
  /** Owned waker clones plugins hold and have not yet woken or dropped. */
  wakerClones: number;
  /** Cells whose reference count saturated (cloned 2^26 times without drops): pinned, never freed. */
  saturatedCells: number;
  wakes: number;
  signals: number;
  drains: number;
  polls: number;
  settled: number;
  loopRefs: number;
  bytesPerPending: number;
}

/** A native library (dlopen handle the addon owns) and a prepared future symbol: opaque handles. */
export type NativeLibrary = { readonly __brand: 'rustplug.Library' };
export type NativeFutureSymbol = { readonly __brand: 'rustplug.FutureSymbol' };
export type NativeCallback = { readonly __brand: 'rustplug.Callback' };

/** Polls one struct-result future once: koffi knows the FfiPoll<Struct> return convention. */
export type StructPoll = (pollFn: bigint, fut: bigint, cx: bigint) => { tag: number; value?: unknown; end?: boolean };

/** The ABI facts, as the addon states them (native/abi/). */
export interface AbiFacts {
  resultKinds: Record<'void' | 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64' | 'pointer' | 'string' | 'js', number>;
  pollTags: Record<'ready' | 'pending' | 'panicked', number>;
  optionTags: Record<'none' | 'some', number>;
  argClasses: Record<'integer' | 'f64' | 'f32', number>;
  /** How many integer-class and floating-point arguments a planned future call carries (0 where this ABI has no planner). */
  futureCallRegisters: { integer: number; float: number };
  /** The same for a sync call the addon makes itself (the sync fast path). */
  syncCallRegisters: { integer: number; float: number };
  /** Which register a fast sync call's result comes back in. */
  syncReturns: Record<'word' | 'f64' | 'f32' | 'string', number>;
  /** Byte offsets in the fast path's frame: argument registers (8 bytes each) and the result. */
  syncFrame: { size: number; words: number; floats: number; result: number };
  futureSize: number;
  wakerVTableSize: number;
}

export interface Addon {
  dlopen(path: string, flags: number): DlopenResult;
  dlsym(handle: bigint, name: string): bigint | string;
  dlclose(handle: bigint): string | undefined;
  dladdr(address: bigint): { file?: string; base: bigint; symbol?: string; symbolAddress?: bigint } | null;
  loadedObjects(): string[];
  RTLD: Record<'RTLD_LAZY' | 'RTLD_NOW' | 'RTLD_GLOBAL' | 'RTLD_LOCAL' | 'RTLD_NODELETE' | 'RTLD_NOLOAD' | 'RTLD_DEEPBIND', number>;
  abi: AbiFacts;
  /** Takes ownership of a dlopen handle: dlclose happens once the library is closed and nothing still needs its code. */
  library(handle: bigint): NativeLibrary;
  /** Cancels the library's pending futures with `reason` and lets go of its code; returns how many were cancelled. */
  libraryClose(lib: NativeLibrary, reason: unknown): number;
  /** How many futures and streams of the library the runtime holds right now. */
  libraryTasks(lib: NativeLibrary): number;
  /** Settles once the library has no future or stream left (at once when it has none). */
  libraryIdle(lib: NativeLibrary): Promise<void>;
  /**
   * Prepares a sync symbol whose arguments and result travel in registers: a function that calls
   * it from `frame` (see sync-frame.ts), passed the arguments `passed` marks (1 a string, 2 a
   * buffer), and each argument's register slot; null when this ABI has no planner for it (koffi
   * makes the call).
   */
  syncSymbol(fn: bigint, argClasses: number[], returns: number, frame: ArrayBuffer, passed: number[], free: bigint | null): { call: Function; slots: number[] } | null;
  /** Prepares a future-returning symbol once, at open(). argClasses null: called through koffi only. */
  futureSymbol(
    lib: NativeLibrary,
    fn: bigint,
    name: string,
    kind: number,
    argClasses: number[] | null,
    structPoll: StructPoll | null,
    free: bigint | null,
    stream: boolean,
  ): NativeFutureSymbol;
  /** Whether futureStart can call the symbol itself (its signature fits this ABI's planner). */
  futureSymbolPlanned(sym: NativeFutureSymbol): boolean;
  /** Calls a planned symbol and takes its future over in the same native call: its value, a Promise, or a throw. */
  futureStart(sym: NativeFutureSymbol, ref: boolean, keep: unknown, slot: { id: number } | undefined, ...args: unknown[]): unknown;
  /** The same through the symbol's koffi function (structs by value, more arguments than registers). */
  futureKoffiStart(sym: NativeFutureSymbol, raw: Function, ref: boolean, keep: unknown, slot: { id: number } | undefined, ...args: unknown[]): unknown;
  /** Puts a JS function behind a trampoline a plugin may call from any thread: [its address, its handle]. */
  callbackCreate(
    fn: Function,
    name: string,
    argClasses: number[],
    argKinds: number[],
    resultKind: number,
    future: boolean,
    ref: boolean,
    inlineEntry: bigint,
  ): [bigint, NativeCallback];
  /** Runs one call made on the JS thread (reached through the koffi-registered inline entry). */
  callbackRunInline(frame: bigint): void;
  /** The trampoline stops reaching JS (later calls get an error future or zero). Idempotent. */
  callbackRelease(handle: NativeCallback): void;
  /** Callbacks registered in this process and not yet released, and calls made through them. */
  callbackStats(): { alive: number; calls: number };
  /** Cancels a pending future or a stream; for a stream, `done` ends a waiting next() with { done: true }. */
  futureCancel(id: number, reason: unknown, done?: boolean): boolean;
  /** Calls a planned stream symbol and takes the stream over (idle until the first next()); returns its id. */
  streamStart(sym: NativeFutureSymbol, ref: boolean, keep: unknown, ...args: unknown[]): number;
  streamKoffiStart(sym: NativeFutureSymbol, raw: Function, ref: boolean, keep: unknown, ...args: unknown[]): number;
  /** Polls the stream for one item: the iterator result now, or a Promise of it. */
  streamNext(id: number): IteratorResult<unknown> | Promise<IteratorResult<unknown>>;
  futureStats(): FutureStats;
  futureSetup(makeError: (symbolName: string, tag: number) => Error): void;
  /** A guard thunk in front of `target` for the calling thread (native/callback_guard.cc), or null when none is free. */
  callbackGuardAcquire(target: bigint, memoryResult: number): bigint | null;
  /** Frees the thunk; returns how many calls through it came from another thread (and were refused). */
  callbackGuardRelease(thunk: bigint): number;
  /** How many thunks the pool has (0 where the guard is not available: callbacks go to koffi directly). */
  callbackGuardSlots: number;
}

const require = createRequire(import.meta.url);
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const debug = debuglog('rustplug');

let real: Addon | undefined;
let failure: AddonUnavailableError | undefined;
let pendingSetup: Parameters<Addon['futureSetup']>[0] | undefined;

/** Where the addon comes from: RUSTPLUG_ADDON, else node-gyp-build's choice (a local build, else the prebuild). */
export function addonPath(): string {
  // RUSTPLUG_ADDON: load another build of the addon (scripts/test-asan.sh points it at an
  // AddressSanitizer build); a relative path is taken from the working directory.
  const override = process.env.RUSTPLUG_ADDON;
  if (override) return resolve(override);
  const gypBuild = require('node-gyp-build') as { path(dir: string): string };
  return gypBuild.path(packageRoot);
}

/**
 * The addon, loaded on first use: only open() (and what it returns) needs it. inspect(), sriOf(),
 * the CLI and the ELF/resolution helpers work where it cannot load. Throws AddonUnavailableError
 * (ERR_PLUGIN_ADDON_UNAVAILABLE), the same one every time, when it cannot be loaded.
 */
export function loadAddon(): Addon {
  if (real !== undefined) return real;
  if (failure !== undefined) throw failure;
  let path = '(not found)';
  try {
    path = addonPath();
    real = require(path) as Addon;
  } catch (cause) {
    failure = new AddonUnavailableError(
      `rustplug's native addon cannot be loaded (${path}): ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}. open() needs it; inspect, sri and the CLI do not. Reinstall rustplug with its install script enabled (npm rebuild rustplug), which uses the bundled prebuild or builds one with python3, make and g++`,
      { cause },
    );
    debug('addon: %s', failure.message);
    throw failure;
  }
  debug('addon: loaded %s', path);
  addon = real;
  if (pendingSetup !== undefined) real.futureSetup(pendingSetup);
  pendingSetup = undefined;
  return real;
}

/** Whether the addon is loaded or loadable, without throwing. */
export function addonAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

// Until first use, `addon` is a stand-in that loads the real one on any property access and then
// replaces itself: `addon` is a live ESM binding, so every module's later accesses go straight to
// the real object. futureSetup (called once while src/future.ts is evaluated) is remembered and
// applied when the addon loads, so importing rustplug never needs the addon.
const standIn = new Proxy(Object.create(null) as Addon, {
  get(_target, key) {
    if (key === 'futureSetup' && real === undefined) {
      return (makeError: Parameters<Addon['futureSetup']>[0]) => {
        pendingSetup = makeError;
      };
    }
    return Reflect.get(loadAddon(), key);
  },
  has: (_target, key) => Reflect.has(loadAddon(), key),
});

export let addon: Addon = standIn;

/** Paths of the objects this process has mapped: the addon's dl_iterate_phdr, or /proc/self/maps without it. */
export function loadedObjects(): string[] {
  if (addonAvailable()) return addon.loadedObjects();
  const seen = new Set<string>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const path = line.split(/\s+/, 6)[5];
    if (path !== undefined && path.startsWith('/')) seen.add(path);
  }
  return [...seen];
}
