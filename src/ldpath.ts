// Resolves a shared object's whole dependency graph the way glibc's ld.so loads it, so that
// rustplug can load the graph itself (src/loader.ts) and explain a missing library before any
// code runs. What ld.so does, and so what this does:
// - breadth first: the root's NEEDED in order, then each newly found object's NEEDED;
// - a name is first matched against the objects already in the namespace (the name each was
//   opened by, the names it was found under, its SONAME); only then searched for;
// - the search: DT_RPATH of the needing object and of the chain of objects that loaded it
//   (only when the needing object has no DT_RUNPATH; an object with DT_RUNPATH has no RPATH),
//   LD_LIBRARY_PATH as the process started with it, DT_RUNPATH of the needing object,
//   ld.so.cache, the system directories (the last two skipped under DF_1_NODEFLIB); in each
//   directory the glibc-hwcaps and legacy hwcaps subdirectories come first;
// - $ORIGIN is the directory of the path the object was opened by (symlinks are not resolved);
//   paths are joined as strings, never normalised: the kernel resolves `..` after a symlink;
// - a found file that is already loaded (same device and inode) is that object;
// - a candidate for another machine or class is skipped; one that exists but is not a loadable
//   ELF file ends the search.
// rustplug adds two sources, marked as such: `libraryPath` directories before everything, and
// the Rust toolchains' sysroots (src/sysroot.ts) for a `lib<crate>-<hash>.so` nothing else has.
// Every file found is opened once, non-blocking; the descriptor is kept in its node so that
// what gets loaded is what was inspected.

