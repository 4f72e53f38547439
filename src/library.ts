// open(): preflight, dlopen, symbol lookup, and the Library object users hold.
import { resolve } from 'node:path';

import { callPath, compileSymbol } from './call.js';
import type { LibraryState } from './call.js';
import { DeclarationError, MissingSymbolError, PluginArgumentError, PluginBusyError, PluginClosedError } from './errors.js';
import { PluginCallback, closedCallbackError } from './js-callback.js';
import { debug, debugResolution, tracedFuture } from './debug.js';
import { describeGraph, type DependencyInfo } from './depgraph.js';
import { compileJsCallback, readDeclarations } from './ir.js';
import { closeGraph } from './ldpath.js';
import { loadGraph } from './loader.js';
import type { PluginManifest } from './manifest.js';
import { addon, loadAddon } from './native.js';
import { readCallbackOptions, readOpenOptions } from './options.js';
import { registerPanicSource } from './panics.js';
import { preflight } from './preflight.js';
import type { PreflightResult } from './preflight.js';
import type { SysrootOption } from './sysroot.js';
import { addMember, checkAbi, checkSharing, factsOf, setOf, sharedObjects, type Member } from './sharing.js';
import { suggest } from './suggest.js';
import type { CallbackArgs, Declarations, JsCallbackResult, JsCallbackType, Symbols } from './types.js';

export interface OpenOptions {
  /** RTLD_LAZY instead of RTLD_NOW: resolve the plugin's own undefined symbols on first use. */
  lazy?: boolean;
  /** RTLD_GLOBAL: make the plugin's symbols available to libraries opened later. */
  global?: boolean;
  /** RTLD_NODELETE (default true): close() never unmaps the code; see README "Closing". */
  nodelete?: boolean;
  /** RTLD_DEEPBIND: prefer the plugin's own symbols over the process's. */
  deepbind?: boolean;
  /** Refuse the file unless its hash matches, e.g. 'sha256-<base64>' (see sriOf). */
  integrity?: string;
  /** Load even if the file or a directory above it is writable by other users. */
  allowInsecure?: boolean;
  /** Directories searched first for the NEEDED libraries of the plugin and of its dependencies. */
  libraryPath?: string[];
  /** Where a Rust dylib's libstd-<hash>.so may come from when nothing else has it: the installed
   *  Rust toolchains (default), none (false), or the sysroot directory given. */
  sysroot?: SysrootOption;
  /** Whether pending futures keep the event loop alive (default true). */
  ref?: boolean;
}

export interface LibraryInfo {
  path: string;
  /** The real path of the file that was loaded. */
  realPath: string;
  kind: PreflightResult['kind'];
  rustc: string | null;
  soname: string | null;
  needed: PreflightResult['needed'];
  exports: string[];
  /** SHA-256 (hex) of the bytes that were loaded, taken from the same descriptor at open(). */
  sha256: string;
  flags: string[];
  /** The loaded dependency graph: node 0 is the plugin, `needed` holds node indexes. */
  dependencies: DependencyInfo[];
  /** Its RUSTPLUG_MANIFEST, read from the file before loading; null when it exports none. */
  manifest: PluginManifest | null;
}

export interface CloseOptions {
  /** Wait until no future or stream of this library — and, for a module of a sharing set, of
   *  any module of the set — is pending, then close. */
  wait?: boolean;
}

export interface Library<D extends Declarations> {
  readonly symbols: Symbols<D>;
  readonly path: string;
  readonly info: LibraryInfo;
  readonly closed: boolean;
  /** The address of any export, as a bigint (e.g. to pass as a 'function' argument). */
  address(name: string): bigint;
  /** Drops this library's pending futures (rejecting them with ERR_PLUGIN_CLOSED), makes every
   *  symbol throw ERR_PLUGIN_CLOSED, and dlcloses the handle. Idempotent. A module of a sharing
   *  set is not closed while futures of the set are pending: that throws ERR_PLUGIN_BUSY. */
  close(): void;
  /** Makes every symbol throw ERR_PLUGIN_CLOSED at once, waits until nothing of the library (of
   *  its sharing set) is pending, then closes it; pending calls complete normally. */
  close(options: CloseOptions & { wait: true }): Promise<void>;
  close(options?: CloseOptions): void | Promise<void>;
  [Symbol.dispose](): void;
  /**
   * A JS function behind a C function pointer the plugin may keep and call from any thread until
   * the callback's `close()` or the library's (see README "Callbacks a plugin keeps").
   */
  callback<const S extends JsCallbackType['callback']>(
    signature: S,
    fn: (...args: CallbackArgs<S['parameters']>) => JsCallbackResult<S['result']>,
    options?: { ref?: boolean },
  ): PluginCallback;
}

