// Everything rustplug checks about a plugin before any of its code runs. The file is opened
// once (non-blocking: a FIFO is refused, never read); that descriptor is permission-checked,
// hashed, parsed and, by src/loader.ts, mapped. Then the dependency graph is resolved like
// ld.so (src/ldpath.ts), every dependency loaded from outside the system directories is
// permission-checked too, and a missing one is explained. Each failure is a PluginError whose
// message says what was found and what to do.

import { closeSync, readdirSync, readlinkSync, lstatSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { hostTarget, openNonBlocking, pluginKind, readElfFd, regularFileStat, type ElfInfo, type ElfTarget, type PluginKind } from './elf.js';
import { DeclarationError, MissingDependencyError, PluginError, PluginFormatError, PluginNotFoundError } from './errors.js';
import { checkIntegrity, hashFd, parseIntegrity } from './integrity.js';
import { closeGraph, missingNodes, resolveGraph, type DependencyGraph, type NeededEntry, type ResolvedNode, type SearchStep } from './ldpath.js';
import { initialLdLibraryPath } from './ldso.js';
import { MANIFEST_SYMBOL, manifestOf, type PluginManifest } from './manifest.js';
import { checkPermissions } from './permissions.js';
import { suggest } from './suggest.js';
import { rustDylibCrate, rustupToolchainFor, toolchains, type SysrootOption } from './sysroot.js';

export interface PreflightOptions {
  /** Directories searched first for the plugin's NEEDED libraries. */
  libraryPath?: string[];
  /** Pinned hash of the file: 'sha256-<base64>' (or sha384-/sha512-) or 'sha256:<hex>'. */
  integrity?: string;
  /** Skip the file/directory permission checks. */
  allowInsecure?: boolean;
  /** Where a Rust dylib's libstd-<hash>.so may come from: the installed toolchains (default), none (false), or one sysroot. */
  sysroot?: SysrootOption;
  /** Describe rather than vet: no permission checks, missing libraries are nodes, not an error, any architecture. */
  describeOnly?: boolean;
}

export interface PreflightResult {
  /** The path as given. */
  path: string;
  /** The path the plugin is loaded by, as ld.so would name it (absolute, not normalised; $ORIGIN is its directory). */
  loadPath: string;
  /** The real path of the opened file. */
  realPath: string;
  elf: ElfInfo;
  kind: PluginKind;
  /** `rustc X (hash date)` of the compiler that built the plugin, from `.comment`, or null. */
  rustc: string | null;
  /** The plugin's own NEEDED names and where each resolves. */
  needed: NeededEntry[];
  /** The whole graph, node 0 the plugin; its descriptors are open until loaded or closed. */
  graph: DependencyGraph;
  /** SHA-256 of the opened file, lowercase hex. */
  sha256: string;
  size: number;
  /** Its RUSTPLUG_MANIFEST (read from the file, no code run), or null when it exports none. */
  manifest: PluginManifest | null;
}

// ---------------------------------------------------------------------------------------------
// Locating the file

function soFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /\.so(\.|$)/.test(f));
  } catch {
    return [];
  }
}

function didYouMean(dir: string, name: string): string {
  const found = suggest(name, soFilesIn(dir), 3);
  return found.length ? ` Did you mean ${found.map((f) => join(dir, f)).join(' or ')}?` : '';
}

/** Why `path` (absolute `abs`) could not be opened, as a PluginNotFoundError. */
function notFound(path: string, abs: string, cause: unknown): PluginError {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code !== 'ENOENT' && code !== 'ENOTDIR' && cause instanceof PluginError) return cause;
  let detail: string;
  let hint = '';
  try {
    if (lstatSync(abs).isSymbolicLink()) detail = `it is a symbolic link to ${readlinkSync(abs)}, which does not exist`;
    else detail = `it cannot be accessed (${code})`;
  } catch {
    const dir = dirname(abs);
    let dirExists = false;
    try {
      dirExists = statSync(dir).isDirectory();
    } catch {
      /* no directory */
    }
    detail = dirExists ? `there is no such file in ${dir}` : `the directory ${dir} does not exist`;
    if (dirExists) hint = didYouMean(dir, basename(abs));
  }
  return new PluginNotFoundError(
    'ERR_PLUGIN_NOT_FOUND',
    `no plugin file at ${path}${abs !== path ? ` (${abs})` : ''}: ${detail}; check the path (relative paths are resolved from ${process.cwd()}) and that the plugin was built (cargo build --release puts it in target/release/lib<crate>.so).${hint}`,
    { path, cause },
  );
}