import { closeSync, statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';

import { pluginKind, readElf, readElfFd, readElfHeaderFd, regularFileStat, openNonBlocking, type ElfInfo, type ElfTarget, type PluginKind } from './elf.js';
import { PluginError } from './errors.js';
import { lookupLdCache } from './ldcache.js';
import { expandSearchPath, initialLdLibraryPath, ldSo, splitLdLibraryPath } from './ldso.js';
import { loadedObjects } from './native.js';
import { isRustDylibName, toolchains, type SysrootOption } from './sysroot.js';

export type NeededVia = 'path' | 'libraryPath' | 'rpath' | 'LD_LIBRARY_PATH' | 'runpath' | 'ld.so.cache' | 'default' | 'loaded' | 'sysroot';

/** How one `DT_NEEDED` name resolves; `path`/`via` are null when the loader would not find it. */
export interface NeededEntry {
  name: string;
  path: string | null;
  via: NeededVia | null;
}

/** What resolution needs from the root object (an `ElfInfo` has all of it). */
export interface NeededSource extends ElfTarget {
  needed: readonly string[];
  rpath: string | null;
  runpath: string | null;
  soname?: string | null;
  flags1?: number;
}

export interface ResolveOptions {
  /** Directories searched first (rustplug loads what it finds there before the plugin). */
  libraryPath?: readonly string[];
  /** The LD_LIBRARY_PATH the loader uses (default: the one this process started with). */
  ldLibraryPath?: string;
  /** Consider the objects mapped into this process (default true). false: resolve as a fresh
   *  process would (as `ldd` does), with only the dynamic loader itself present. */
  loaded?: boolean;
  /** Location of the loader cache (default /etc/ld.so.cache). */
  ldCachePath?: string;
  /** The system directories (default: ld.so's own list). */
  defaultDirs?: readonly string[];
  /** Where to look for a Rust dylib's `lib<crate>-<hash>.so` that nothing else provides. */
  sysroot?: SysrootOption;
}

/** One place looked at for a name, for error messages. */
export interface SearchStep {
  via: NeededVia;
  /** The directory (or file, for 'path'/'ld.so.cache'/'loaded') that was looked at. */
  where: string;
}

/** One object of the graph. Node 0 is the root; node order is ld.so's load order. */
export interface DependencyNode {
  id: number;
  /** The name it was first needed by (for the root: the path it was opened by). */
  name: string;
  /** The path ld.so names it by (search directory + name), or null when not found. */
  path: string | null;
  via: NeededVia | null;
  soname: string | null;
  /** cdylib / rust-dylib / c, when the file could be read. */
  kind: PluginKind | null;
  /** The `<hash>` of the `libstd-<hash>.so` it is or needs (Rust dylibs), else null. */
  libstdHash: string | null;
  /** The nodes of its NEEDED names, in order (not followed for objects already loaded). */
  needed: number[];
  /** Mapped into this process before this resolution. */
  loaded: boolean;
  /** The node whose NEEDED first reached it (null for the root). */
  parent: number | null;
  /** For a missing node: where it was looked for, what was skipped, what ended the search. */
  searched: SearchStep[];
  skipped: string[];
  problem: string | null;
}

/** A node with the file it was read from; `fd` is open until `closeGraph` or the loader takes it. */
export interface ResolvedNode extends DependencyNode {
  fd: number | null;
  stat: Stats | null;
  elf: NeededSource | ElfInfo | null;
}

export interface DependencyGraph {
  nodes: ResolvedNode[];
}

export interface RootObject {
  /** The path the root is opened by; $ORIGIN is its directory. */
  path: string;
  elf: NeededSource | ElfInfo;
  fd?: number;
  stat?: Stats;
}

const DF_1_NODEFLIB = 0x800;

/** A candidate that exists but cannot be loaded: ld.so gives up on the name there. */
class SearchStop extends Error {}
const LIBSTD = /^libstd-([0-9a-f]+)\.so$/;

type Found = { fd: number; stat: Stats; path: string; via: NeededVia };
type SearchResult = Found | { path: null } | { problem: string };

/** An object in the simulated namespace: what a NEEDED name can match. */
interface LoadedObject {
  names: Set<string>;
  soname: string | null;
  dev: number;
  ino: number;
  node: number | null;
  path: string;
}

// SONAMEs of the files mapped into this process, by device:inode:mtime (they rarely change).
const sonameMemo = new Map<string, { soname: string | null; kind: PluginKind; libstdHash: string | null }>();

function describeMapped(path: string, st: Stats): { soname: string | null; kind: PluginKind; libstdHash: string | null } | null {
  const key = `${st.dev}:${st.ino}:${st.mtimeMs}`;
  let hit = sonameMemo.get(key);
  if (!hit) {
    try {
      const elf = readElf(path, { anyArch: true, symbols: false });
      hit = { soname: elf.soname, kind: pluginKind(elf), libstdHash: libstdHashOf(elf.soname, elf.needed) };
    } catch {
      return null;
    }
    sonameMemo.set(key, hit);
  }
  return hit;
}

function libstdHashOf(soname: string | null, needed: readonly string[]): string | null {
  const own = soname !== null ? LIBSTD.exec(soname) : null;
  if (own) return own[1]!;
  for (const n of needed) {
    const m = LIBSTD.exec(n);
    if (m) return m[1]!;
  }
  return null;
}

/** The directory ld.so takes as $ORIGIN for an object opened by `path`. */
export function originOf(path: string): string {
  const abs = path.startsWith('/') ? path : `${process.cwd()}/${path}`;
  const cut = abs.lastIndexOf('/');
  return cut <= 0 ? '/' : abs.slice(0, cut);
}

/** `dir` + '/' + `rest` as ld.so joins them: trailing slashes of dir dropped, nothing normalised. */
function joinDir(dir: string, rest: string): string {
  const d = dir.replace(/\/+$/, '');
  return `${d === '' && dir.startsWith('/') ? '' : d}/${rest}`;
}

function sameTarget(a: ElfTarget, b: ElfTarget): boolean {
  return a.class === b.class && a.endian === b.endian && a.machineCode === b.machineCode;
}

class Resolver {
  readonly nodes: ResolvedNode[] = [];
  private readonly objects: LoadedObject[] = [];
  private readonly subdirExists = new Map<string, boolean>();
  private readonly target: ElfTarget;
  private readonly ldLibraryPath: string[];
  private readonly libraryPath: string[];
  private readonly systemDirs: string[];

  constructor(
    root: RootObject,
    private readonly options: ResolveOptions,
  ) {
    this.target = root.elf;
    this.ldLibraryPath = splitLdLibraryPath(options.ldLibraryPath !== undefined ? options.ldLibraryPath : initialLdLibraryPath());
    this.libraryPath = (options.libraryPath ?? []).map((d) => resolve(d));
    this.systemDirs = [...(options.defaultDirs ?? ldSo().systemDirs)];
    this.addProcessObjects(options.loaded !== false);
    const st = root.stat ?? null;
    this.nodes.push(this.node(root.path, root.path, 'path', null, { fd: root.fd ?? null, stat: st, elf: root.elf }));
    if (st) this.objects.push({ names: new Set([root.path]), soname: root.elf.soname ?? null, dev: st.dev, ino: st.ino, node: 0, path: root.path });
  }

  private node(name: string, path: string | null, via: NeededVia | null, parent: number | null, file: Pick<ResolvedNode, 'fd' | 'stat' | 'elf'>): ResolvedNode {
    const elf = file.elf;
    const full = elf && 'hasRustcSection' in elf ? elf : null;
    return {
      id: this.nodes.length,
      name,
      path,
      via,
      soname: elf?.soname ?? null,
      kind: full ? pluginKind(full) : null,
      libstdHash: elf ? libstdHashOf(elf.soname ?? null, elf.needed) : null,
      needed: [],
      loaded: false,
      parent,
      searched: [],
      skipped: [],
      problem: null,
      ...file,
    };
  }

  /** The namespace before this load: every mapped object, or (as for ldd) only ld.so itself. */
  private addProcessObjects(all: boolean): void {
    const paths = all ? loadedObjects() : [ldSo().interpreter];
    for (const path of paths) {
      if (!path.startsWith('/')) continue; // the vDSO, the main program
      let st: Stats;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      const d = describeMapped(path, st);
      if (!d) continue;
      this.objects.push({ names: new Set([path]), soname: d.soname, dev: st.dev, ino: st.ino, node: null, path });
    }
  }

  run(): void {
    // Breadth first, like _dl_map_object_deps: nodes appended while iterating are visited too.
    for (let i = 0; i < this.nodes.length; i++) {
      const n = this.nodes[i]!;
      if (n.loaded || n.path === null || !n.elf) continue;
      for (const name of n.elf.needed) n.needed.push(this.needed(name, n));
    }
  }

  private matchLoaded(name: string): LoadedObject | undefined {
    return this.objects.find((o) => o.names.has(name) || o.soname === name);
  }

  /** The node for an object of the namespace, creating a 'loaded' node for a process object. */
  private nodeOf(o: LoadedObject, name: string, parent: number): number {
    if (o.node !== null) return o.node;
    let d: ReturnType<typeof describeMapped> = null;
    try {
      d = describeMapped(o.path, statSync(o.path));
    } catch {
      /* unreadable: still loaded */
    }
    const n = this.node(name, o.path, 'loaded', parent, { fd: null, stat: null, elf: null });
    n.loaded = true;
    n.soname = d?.soname ?? o.soname;
    n.kind = d?.kind ?? null;
    n.libstdHash = d?.libstdHash ?? null;
    this.nodes.push(n);
    o.node = n.id;
    return n.id;
  }

  private needed(name: string, loader: ResolvedNode): number {
    const hit = this.matchLoaded(name);
    if (hit) return this.nodeOf(hit, name, loader.id);
    const steps: SearchStep[] = [];
    const skipped: string[] = [];
    let found: SearchResult;
    try {
      found = this.search(name, loader, steps, skipped);
    } catch (e) {
      if (!(e instanceof SearchStop)) throw e;
      found = { problem: e.message };
    }
    if ('problem' in found || found.path === null) {
      const n = this.node(name, null, null, loader.id, { fd: null, stat: null, elf: null });
      n.searched = steps;
      n.skipped = skipped;
      n.problem = 'problem' in found ? found.problem : null;
      this.nodes.push(n);
      return n.id;
    }
    const { fd, stat, path, via } = found;
    const same = this.objects.find((o) => o.dev === stat.dev && o.ino === stat.ino);
    if (same) {
      closeSync(fd);
      same.names.add(name);
      return this.nodeOf(same, name, loader.id);
    }
    let elf: ElfInfo;
    try {
      elf = readElfFd(fd, path, stat.size);
    } catch (e) {
      closeSync(fd);
      const n = this.node(name, null, null, loader.id, { fd: null, stat: null, elf: null });
      n.searched = steps;
      n.problem = `${path}: ${e instanceof Error ? e.message : String(e)}`;
      this.nodes.push(n);
      return n.id;
    }
    const n = this.node(name, path, via, loader.id, { fd, stat, elf });
    n.searched = steps;
    n.skipped = skipped;
    this.nodes.push(n);
    this.objects.push({ names: new Set([path, name]), soname: elf.soname, dev: stat.dev, ino: stat.ino, node: n.id, path });
    return n.id;
  }

  private search(
    name: string,
    loader: ResolvedNode,
    steps: SearchStep[],
    skipped: string[],
  ): SearchResult {
    const elf = loader.elf!;
    if (name.includes('/')) {
      const file = expandSearchPath(name, originOf(loader.path!))[0]!;
      steps.push({ via: 'path', where: file });
      return this.tryFile(file, 'path', skipped) ?? { path: null };
    }
    const tryDirs = (dirs: readonly string[], via: NeededVia) => {
      for (const dir of dirs) {
        steps.push({ via, where: dir });
        const r = this.tryDir(dir, name, via, skipped);
        if (r) return r;
      }
      return null;
    };
    const found =
      tryDirs(this.libraryPath, 'libraryPath') ??
      (elf.runpath === null ? tryDirs(this.rpathChain(loader), 'rpath') : null) ??
      tryDirs(this.ldLibraryPath, 'LD_LIBRARY_PATH') ??
      (elf.runpath !== null ? tryDirs(expandSearchPath(elf.runpath, originOf(loader.path!)), 'runpath') : null) ??
      this.fromSystem(name, elf, steps, skipped) ??
      this.fromSysroot(name, steps, skipped);
    return found ?? { path: null };
  }

  /** DT_RPATH of the loader and of each object above it (one without RUNPATH), each expanded
   *  with its own $ORIGIN. The process's own ancestors (node, the addon) have none. */
  private rpathChain(loader: ResolvedNode): string[] {
    const dirs: string[] = [];
    for (let n: ResolvedNode | undefined = loader; n; n = n.parent === null ? undefined : this.nodes[n.parent]) {
      if (n.elf && n.elf.rpath !== null && n.elf.runpath === null) dirs.push(...expandSearchPath(n.elf.rpath, originOf(n.path!)));
    }
    return dirs;
  }

  private fromSystem(name: string, elf: NeededSource, steps: SearchStep[], skipped: string[]) {
    if ((elf.flags1 ?? 0) & DF_1_NODEFLIB) return null;
    steps.push({ via: 'ld.so.cache', where: this.options.ldCachePath ?? '/etc/ld.so.cache' });
    for (const file of lookupLdCache(name, this.target, this.options.ldCachePath)) {
      const r = this.tryFile(file, 'ld.so.cache', skipped);
      if (r) return r;
    }
    for (const dir of this.systemDirs) {
      steps.push({ via: 'default', where: dir });
      const r = this.tryDir(dir, name, 'default', skipped);
      if (r) return r;
    }
    return null;
  }

  private fromSysroot(name: string, steps: SearchStep[], skipped: string[]) {
    if (!isRustDylibName(name)) return null;
    for (const tc of toolchains(this.options.sysroot)) {
      for (const dir of tc.libDirs) {
        steps.push({ via: 'sysroot', where: dir });
        const r = this.tryFile(joinDir(dir, name), 'sysroot', skipped);
        if (r) return r;
      }
    }
    return null;
  }

  private tryDir(dir: string, name: string, via: NeededVia, skipped: string[]) {
    for (const sub of ldSo().subdirs) {
      const first = joinDir(dir, sub.slice(0, sub.indexOf('/')));
      let there = this.subdirExists.get(first);
      if (there === undefined) {
        try {
          there = statSync(first).isDirectory();
        } catch {
          there = false;
        }
        this.subdirExists.set(first, there);
      }
      if (!there) continue;
      const r = this.tryFile(joinDir(dir, sub + name), via, skipped);
      if (r) return r;
    }
    return this.tryFile(joinDir(dir, name), via, skipped);
  }

  /** Opens a candidate: the found file, null to go on searching, or a problem that ends the
   *  search (a file that exists but cannot be loaded, as ld.so stops there too). */
  private tryFile(file: string, via: NeededVia, skipped: string[]) {
    let fd: number;
    try {
      fd = openNonBlocking(file);
    } catch {
      return null;
    }
    try {
      const stat = regularFileStat(fd, file);
      const h = readElfHeaderFd(fd, file, stat.size, { anyArch: true });
      if (!sameTarget(h, this.target)) {
        skipped.push(file);
        closeSync(fd);
        return null;
      }
      return { fd, stat, path: file, via };
    } catch (e) {
      closeSync(fd);
      if (!(e instanceof PluginError)) throw e;
      throw new SearchStop(`${file}: ${e.message}`);
    }
  }
}

/**
 * Resolves the dependency graph of `root` like ld.so. Missing names become nodes with
 * `path: null` (and the search is reported in `searched`); resolution goes on so that every
 * missing library is named at once. The caller owns the descriptors: hand the graph to the
 * loader or call `closeGraph`.
 */
export function resolveGraph(root: RootObject, options: ResolveOptions = {}): DependencyGraph {
  const r = new Resolver(root, options);
  try {
    r.run();
  } catch (e) {
    closeGraph({ nodes: r.nodes });
    throw e;
  }
  return { nodes: r.nodes };
}

/** Closes every descriptor the graph still holds (except the root's, which the caller opened). */
export function closeGraph(graph: DependencyGraph, keepRoot = true): void {
  for (const n of graph.nodes) {
    if (n.fd !== null && !(keepRoot && n.id === 0)) {
      closeSync(n.fd);
      n.fd = null;
    }
  }
}

/** The nodes that are not found. */
export function missingNodes(graph: DependencyGraph): ResolvedNode[] {
  return graph.nodes.filter((n) => n.path === null);
}

/** Resolves only the root's own NEEDED names (a convenience over resolveGraph). */
export function traceNeeded(elf: NeededSource, path: string, options: ResolveOptions = {}): (NeededEntry & Pick<DependencyNode, 'searched' | 'skipped' | 'problem'>)[] {
  const g = resolveGraph({ path, elf }, options);
  closeGraph(g);
  return g.nodes[0]!.needed.map((id, i) => {
    const n = g.nodes[id]!;
    // A library reached again under another name keeps its first name; report the NEEDED name.
    return { name: elf.needed[i]!, path: n.path, via: n.via, searched: n.searched, skipped: n.skipped, problem: n.problem };
  });
}

/** Resolves the root's NEEDED names like ld.so: `{ name, path, via }` per name, in ELF order. */
export function resolveNeeded(elf: NeededSource, path: string, options: ResolveOptions = {}): NeededEntry[] {
  return traceNeeded(elf, path, options).map(({ name, path: p, via }) => ({ name, path: p, via }));
}
