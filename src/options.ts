// The options objects users pass: open()'s and an async call's trailing { signal, ref }. Each is
// read once into a plain copy; an unknown key (a typo, an option of another library) is refused
// with a did-you-mean instead of being silently ignored.
import { types } from 'node:util';

import { DeclarationError, PluginArgumentError } from './errors.js';
import { refuseUnknownKey } from './ir.js';
import { suggest } from './suggest.js';

const OPEN_KEYS = ['lazy', 'global', 'nodelete', 'deepbind', 'integrity', 'allowInsecure', 'libraryPath', 'ref', 'sysroot'] as const;
const OPEN_BOOLEANS: ReadonlySet<string> = new Set(['lazy', 'global', 'nodelete', 'deepbind', 'allowInsecure', 'ref']);

/** open()'s options, read once (a plain frozen copy; libraryPath's array is copied too). */
export function readOpenOptions<T extends object>(options: T | undefined): T {
  if (options === undefined) return Object.freeze({}) as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new DeclarationError(`open(path, declarations, options): options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    if (!(OPEN_KEYS as readonly string[]).includes(key)) refuseUnknownKey('open() options', key, OPEN_KEYS);
    let v = (options as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (OPEN_BOOLEANS.has(key) && typeof v !== 'boolean') throw new DeclarationError(`open() options: '${key}' must be a boolean, got ${typeof v}`);
    // Copied so that the loader reads the list we checked, not a user array read again later.
    if (key === 'libraryPath' && Array.isArray(v)) v = Array.from({ length: v.length }, (_, i) => (v as unknown[])[i]);
    out[key] = v;
  }
  return Object.freeze(out) as T;
}

const CALL_KEYS = ['signal', 'ref'] as const;

/** An async call's options, read once. */
export interface CallOptionValues {
  signal: AbortSignal | undefined;
  ref: boolean | undefined;
}

// Taken at load time: brand checks that a later change to the globals or a fake object cannot fool.
const abortSignalPrototype = AbortSignal.prototype;
const abortedGetter = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
const getPrototypeOf = Object.getPrototypeOf;

/**
 * A real AbortSignal: not a Proxy (whose traps could run anything), with the real prototype
 * (instanceof can be faked with Symbol.hasInstance), and accepted by Node's own `aborted` getter,
 * which checks the signal's internal state.
 */
export function isAbortSignal(v: unknown): v is AbortSignal {
  if (typeof v !== 'object' || v === null || types.isProxy(v)) return false;
  if (getPrototypeOf(v) !== abortSignalPrototype) return false;
  try {
    abortedGetter.call(v);
    return true;
  } catch {
    return false;
  }
}

/** Whether a real signal is aborted, without looking up a property the user could shadow. */
export function isAborted(signal: AbortSignal): boolean {
  return abortedGetter.call(signal) === true;
}

/** Reads { signal, ref } once; throws PluginArgumentError naming the symbol for anything else. */
export function readCallOptions(symbol: string, options: object): CallOptionValues {
  let signal: unknown;
  let ref: unknown;
  for (const key of Object.keys(options)) {
    if (key === 'signal') signal = (options as { signal?: unknown }).signal;
    else if (key === 'ref') ref = (options as { ref?: unknown }).ref;
    else {
      const near = suggest(key, CALL_KEYS, 1);
      throw new PluginArgumentError(symbol, `${symbol}(): unknown call option '${key}'${near.length ? `; did you mean '${near[0]}'?` : ` (the options are ${CALL_KEYS.join(', ')})`}`);
    }
  }
  if (ref !== undefined && typeof ref !== 'boolean') throw new PluginArgumentError(symbol, `${symbol}(): options.ref must be a boolean, got ${typeof ref}`);
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new PluginArgumentError(symbol, `${symbol}(): options.signal must be an AbortSignal (e.g. from new AbortController() or AbortSignal.timeout()), got ${typeof signal === 'object' && signal !== null ? 'another object' : typeof signal}`);
  }
  return { signal: signal as AbortSignal | undefined, ref: ref as boolean | undefined };
}

/** lib.callback()'s options: { ref } (default false: a kept callback does not keep the process alive). */
export function readCallbackOptions(options: unknown): boolean {
  if (options === undefined) return false;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new PluginArgumentError('callback', 'callback(signature, fn, options): options must be an object { ref?: boolean }');
  }
  let ref: unknown;
  for (const key of Object.keys(options)) {
    if (key !== 'ref') refuseUnknownKey('callback() options', key, ['ref'] as const);
    ref = (options as { ref?: unknown }).ref;
  }
  if (ref !== undefined && typeof ref !== 'boolean') throw new PluginArgumentError('callback', `callback(): options.ref must be a boolean, got ${typeof ref}`);
  return ref === true;
}