function notAFile(path: string, abs: string, e: PluginError): PluginError {
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    /* gone meanwhile */
  }
  if (!isDir) return e;
  const sos = soFilesIn(abs);
  return new PluginNotFoundError(
    'ERR_PLUGIN_NOT_A_FILE',
    `${path} is a directory, not a plugin file; pass the path of the .so file${sos.length ? ` (it contains ${sos.slice(0, 5).join(', ')}${sos.length > 5 ? ', …' : ''})` : ', e.g. target/release/lib<crate>.so'}`,
    { path },
  );
}

/** Opens the plugin by the path ld.so would use; returns the descriptor and its fstat. */
function openPlugin(path: string, loadPath: string): { fd: number; st: ReturnType<typeof regularFileStat> } {
  let fd: number;
  try {
    fd = openNonBlocking(loadPath);
  } catch (e) {
    throw notFound(path, loadPath, (e as PluginError).cause ?? e);
  }
  try {
    return { fd, st: regularFileStat(fd, path) };
  } catch (e) {
    closeSync(fd);
    throw e instanceof PluginNotFoundError ? notAFile(path, loadPath, e) : e;
  }
}

/**
 * A name without a slash is searched for the way dlopen searches (the loaded objects, then
 * LD_LIBRARY_PATH, ld.so.cache and the system directories; rustplug's addon and node have no
 * RPATH/RUNPATH); returns the path it is found by.
 */
function searchBareName(name: string, options: PreflightOptions): string {
  const graph = resolveGraph(
    { path: join(process.cwd(), '(dlopen)'), elf: { ...hostLike(), needed: [name], rpath: null, runpath: null } },
    { libraryPath: options.libraryPath, sysroot: options.sysroot },
  );
  closeGraph(graph, false);
  const hit = graph.nodes[1]!;
  if (hit.path !== null) return hit.path;
  const local = soFilesIn(process.cwd()).includes(name) ? ` There is a ${name} in the current directory: pass './${name}' to open that file.` : '';
  throw new PluginNotFoundError(
    'ERR_PLUGIN_NOT_FOUND',
    `no library named ${name}: a name without '/' is searched for the way dlopen does, and it is not loaded already nor found (${describeSearch(hit)}). Pass the path of the plugin file (e.g. target/release/lib<crate>.so) or install the library.${local}`,
    { path: name },
  );
}

function hostLike(): ElfTarget {
  return hostTarget() ?? { class: 64, endian: 'little', machineCode: 62, machine: 'x86_64' };
}

// ---------------------------------------------------------------------------------------------
// Missing dependencies

const RUST_STD_CRATES = new Set(['std', 'test', 'proc_macro', 'rustc_driver']);

function describeSearch(n: Pick<ResolvedNode, 'name' | 'searched' | 'skipped' | 'problem'>): string {
  const groups = new Map<string, string[]>();
  for (const s of n.searched) {
    if (s.via === 'loaded') continue;
    const key = s.via === 'rpath' ? 'RPATH' : s.via === 'runpath' ? 'RUNPATH' : s.via === 'default' ? 'default dirs' : s.via === 'sysroot' ? 'Rust sysroots' : s.via;
    const list = groups.get(key) ?? [];
    if (!list.includes(s.where)) list.push(s.where);
    groups.set(key, list);
  }
  const parts = [...groups].map(([k, v]) => (k === 'ld.so.cache' || k === 'path' ? v.join(', ') : `${k} ${v.join(', ')}`));
  if (!n.searched.some((s: SearchStep) => s.via === 'LD_LIBRARY_PATH') && !n.name.includes('/')) parts.push('LD_LIBRARY_PATH (unset)');
  let text = `searched ${parts.join('; ')}`;
  if (n.skipped.length) text += `; skipped ${n.skipped.join(', ')} (built for another architecture)`;
  if (n.problem) text += `; stopped at ${n.problem}`;
  return text;
}

