// Every failure rustplug reports is one of these classes, each with a stable `code`.
// Codes are part of the public API: never rename one, only add.

export type PluginErrorCode =
  | 'ERR_PLUGIN_NOT_FOUND'
  | 'ERR_PLUGIN_NOT_A_FILE'
  | 'ERR_PLUGIN_NOT_ELF'
  | 'ERR_PLUGIN_MALFORMED'
  | 'ERR_PLUGIN_WRONG_ARCH'
  | 'ERR_PLUGIN_NOT_SHARED_OBJECT'
  | 'ERR_PLUGIN_MISSING_DEPENDENCY'
  | 'ERR_PLUGIN_DLOPEN'
  | 'ERR_PLUGIN_MISSING_SYMBOL'
  | 'ERR_PLUGIN_BAD_DECLARATION'
  | 'ERR_PLUGIN_INVALID_ARG'
  | 'ERR_PLUGIN_CLOSED'
  | 'ERR_PLUGIN_INTEGRITY'
  | 'ERR_PLUGIN_INSECURE'
  | 'ERR_PLUGIN_PANIC'
  | 'ERR_PLUGIN_CALLBACK_THREAD'
  | 'ERR_PLUGIN_INCOMPATIBLE'
  | 'ERR_PLUGIN_BUSY'
  | 'ERR_PLUGIN_BAD_RESULT'

  | 'ERR_PLUGIN_BAD_INTEGRITY'
  | 'ERR_PLUGIN_ADDON_UNAVAILABLE'

  | 'ERR_CARGO_BUILD';

export interface PluginErrorOptions {
  path?: string;
  cause?: unknown;
}

/** Base class of every error rustplug throws about a plugin. */
export class PluginError extends Error {
  readonly code: PluginErrorCode;
  /** The plugin file the error is about, when there is one. */
  readonly path?: string;

