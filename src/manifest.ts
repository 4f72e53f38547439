// RUSTPLUG_MANIFEST: a plugin's load-time contract, a NUL-terminated UTF-8 JSON object stored as
// an exported data symbol. It is read from the ELF file (src/elf.ts), never by running plugin
// code, so every rule it feeds (src/sharing.ts) is checked before dlopen.

import type { ElfInfo } from './elf.js';
import { PluginFormatError } from './errors.js';

export const MANIFEST_SYMBOL = 'RUSTPLUG_MANIFEST';
/** Bigger than any real manifest by far; a symbol claiming more is refused, not read. */
export const MAX_MANIFEST_BYTES = 64 << 10;
/** The async-ffi ABI version whose layouts rustplug drives (docs/abi.md). */
export const ASYNC_FFI_ABI = 2;

export interface SharedCrate {
  version: string;
  features: string[];
}

/** The manifest as the plugin states it. Only `rustplug` is required; unknown keys are kept. */
export interface PluginManifest {
  rustplug: 1;
  plugin?: { name?: string; version?: string };
  /** `1.95.0 (59807616e 2026-04-14)`: the first line of `rustc -vV` without `rustc `. */
  rustc?: string;
  /** `x86_64-unknown-linux-gnu`. */
  target?: string;
  /** ABI versions it speaks, e.g. `{ "async-ffi": 2 }`. */
  abi?: Record<string, number>;
  /** Crates it shares with other modules through a Rust dylib. */
  shared?: Record<string, SharedCrate>;
  [key: string]: unknown;
}

/** The plugin's manifest, or null when it exports none. Throws ERR_PLUGIN_MALFORMED naming the symbol. */
export function manifestOf(elf: ElfInfo, path: string): PluginManifest | null {
  const sym = elf.dataSymbols.find((d) => d.name === MANIFEST_SYMBOL);
  if (sym === undefined) return null;
  const bad = (why: string, fix = 'rebuild the plugin with rustplug_plugin::manifest!() or fix the data it exports') =>
    new PluginFormatError('ERR_PLUGIN_MALFORMED', `${path}: its ${MANIFEST_SYMBOL} symbol ${why}; ${fix}`, { path });
  if (sym.size > MAX_MANIFEST_BYTES) throw bad(`is ${sym.size} bytes, more than a manifest may be (${MAX_MANIFEST_BYTES} bytes)`);
  if (sym.bytes === null) throw bad('has no bytes in the file (it is not initialised read-only data, e.g. it lives in .bss)', 'export it as initialised data: a static [u8; N] in Rust, a const char[] in C');
  const nul = sym.bytes.indexOf(0);
  if (nul < 0) throw bad(`is not NUL-terminated within its ${sym.size} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(sym.bytes.subarray(0, nul));
  } catch {
    throw bad('is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw bad(`is not JSON (${(e as Error).message}): ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)}`);
  }
  const problem = shapeProblem(value);
  if (problem) throw bad(problem);
  return value as PluginManifest;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a parsed manifest's shape, or null. */
function shapeProblem(m: unknown): string | null {
  if (!isObject(m)) return 'is JSON but not an object';
  if (m.rustplug !== 1) return `states "rustplug": ${JSON.stringify(m.rustplug) ?? 'nothing'}, and this rustplug reads manifest version 1 only`;
  if (m.plugin !== undefined && (!isObject(m.plugin) || ['name', 'version'].some((k) => (m.plugin as Record<string, unknown>)[k] !== undefined && typeof (m.plugin as Record<string, unknown>)[k] !== 'string'))) {
    return 'has a "plugin" that is not { "name": string, "version": string }';
  }
  for (const k of ['rustc', 'target']) if (m[k] !== undefined && typeof m[k] !== 'string') return `has a "${k}" that is not a string`;
  if (m.abi !== undefined && (!isObject(m.abi) || Object.values(m.abi).some((v) => !Number.isInteger(v)))) return 'has an "abi" that is not an object of integer versions';
  if (m.shared !== undefined) {
    if (!isObject(m.shared)) return 'has a "shared" that is not an object of crates';
    for (const [name, c] of Object.entries(m.shared)) {
      if (!isObject(c) || typeof c.version !== 'string' || !Array.isArray(c.features) || c.features.some((f) => typeof f !== 'string')) {
        return `has a "shared" crate "${name}" that is not { "version": string, "features": [string] }`;
      }
    }
  }
  return null;
}
