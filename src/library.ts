// open(): preflight, dlopen, symbol lookup, and the Library object users hold.
import { resolve } from 'node:path';

import { compileSymbol } from './call.js';
import type { LibraryState } from './call.js';
import { DlopenError, MissingSymbolError, PluginClosedError } from './errors.js';
import { readDeclarations } from './ir.js';
import { addon } from './native.js';
import { readOpenOptions } from './options.js';
import { preflight } from './preflight.js';
import type { PreflightResult } from './preflight.js';
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
  /** Directories searched first for the plugin's NEEDED libraries (e.g. the rustc sysroot's lib dir
   *  for a Rust dylib's libstd-*.so); the ones found there are loaded before the plugin. */
  libraryPath?: string[];
  /** Whether pending futures keep the event loop alive (default true). */
  ref?: boolean;
  /** Being added with the loader's sysroot support: accepted here so that options validation knows it. */
  sysroot?: boolean | string;
}

export interface LibraryInfo {
  path: string;
  realPath: string;
  kind: PreflightResult['kind'];
  rustc: string | null;
  soname: string | null;
  needed: PreflightResult['needed'];
  exports: string[];
  sha256: string;
  flags: string[];
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

const RTLD = addon.RTLD;
// Library ids for the hub (0 means none); per JS environment like all module state.
let nextGroup = 1;

export function open<const D extends Declarations>(path: string, declarations: D, options?: OpenOptions): Library<D> {
  if (typeof path !== 'string' || path === '') throw new TypeError('open(path, declarations): path must be a non-empty string');
  // Both read once, before anything is loaded: nothing reads the user's objects again.
  const declared = readDeclarations(declarations);
  options = readOpenOptions(options);
  const abs = resolve(path);
  const pre = preflight(abs, {
    libraryPath: options.libraryPath,
    integrity: options.integrity,
    allowInsecure: options.allowInsecure,
  });

  for (const dep of pre.needed) {
    if (dep.via === 'libraryPath' && dep.path) {
      const r = addon.dlopen(dep.path, RTLD.RTLD_NOW | RTLD.RTLD_LOCAL | RTLD.RTLD_NODELETE);
      if (r.error !== undefined) throw new DlopenError(`could not load ${dep.name}, a dependency of ${abs} found at ${dep.path}: ${r.error}`, r.error, { path: abs });
    }
  }

  const flagNames: string[] = [options.lazy ? 'RTLD_LAZY' : 'RTLD_NOW', options.global ? 'RTLD_GLOBAL' : 'RTLD_LOCAL'];
  if (options.nodelete !== false) flagNames.push('RTLD_NODELETE');
  if (options.deepbind) flagNames.push('RTLD_DEEPBIND');
  const flags = flagNames.reduce((acc, n) => acc | RTLD[n as keyof typeof RTLD], 0);
  const opened = addon.dlopen(abs, flags);
  if (opened.handle === undefined) {
    const err = opened.error ?? 'unknown error';
    const undef = /undefined symbol: (\S+)/.exec(err);
    const hint = undef
      ? `; the plugin uses ${undef[1]}, which neither it nor its NEEDED libraries define: relink it against the library that provides it, or open that library first with { global: true }`
      : '';
    throw new DlopenError(`dlopen(${abs}) failed: ${err}${hint}`, err, { path: abs });
  }
  const handle = opened.handle;

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
    group: nextGroup++,
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
          symbols[ir.key] = null;
          continue;
        }
        throw e;
      }
      symbols[ir.key] = compileSymbol(ir, address, state);
    }
  } catch (e) {
    addon.dlclose(handle);
    throw e;
  }
  Object.freeze(symbols);

  const info: LibraryInfo = {
    path: abs,
    realPath: opened.realPath ?? pre.realPath,
    kind: pre.kind,
    rustc: pre.rustc,
    soname: pre.elf.soname ?? null,
    needed: pre.needed,
    exports: [...pre.elf.exports].sort(),
    flags: flagNames,
    get sha256() {
      return pre.sha256;
    },
  };

  const close = (): void => {
    if (state.closed) return;
    state.closed = true;
    const err = new PluginClosedError(`the library ${abs} was closed while this future was pending`, { path: abs });
    addon.futureCancelGroup(state.group, err);
    addon.dlclose(handle);
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
