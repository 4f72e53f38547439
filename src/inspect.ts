// What a plugin file is and needs, without loading it. Backs `lib.info` and `rustplug inspect`.

import { pluginKind, readElf, type PluginKind } from './elf.js';
import { hashFile } from './integrity.js';
import { resolveNeeded, type NeededEntry } from './ldpath.js';
import { locatePlugin } from './preflight.js';

export interface PluginInfo {
  /** The path as given. */
  path: string;
  /** The resolved real path. */
  realPath: string;
  kind: PluginKind;
  /** `rustc X (hash date)` that built it, from `.comment`, or null. */
  rustc: string | null;
  soname: string | null;
  /** `x86_64`, `aarch64`, ... */
  machine: string;
  /** Each NEEDED library and where the loader would find it (path null: not found). */
  needed: NeededEntry[];
  /** Exported functions, sorted. */
  exports: string[];
  sizeBytes: number;
  /** SHA-256 of the file, lowercase hex. */
  sha256: string;
}

export interface InspectOptions {
  /** Directories searched first for NEEDED libraries, as for open(). */
  libraryPath?: string[];
  /** Also describe files built for another architecture (NEEDED resolution then rarely finds anything). */
  anyArch?: boolean;
}

/**
 * Describes a plugin file: kind, compiler, SONAME, machine, NEEDED resolution, exported
 * functions, size and hash. Does not dlopen it and does not throw for missing dependencies
 * (they have `path: null`); throws the same file and format errors as `readElf`.
 */
export function inspect(path: string, options: InspectOptions = {}): PluginInfo {
  const { realPath, size } = locatePlugin(path);
  const elf = readElf(path, { anyArch: options.anyArch });
  const needed = resolveNeeded(elf, realPath, { libraryPath: options.libraryPath });
  return {
    path,
    realPath,
    kind: pluginKind(elf),
    rustc: elf.rustc,
    soname: elf.soname,
    machine: elf.machine,
    needed,
    exports: elf.exports,
    sizeBytes: size,
    sha256: hashFile(realPath, ['sha256']).sha256.toString('hex'),
  };
}
