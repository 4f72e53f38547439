// What a plugin file is and needs, without loading it. Backs `rustplug inspect`.

import { describeGraph, type DependencyInfo } from './depgraph.js';
import type { PluginKind } from './elf.js';
import { closeGraph, type NeededEntry } from './ldpath.js';
import type { PluginManifest } from './manifest.js';
import { preflight } from './preflight.js';
import type { SysrootOption } from './sysroot.js';

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
  /** The whole dependency graph as open() would load it (node 0 is the plugin). */
  dependencies: DependencyInfo[];
  /** Exported functions, sorted. */
  exports: string[];
  sizeBytes: number;
  /** SHA-256 of the file, lowercase hex. */
  sha256: string;
  /** Its RUSTPLUG_MANIFEST, or null when it exports none. */
  manifest: PluginManifest | null;
}

export interface InspectOptions {
  /** Directories searched first for NEEDED libraries, as for open(). */
  libraryPath?: string[];
  /** As open()'s sysroot option. */
  sysroot?: SysrootOption;
}

/**
 * Describes a plugin file: kind, compiler, SONAME, machine, the dependency graph as open()
 * would load it, exported functions, size and hash. Does not load it and does not throw for
 * missing dependencies (they have `path: null`); throws the same file and format errors as
 * open(). Files built for another architecture are described too.
 */
export function inspect(path: string, options: InspectOptions = {}): PluginInfo {
  const pre = preflight(path, { libraryPath: options.libraryPath, sysroot: options.sysroot, describeOnly: true });
  closeGraph(pre.graph, false);
  return {
    path,
    realPath: pre.realPath,
    kind: pre.kind,
    rustc: pre.rustc,
    soname: pre.elf.soname,
    machine: pre.elf.machine,
    needed: pre.needed,
    dependencies: describeGraph(pre.graph),
    exports: pre.elf.exports,
    sizeBytes: pre.size,
    sha256: pre.sha256,
    manifest: pre.manifest,
  };
}