function explainOne(n: ResolvedNode, graph: DependencyGraph, options: PreflightOptions): string {
  const parent = graph.nodes[n.parent ?? 0]!;
  const root = graph.nodes[0]!;
  const label = parent === root ? n.name : `${n.name} (needed by ${parent.path})`;
  const useDir = (dir: string) => `pass { libraryPath: ['${dir}'] } to open() or set LD_LIBRARY_PATH=${dir} before starting node`;
  const crate = n.name.includes('/') ? null : rustDylibCrate(n.name);
  if (crate !== null) {
    const what = RUST_STD_CRATES.has(crate)
      ? `Rust's ${crate === 'std' ? 'standard library' : crate} as a shared library, needed because the plugin is a Rust dylib or was built with -C prefer-dynamic`
      : `a Rust dylib (crate '${crate}')`;
    if (RUST_STD_CRATES.has(crate)) {
      const builder = (parent.elf && 'rustc' in parent.elf ? parent.elf.rustc : null) ?? (root.elf && 'rustc' in root.elf ? root.elf.rustc : null);
      const built = builder ?? 'an unknown rustc (the plugin has no rustc .comment)';
      const toolchainArg = builder ? rustupToolchainFor(builder) : null;
      if (options.sysroot === false) {
        const has = toolchains(undefined).find((t) => t.libDirs.some((d) => exists(join(d, n.name))));
        if (has) return `${label}: ${what}; the Rust toolchain ${has.name} has it, but the sysroot option is false: drop that option, or ${useDir(has.libDirs.find((d) => exists(join(d, n.name)))!)}`;
      }
      const searched = toolchains(options.sysroot);
      const where = options.sysroot === false
        ? 'not found (the sysroot option is false, so no Rust toolchain was searched)'
        : searched.length
          ? `no installed Rust toolchain has it (searched ${searched.map((t) => `${t.name}: ${t.libDirs.join(', ') || t.sysroot}`).join('; ')})`
          : 'not found: rustc is not on PATH and there are no rustup toolchains, so no Rust sysroot could be searched';
      return `${label}: ${what}; ${where}; the plugin was built by ${built}: install that toolchain (rustup toolchain install ${toolchainArg ?? '<version>'}) or build the plugin as a cdylib (crate-type = ["cdylib"], which links std statically)`;
    }
    return `${label}: ${what}, not found (${describeSearch(n)}); cargo puts it in target/<profile>/deps of the workspace that built it: ${useDir('<that dir>')}, or build the plugin as a cdylib`;
  }
  const fix = n.name.includes('/')
    ? `${parent.path} names it by path; make the file exist there or relink it`
    : `install the package that provides it, or ${useDir('<dir containing it>')}, or relink ${parent === root ? 'the plugin' : parent.path} with -Wl,-rpath,'$ORIGIN' and put it next to ${basename(parent.path ?? '')}`;
  return `${label}: not found (${describeSearch(n)}); ${fix}`;
}