export function open<const D extends Declarations>(path: string, declarations: D, options?: OpenOptions): Library<D> {
  if (typeof path !== 'string' || path === '') throw new TypeError('open(path, declarations): path must be a non-empty string');
  const { RTLD } = loadAddon(); // ERR_PLUGIN_ADDON_UNAVAILABLE before anything else
  // Both read once, before anything is loaded: nothing reads the user's objects again.
  const declared = readDeclarations(declarations);
  options = readOpenOptions(options);
  const pre = preflight(path, {
    libraryPath: options.libraryPath,
    integrity: options.integrity,
    allowInsecure: options.allowInsecure,
    sysroot: options.sysroot,
  });
  const abs = path.includes('/') ? resolve(path) : pre.loadPath;
  // The load-time contract, before any of the plugin's code runs: its async ABI, and whether it
  // may share code with the modules already loaded (src/sharing.ts).
  // From the IR: the user's declaration objects are never read again after readDeclarations.
  const asyncSymbols = declared.filter((ir) => ir.isFuture || ir.isStream).map((ir) => ir.exported);
  const objects = sharedObjects(pre.graph);
  try {
    checkAbi(abs, pre.manifest, asyncSymbols);
    checkSharing(abs, objects, factsOf(pre.manifest, pre.rustc));
    if (objects.size > 0 && options.nodelete === false) {
      throw new DeclarationError(
        `${abs} shares code with other Rust modules (${[...objects.values()].join(', ')}), whose runtime threads may run its code at any time: it is never unmapped, so the option nodelete: false cannot apply; drop it`,
        { path: abs },
      );
    }
  } catch (e) {
    closeGraph(pre.graph, false);
    throw e;
  }
  const flagNames: string[] = [options.lazy ? 'RTLD_LAZY' : 'RTLD_NOW', options.global ? 'RTLD_GLOBAL' : 'RTLD_LOCAL'];
  if (options.nodelete !== false) flagNames.push('RTLD_NODELETE');
  if (options.deepbind) flagNames.push('RTLD_DEEPBIND');
  const flags = flagNames.reduce((acc, n) => acc | RTLD[n as keyof typeof RTLD], 0);
  if (debug.enabled) {
    debugResolution(abs, pre.graph);
    debug('dlopen %s: %s (dependencies: %s, RTLD_LOCAL|RTLD_NODELETE)', abs, flagNames.join('|'), options.lazy ? 'RTLD_LAZY' : 'RTLD_NOW');
  }
  const depFlags = (options.lazy ? RTLD.RTLD_LAZY : RTLD.RTLD_NOW) | RTLD.RTLD_LOCAL | RTLD.RTLD_NODELETE;
  let handle: bigint;
  try {
    handle = loadGraph(pre.graph, flags, depFlags);
  } finally {
    closeGraph(pre.graph, false); // the loader keeps the descriptors of what it mapped
  }
  let native: LibraryState['native'];
  try {
    native = addon.library(handle);
  } catch (e) {
    addon.dlclose(handle);
    throw e;
  }

  const state: LibraryState = {
    closed: false,
    path: abs,
    ref: options.ref !== false,
    address(name: string): bigint {
      const a = addon.dlsym(handle, name);
      if (typeof a === 'string') {
        const near = suggest(name, pre.elf.exports);
        throw new MissingSymbolError(
          `${abs} does not export '${name}'${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : ''} (exports need #[no_mangle] pub extern "C" fn in Rust)`,
          name,
          near,
          { path: abs },
        );
      }
      return a;
    },
    native,
    unmaps: options.nodelete === false,
    depth: 0,
    closeDeferred: undefined,
  };

  // Null prototype: a symbol named '__proto__', 'constructor' or 'toString' is just a symbol.
  const symbols = Object.create(null) as Record<string, Function | null>;
  try {
    for (const ir of declared) {
      let address: bigint;
      try {
        address = state.address(ir.exported);
      } catch (e) {
        if (ir.optional && e instanceof MissingSymbolError) {
          debug('bind %s -> %s: not exported (optional: null)', ir.key, ir.exported);
          symbols[ir.key] = null;
          continue;
        }
        throw e;
      }
      symbols[ir.key] = compileSymbol(ir, address, state);
      if (debug.enabled) {
        const path = callPath(symbols[ir.key] as Function, ir.isFuture);
        debug('bind %s -> %s at 0x%s (%s)', ir.key, ir.exported, address.toString(16), path === 'async' ? 'async' : path === 'addon' ? 'sync, called by the addon' : 'sync, through koffi');
        if (ir.isFuture) symbols[ir.key] = tracedFuture(ir.key, symbols[ir.key] as (...args: unknown[]) => unknown);
      }
    }
  } catch (e) {
    state.closed = true;
    addon.libraryClose(native, undefined);  // dlcloses: nothing was started
    throw e;
  }
  Object.freeze(symbols);

  const info: LibraryInfo = {
    path: abs,
    realPath: pre.realPath,
    kind: pre.kind,
    rustc: pre.rustc,
    soname: pre.elf.soname ?? null,
    needed: pre.needed,
    exports: [...pre.elf.exports].sort(),
    flags: flagNames,
    sha256: pre.sha256,
    dependencies: describeGraph(pre.graph),
    manifest: pre.manifest,
  };

  // A panic caught in a poll reaches the PluginPanicError with its message when the plugin (or a
  // Rust dylib it links, e.g. the one carrying the kit) exports the kit's panic slot.
  const take = asyncSymbols.length ? addon.dlsym(handle, 'rustplug_take_panic') : '';
  const dropPanicSource = typeof take === 'bigint' ? registerPanicSource(take, asyncSymbols) : () => {};

  let member: Member | undefined;
  if (objects.size > 0) {
    member = { path: abs, objects, facts: factsOf(pre.manifest, pre.rustc), tasks: () => addon.libraryTasks(native), idle: () => addon.libraryIdle(native) };
    addMember(member);
  }

  // Callbacks made with lib.callback(): closed with the library.
  const callbacks = new Set<PluginCallback>();
  const finishClose = (): void => {
    state.closeDeferred = undefined;
    for (const cb of [...callbacks]) cb.close();
    dropPanicSource();
    const err = new PluginClosedError(`the library ${abs} was closed while this future was pending`, { path: abs });
    // Pending futures are rejected and dropped (one being polled right now, when its poll
    // returns); the handle is dlclosed once no future holds the code any more.
    addon.libraryClose(native, err);
  };
  let waiting: Promise<void> | undefined;
  /** Futures and streams pending in this library's set (just this library when it is in none). */
  const pendingInSet = (): Map<string, number> => {
    const pending = new Map<string, number>();
    const set = member ? setOf(member) : [{ path: abs, tasks: () => addon.libraryTasks(native) }];
    for (const m of set) {
      const n = m.tasks();
      if (n > 0) pending.set(m.path, (pending.get(m.path) ?? 0) + n);
    }
    return pending;
  };
  const closeNow = (): void => {
    if (member) {
      const pending = pendingInSet();
      if (pending.size > 0) {
        const list = [...pending].map(([p, n]) => `${p}: ${n}`).join('; ');
        throw new PluginBusyError(
          `cannot close ${abs} now: it shares code and runtime threads with other modules, and futures or streams of that set are pending (${list}). Their tasks may run any module's code, so none is closed under them: await lib.close({ wait: true }) to close once they have settled, or cancel them first (AbortSignal).`,
          pending,
          { path: abs },
        );
      }
    }
    state.closed = true;
    if (debug.enabled) debug('close %s: %d future(s)/stream(s) pending%s', abs, addon.libraryTasks(native), state.depth > 0 ? ' (inside a call: takes effect when it returns)' : '');
    if (state.depth > 0) state.closeDeferred = finishClose;
    else finishClose();
  };
  const closeWhenIdle = async (): Promise<void> => {
    // New calls are refused from now on; pending ones (here and in the set) run to completion.
    state.closed = true;
    for (;;) {
      const set = member ? setOf(member) : [{ tasks: () => addon.libraryTasks(native), idle: () => addon.libraryIdle(native) }];
      const busy = set.filter((m) => m.tasks() > 0);
      if (busy.length === 0) break;
      await Promise.all(busy.map((m) => m.idle()));
    }
    if (state.depth > 0) state.closeDeferred = finishClose;
    else finishClose();
  };
  function close(): void;
  function close(options: CloseOptions & { wait: true }): Promise<void>;
  function close(options?: CloseOptions): void | Promise<void>;
  function close(options?: CloseOptions): void | Promise<void> {
    if (options?.wait === true) {
      if (waiting) return waiting;
      if (state.closed) return Promise.resolve();
      return (waiting = closeWhenIdle());
    }
    if (state.closed) return;
    closeNow();
  }

  const lib: Library<D> = {
    symbols: symbols as Symbols<D>,
    path: abs,
    info,
    get closed() {
      return state.closed;
    },
    address(name: string): bigint {
      if (state.closed) throw new PluginClosedError(`address('${name}'): the library ${abs} is closed`, { path: abs });
      return state.address(name);
    },
    close,
    callback(signature, fn, options) {
      if (state.closed) throw closedCallbackError(abs);
      const ir = compileJsCallback(signature, 'callback(signature)');
      if (typeof fn !== 'function') throw new PluginArgumentError('callback', 'callback(signature, fn): fn must be a function');
      const ref = readCallbackOptions(options);
      const cb = new PluginCallback(`callback(${ir.params.join(', ')})`, ir, fn, ref, (c) => callbacks.delete(c));
      callbacks.add(cb);
      return cb;
    },
    [Symbol.dispose]: () => close(),
  };
  return lib;
}