  constructor(code: PluginErrorCode, message: string, options: PluginErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.path !== undefined) this.path = options.path;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** The path does not exist (ERR_PLUGIN_NOT_FOUND) or is not a regular file (ERR_PLUGIN_NOT_A_FILE). */
export class PluginNotFoundError extends PluginError {
  constructor(code: 'ERR_PLUGIN_NOT_FOUND' | 'ERR_PLUGIN_NOT_A_FILE', message: string, options?: PluginErrorOptions) {
    super(code, message, options);
  }
}

/** The file is not a loadable ELF shared object: not ELF, truncated/corrupt, or an executable. */
export class PluginFormatError extends PluginError {
  constructor(
    code: 'ERR_PLUGIN_NOT_ELF' | 'ERR_PLUGIN_MALFORMED' | 'ERR_PLUGIN_NOT_SHARED_OBJECT',
    message: string,
    options?: PluginErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** The ELF file was built for another class (32/64-bit), byte order or machine than this process. */
export class PluginArchError extends PluginError {
  readonly expected: string;
  readonly actual: string;
  constructor(message: string, expected: string, actual: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_WRONG_ARCH', message, options);
    this.expected = expected;
    this.actual = actual;
  }
}

/** A `NEEDED` library of the plugin cannot be found the way the dynamic loader would search. */
export class MissingDependencyError extends PluginError {
  /** The unresolved `NEEDED` names, in ELF order. */
  readonly missing: readonly string[];
  constructor(message: string, missing: readonly string[], options?: PluginErrorOptions) {
    super('ERR_PLUGIN_MISSING_DEPENDENCY', message, options);
    this.missing = missing;
  }
}

/** `dlopen` itself failed; `dlerror` is the loader's own text. */
export class DlopenError extends PluginError {
  readonly dlerror: string;
  constructor(message: string, dlerror: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_DLOPEN', message, options);
    this.dlerror = dlerror;
  }
}

/** A declared symbol is not exported by the plugin. */
export class MissingSymbolError extends PluginError {
  readonly symbol: string;
  /** Exported names close to the one asked for, best first. */
  readonly suggestions: readonly string[];
  constructor(message: string, symbol: string, suggestions: readonly string[], options?: PluginErrorOptions) {
    super('ERR_PLUGIN_MISSING_SYMBOL', message, options);
    this.symbol = symbol;
    this.suggestions = suggestions;
  }
}

/** The declaration passed to `open` is invalid (unknown type, bad shape). */
export class DeclarationError extends PluginError {
  constructor(message: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_BAD_DECLARATION', message, options);
  }
}

/** A call's arguments do not match the declaration. A TypeError, as callers expect. */
export class PluginArgumentError extends TypeError {
  readonly code = 'ERR_PLUGIN_INVALID_ARG' as const;
  readonly symbol: string;
  constructor(symbol: string, message: string) {
    super(message);
    this.symbol = symbol;
  }
  override get name(): string {
    return 'PluginArgumentError';
  }
}

/** A plugin returned something its declaration rules out (e.g. a `buffer` result whose length is negative or too large). */
export class PluginResultError extends PluginError {
  constructor(message: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_BAD_RESULT', message, options);
  }
}

/** A symbol of a library was called after `lib.close()`. */
export class PluginClosedError extends PluginError {
  constructor(message: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_CLOSED', message, options);
  }
}

/** The file's hash differs from the `integrity` option. */
export class IntegrityError extends PluginError {
  readonly expected: string;
  readonly actual: string;
  constructor(message: string, expected: string, actual: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_INTEGRITY', message, options);
    this.expected = expected;
    this.actual = actual;
  }
}

/** The plugin file or a directory above it is writable by other users. */
export class InsecurePluginError extends PluginError {
  constructor(message: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_INSECURE', message, options);
  }
}

/** A plugin's future reported `Panicked` (the plugin caught a panic in `poll`). */
export class PluginPanicError extends PluginError {
  readonly symbol: string;
  /** The panic's message and location (`msg at src/lib.rs:10:5`) when the plugin reports them
   *  (plugins built with the rustplug-plugin kit do), else null. */
  readonly panic: string | null;
  constructor(symbol: string, options: PluginErrorOptions & { panic?: string | null } = {}) {
    const what = options.panic
      ? `panicked while being polled: ${options.panic}. The plugin caught the panic, so the process is fine, but the call failed`
      : `panicked while being polled; the plugin caught the panic, so the process is fine, but the call failed (see the plugin's stderr for the panic message; plugins built with the rustplug-plugin kit report it here)`;
    super('ERR_PLUGIN_PANIC', `the future returned by '${symbol}' ${what}`, options);
    this.symbol = symbol;
    this.panic = options.panic ?? null;
  }
}

/** One manifest key on which a plugin differs from a loaded module it shares code with. */
export interface ManifestDifference {
  /** `rustc`, `target`, `shared.tokio.features`, `abi.async-ffi`, … */
  key: string;
  /** The plugin's value (null: it does not state one). */
  plugin: string | null;
  /** The loaded module's value, or what rustplug requires (for `abi.*`). */
  other: string | null;
  /** The loaded module, or null when `other` is rustplug's own requirement. */
  otherPath: string | null;
}

/**
 * The plugin cannot share this process with modules already loaded (refused before `dlopen`):
 * it shares a Rust dylib or libstd with them but was built by another rustc, for another target,
 * or with other versions or features of a shared crate; or it speaks another async-ffi ABI.
 */
export class PluginIncompatibleError extends PluginError {
  readonly differences: readonly ManifestDifference[];
  constructor(message: string, differences: readonly ManifestDifference[], options?: PluginErrorOptions) {
    super('ERR_PLUGIN_INCOMPATIBLE', message, options);
    this.differences = differences;
  }
}

/** `close()` of a module of a sharing set while futures or streams of the set are pending. */
export class PluginBusyError extends PluginError {
  /** Futures and streams pending, per module path. */
  readonly pending: ReadonlyMap<string, number>;
  constructor(message: string, pending: ReadonlyMap<string, number>, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_BUSY', message, options);
    this.pending = pending;
  }
}

/**
 * The plugin called a JS callback of a synchronous call from another thread. koffi would wait for
 * the JS thread, which waits in the plugin: a deadlock. The callback was not run (the plugin got
 * a zero result) and the call throws this once it returns.
 */
export class CallbackThreadError extends PluginError {
  readonly symbol: string;
  /** The index of the callback parameter. */
  readonly parameter: number;
  /** The JS function's name ('' for an anonymous one). */
  readonly callback: string;
  constructor(symbol: string, parameter: number, callback: string, refused: number, options?: PluginErrorOptions) {
    super(
      'ERR_PLUGIN_CALLBACK_THREAD',
      `${symbol}(): the plugin called the JS callback ${callback ? `'${callback}' ` : ''}passed as parameter ${parameter} from another thread (${refused} time${refused === 1 ? '' : 's'}), while the JS thread was waiting in the call; a JS callback can only run on the thread that made the call, so it was not run and the plugin got a zero result. Fix the plugin to call it on the calling thread (or pass the address of a native function instead); thread-safe callbacks are not supported yet`,
      options,
    );
    this.symbol = symbol;
    this.parameter = parameter;
    this.callback = callback;
  }
}

/** The `integrity` option is not a valid integrity string (an option error, before any file is read). */
export class IntegrityOptionError extends PluginError {
  constructor(message: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_BAD_INTEGRITY', message, options);
  }
}

/** rustplug's own native addon cannot be loaded here: open() needs it (inspect, sri and the CLI do not). */
export class AddonUnavailableError extends PluginError {
  constructor(message: string, options?: PluginErrorOptions) {
    super('ERR_PLUGIN_ADDON_UNAVAILABLE', message, options);
  }
}

/** One compiler diagnostic from cargo's JSON messages (`compiler-message`). */
export interface CargoDiagnostic {
  /** `error`, `warning`, `note`, `help`, … */
  readonly level: string;
  readonly message: string;
  /** The text rustc would have printed (cargo's `rendered`). */
  readonly rendered: string;
  /** E.g. `E0308`, or a lint name. */
  readonly code?: string;
  /** The package it is about. */
  readonly packageId?: string;
  /** The primary span, when there is one. */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

/**
 * `cargoBuild()` (`rustplug/cargo`) could not build the crate: cargo failed or could not run, or
 * reported no library. `.diagnostics` holds every compiler diagnostic of the build, `.stderr`
 * cargo's own output (its errors about manifests, dependencies, locks).
 */
export class CargoBuildError extends PluginError {
  readonly diagnostics: readonly CargoDiagnostic[];
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly command: readonly string[];
  constructor(
    message: string,
    details: { diagnostics: readonly CargoDiagnostic[]; stderr: string; exitCode: number | null; command: readonly string[]; cause?: unknown },
  ) {
    super('ERR_CARGO_BUILD', message, { cause: details.cause });
    this.diagnostics = details.diagnostics;
    this.stderr = details.stderr;
    this.exitCode = details.exitCode;
    this.command = details.command;
  }
}

/**
 * An error the addon threw with one of rustplug's codes (Node-API errors are plain Error or
 * TypeError objects with a `code`), as the class that code belongs to; anything else unchanged.
 */
export function typedNativeError(e: unknown, path?: string): unknown {
  if (!(e instanceof Error) || e instanceof PluginError) return e;
  const code = (e as { code?: unknown }).code;
  if (code === 'ERR_PLUGIN_BAD_DECLARATION') return new DeclarationError(e.message, { path, cause: e });
  if (code === 'ERR_PLUGIN_CLOSED') return new PluginClosedError(e.message, { path, cause: e });
  return e;
}
