// open(): preflight, dlopen, symbol lookup, and the Library object users hold.
import { resolve } from 'node:path';

import { compileSymbol } from './call.js';
import type { LibraryState } from './call.js';
import { MissingSymbolError, PluginClosedError } from './errors.js';
import { debug, debugResolution, tracedFuture } from './debug.js';
import { describeGraph, type DependencyInfo } from './depgraph.js';
import { readDeclarations } from './ir.js';
import { closeGraph } from './ldpath.js';
import { loadGraph } from './loader.js';
import { addon, loadAddon } from './native.js';
import { readOpenOptions } from './options.js';
import { preflight } from './preflight.js';
import type { PreflightResult } from './preflight.js';
import type { SysrootOption } from './sysroot.js';
import { suggest } from './suggest.js';
import type { Declarations, Symbols } from './types.js';

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
}

export interface Library<D extends Declarations> {
  readonly symbols: Symbols<D>;
  readonly path: string;
  readonly info: LibraryInfo;
  readonly closed: boolean;
  /** The address of any export, as a bigint (e.g. to pass as a 'function' argument). */
  address(name: string): bigint;
  /** Drops this library's pending futures (rejecting them with ERR_PLUGIN_CLOSED), makes every
   *  symbol throw ERR_PLUGIN_CLOSED, and dlcloses the handle. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
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
        debug('bind %s -> %s at 0x%s (%s)', ir.key, ir.exported, address.toString(16), ir.isFuture ? 'async' : 'sync');
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
  };

  const finishClose = (): void => {
    state.closeDeferred = undefined;
    const err = new PluginClosedError(`the library ${abs} was closed while this future was pending`, { path: abs });
    // Pending futures are rejected and dropped (one being polled right now, when its poll
    // returns); the handle is dlclosed once no future holds the code any more.
    addon.libraryClose(native, err);
  };
  const close = (): void => {
    if (state.closed) return;
    state.closed = true;
    if (debug.enabled) debug('close %s: %d future(s)/stream(s) pending%s', abs, addon.libraryTasks(native), state.depth > 0 ? ' (inside a call: takes effect when it returns)' : '');
    if (state.depth > 0) state.closeDeferred = finishClose;
    else finishClose();
  };

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
    [Symbol.dispose]: close,
  };
  return lib;
}