function exists(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The MissingDependencyError for a graph with missing nodes (null when nothing is missing). */
export function missingError(path: string, graph: DependencyGraph, options: PreflightOptions): MissingDependencyError | null {
  const missing = missingNodes(graph);
  if (missing.length === 0) return null;
  const lines = missing.map((n) => `  - ${explainOne(n, graph, options)}`);
  let note = '';
  const startup = initialLdLibraryPath();
  const now = process.env.LD_LIBRARY_PATH;
  if ((startup ?? '') !== (now ?? '')) {
    note = `\n(LD_LIBRARY_PATH was changed after node started, to ${JSON.stringify(now ?? '')}; the loader only reads it at startup, so set it before starting node or use the libraryPath option)`;
  }
  const direct = missing.every((n) => n.parent === 0);
  const what = missing.length === 1 ? (direct ? 'its NEEDED library' : 'the NEEDED library') : `${missing.length} of ${direct ? 'its' : 'the'} NEEDED libraries`;
  return new MissingDependencyError(
    `cannot load ${path}: the dynamic loader would not find ${what} ${missing.map((n) => n.name).join(', ')}:\n${lines.join('\n')}${note}`,
    missing.map((n) => n.name),
    { path },
  );
}

// ---------------------------------------------------------------------------------------------
// Preflight

function checkOptions(options: PreflightOptions): void {
  if (options === null || typeof options !== 'object') throw new DeclarationError(`the options of open() must be an object, got ${String(options)}`);
  const lp = options.libraryPath;
  if (lp !== undefined && (!Array.isArray(lp) || lp.some((d) => typeof d !== 'string' || d === ''))) {
    throw new DeclarationError(`the libraryPath option must be an array of directory paths (non-empty strings), got ${JSON.stringify(lp)}`);
  }
  const sr = options.sysroot;
  if (sr !== undefined && sr !== false && (typeof sr !== 'string' || sr === '')) {
    throw new DeclarationError(`the sysroot option must be false or a sysroot directory (e.g. the output of rustc --print sysroot), got ${JSON.stringify(sr)}`);
  }
  if (options.integrity !== undefined) parseIntegrity(options.integrity);
}

const SYSTEM_VIAS = new Set(['ld.so.cache', 'default', 'loaded']);

/**
 * Checks a plugin before any of its code runs and returns what was found, with the open
 * descriptors of the plugin and of every dependency to load (hand `graph` to loadGraph, or
 * closeGraph(graph, false) to release them). Throws PluginNotFoundError, InsecurePluginError,
 * IntegrityError, PluginFormatError, PluginArchError or MissingDependencyError.
 */
export function preflight(path: string, options: PreflightOptions = {}): PreflightResult {
  checkOptions(options);
  if (typeof path !== 'string' || path === '') {
    throw new PluginNotFoundError('ERR_PLUGIN_NOT_FOUND', `the plugin path must be a non-empty string, got ${JSON.stringify(path) ?? String(path)}`);
  }
  const loadPath = path.includes('/') ? (path.startsWith('/') ? path : `${process.cwd()}/${path}`) : searchBareName(path, options);
  const { fd, st } = openPlugin(path, loadPath);
  let graph: DependencyGraph | undefined;
  try {
    const vet = !options.describeOnly;
    if (vet && !options.allowInsecure) checkPermissions(loadPath, st);
    let sha256: string | undefined;
    if (options.integrity !== undefined) sha256 = checkIntegrity(path, options.integrity, fd).sha256;
    const elf = readElfFd(fd, path, st.size, { anyArch: !vet, dataSymbols: [MANIFEST_SYMBOL] });
    const manifest = manifestOf(elf, path);
    if (elf.pie) {
      // glibc ≥ 2.30 refuses to dlopen a PIE executable; say so before dlopen's terse message.
      throw new PluginFormatError(
        'ERR_PLUGIN_NOT_SHARED_OBJECT',
        `${path} is a position-independent executable (DF_1_PIE), not a shared library, and glibc refuses to dlopen it; build the crate as a library: [lib] crate-type = ["cdylib"] in Cargo.toml (or link C code with cc -shared -fPIC)`,
        { path },
      );
    }
    sha256 ??= hashFd(fd, ['sha256']).sha256.toString('hex');
    graph = resolveGraph({ path: loadPath, elf, fd, stat: st }, { libraryPath: options.libraryPath, sysroot: options.sysroot });
    if (vet) {
      const missing = missingError(path, graph, options);
      if (missing) throw missing;
      if (!options.allowInsecure) {
        for (const n of graph.nodes) {
          if (n.id !== 0 && n.fd !== null && n.stat && !SYSTEM_VIAS.has(n.via!)) checkPermissions(n.path!, n.stat, `${n.path} (a dependency of ${path})`);
        }
      }
    }
    const root = graph.nodes[0]!;
    return {
      path,
      loadPath,
      realPath: readlinkSync(`/proc/self/fd/${fd}`),
      elf,
      kind: pluginKind(elf),
      rustc: elf.rustc,
      needed: root.needed.map((id, i) => {
        const n = graph!.nodes[id]!;
        return { name: elf.needed[i]!, path: n.path, via: n.via };
      }),
      graph,
      sha256,
      size: st.size,
      manifest,
    };
  } catch (e) {
    if (graph) closeGraph(graph, false);
    else closeSync(fd);
    throw e;
  }
}
