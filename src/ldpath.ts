// Resolves an ELF file's DT_NEEDED names the way glibc's dynamic loader (ld.so) would, so that a
// missing dependency can be named and explained before dlopen reports it tersely.

import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

import { hostTarget, readElf, readElfHeader, type ElfTarget } from './elf.js';

export type NeededVia = 'path' | 'libraryPath' | 'rpath' | 'LD_LIBRARY_PATH' | 'runpath' | 'ld.so.cache' | 'default' | 'loaded';

/** How one `DT_NEEDED` name resolves; `path`/`via` are null when the loader would not find it. */
export interface NeededEntry {
  name: string;
  path: string | null;
  via: NeededVia | null;
}

/** What resolution needs from an ELF file (an `ElfInfo` has all of it). */
export interface NeededSource extends ElfTarget {
  needed: readonly string[];
  rpath: string | null;
  runpath: string | null;
}

export interface ResolveOptions {
  /** Directories searched first (rustplug pre-loads dependencies found there before dlopen). */
  libraryPath?: readonly string[];
  /**
   * The LD_LIBRARY_PATH the loader uses. Defaults to the value this process started with (read
   * from /proc/self/environ: ld.so reads it once at startup, so later changes to
   * `process.env.LD_LIBRARY_PATH` do not affect dlopen), or `process.env` when that is unreadable.
   */
  ldLibraryPath?: string;
  /** Consider libraries already mapped into this process (default true). */
  loaded?: boolean;
  /** Location of the loader cache (default /etc/ld.so.cache). */
  ldCachePath?: string;
  /** Trusted default directories (default: the multiarch and lib64 dirs of this system). */
  defaultDirs?: readonly string[];
}

/** One step of the search for a name, for error messages. */
export interface SearchStep {
  via: NeededVia;
  /** The directory (or file, for 'path'/'ld.so.cache'/'loaded') that was looked at. */
  where: string;
}

export interface ResolveTrace extends NeededEntry {
  searched: SearchStep[];
  /** Candidates that exist but were skipped (wrong class or machine, or not ELF). */
  skipped: string[];
}

// ---------------------------------------------------------------------------------------------
// Dynamic string tokens

const MULTIARCH: Record<string, string> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  ia32: 'i386-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  riscv64: 'riscv64-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
  s390x: 's390x-linux-gnu',
  loong64: 'loongarch64-linux-gnu',
};

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

let libToken: string | undefined;
/** What `$LIB` expands to: Debian's multiarch dir when this system has it, else lib64/lib. */
export function libDirToken(): string {
  if (libToken !== undefined) return libToken;
  const multi = MULTIARCH[process.arch];
  const is64 = hostTarget()?.class === 64;
  if (multi && exists(`/lib/${multi}`)) libToken = `lib/${multi}`;
  else libToken = is64 ? 'lib64' : 'lib';
  return libToken;
}

/** What `$PLATFORM` expands to (AT_PLATFORM): x86_64, aarch64, ... */
export function platformToken(): string {
  const t = hostTarget();
  if (!t) return process.arch;
  if (t.machine === 'i386') return 'i686';
  if (t.machine === 'powerpc64') return t.endian === 'little' ? 'ppc64le' : 'ppc64';
  return t.machine;
}

/**
 * Splits an RPATH/RUNPATH string and expands `$ORIGIN`, `${ORIGIN}`, `$LIB`, `${LIB}`,
 * `$PLATFORM`, `${PLATFORM}`. `origin` is the directory of the real path of the object.
 * An empty element means the current directory, as for the loader.
 */
export function expandSearchPath(value: string, origin: string): string[] {
  return value.split(':').map((element) =>
    element.replace(/\$(\{(ORIGIN|LIB|PLATFORM)\}|ORIGIN(?![A-Za-z0-9_])|LIB(?![A-Za-z0-9_])|PLATFORM(?![A-Za-z0-9_]))/g, (_m, braced: string, inner?: string) => {
      const token = inner ?? braced;
      if (token === 'ORIGIN') return origin;
      if (token === 'LIB') return libDirToken();
      return platformToken();
    }) || '.',
  );
}

// ---------------------------------------------------------------------------------------------
// /etc/ld.so.cache

export interface LdCacheEntry {
  /** The library name (SONAME) the entry is looked up by. */
  name: string;
  /** The file it points to. */
  path: string;
  /** ld.so.cache flags: type in the low byte (3 = ELF libc6), required arch bits above. */
  flags: number;
  /** hwcap bits (0 for the baseline entries); new format only. */
  hwcap: bigint;
}

const OLD_MAGIC = 'ld.so-1.7.0';
const NEW_MAGIC = 'glibc-ld.so.cache1.1';
const NEW_HEADER = 48;
const NEW_ENTRY = 24;
const OLD_ENTRY = 12;

/** Parses the binary ld.so.cache (new `glibc-ld.so.cache1.1` format, or the old `ld.so-1.7.0` one). Returns [] for garbage. */
export function parseLdCache(buf: Buffer): LdCacheEntry[] {
  const str = (base: number, off: number): string | null => {
    const at = base + off;
    if (at < 0 || at >= buf.length) return null;
    const end = buf.indexOf(0, at);
    return end < 0 ? null : buf.toString('utf8', at, end);
  };
  const parseNew = (start: number): LdCacheEntry[] | null => {
    if (buf.length < start + NEW_HEADER || buf.toString('latin1', start, start + NEW_MAGIC.length) !== NEW_MAGIC) return null;
    const nlibs = buf.readUInt32LE(start + 20);
    if (start + NEW_HEADER + nlibs * NEW_ENTRY > buf.length) return null;
    const out: LdCacheEntry[] = [];
    for (let i = 0; i < nlibs; i++) {
      const e = start + NEW_HEADER + i * NEW_ENTRY;
      const name = str(start, buf.readUInt32LE(e + 4));
      const path = str(start, buf.readUInt32LE(e + 8));
      if (name === null || path === null) continue;
      out.push({ name, path, flags: buf.readInt32LE(e), hwcap: buf.readBigUInt64LE(e + 16) });
    }
    return out;
  };
  const direct = parseNew(0);
  if (direct) return direct;
  if (buf.length < 16 || buf.toString('latin1', 0, OLD_MAGIC.length) !== OLD_MAGIC) return [];
  const nlibs = buf.readUInt32LE(12);
  const stringsAt = 16 + nlibs * OLD_ENTRY;
  if (stringsAt > buf.length) return [];
  // A new-format table may follow the old entries (aligned to 8); prefer it.
  const combined = parseNew((stringsAt + 7) & ~7);
  if (combined) return combined;
  const out: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const e = 16 + i * OLD_ENTRY;
    const name = str(stringsAt, buf.readUInt32LE(e + 4));
    const path = str(stringsAt, buf.readUInt32LE(e + 8));
    if (name === null || path === null) continue;
    out.push({ name, path, flags: buf.readInt32LE(e), hwcap: 0n });
  }
  return out;
}

/** The ld.so.cache flags value of libraries for this process (e.g. 0x0303 on x86_64). */
export function ldCacheFlagsFor(target: ElfTarget | null = hostTarget()): number | null {
  if (!target) return null;
  const ELF_LIBC6 = 3;
  switch (target.machine) {
    case 'x86_64':
      return ELF_LIBC6 | 0x0300;
    case 'x32':
      return ELF_LIBC6 | 0x0800;
    case 'aarch64':
      return ELF_LIBC6 | 0x0a00;
    case 'i386':
      return ELF_LIBC6;
    case 'powerpc64':
    case 's390x':
    case 'sparc64':
      return ELF_LIBC6 | 0x0500;
    case 'riscv64':
      return ELF_LIBC6 | 0x1000 | 0x0200; // lp64d (the common hard-float ABI)
    default:
      return null; // unknown: accept any ELF libc6 entry, the header check filters
  }
}

const cacheMemo = new Map<string, { key: string; entries: LdCacheEntry[] }>();

/** Reads and parses the loader cache once per process (re-read only if the file changes). */
export function readLdCache(path = '/etc/ld.so.cache'): LdCacheEntry[] {
  let key: string;
  try {
    const st = statSync(path);
    key = `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return [];
  }
  const hit = cacheMemo.get(path);
  if (hit && hit.key === key) return hit.entries;
  let entries: LdCacheEntry[];
  try {
    entries = parseLdCache(readFileSync(path));
  } catch {
    entries = [];
  }
  cacheMemo.set(path, { key, entries });
  return entries;
}

/** The cache entries for `name` usable by `target`, best first (baseline before hwcaps subdirs). */
export function lookupLdCache(name: string, target: ElfTarget | null = hostTarget(), cachePath?: string): string[] {
  const want = ldCacheFlagsFor(target);
  const matches = readLdCache(cachePath).filter(
    (e) => e.name === name && (want === null ? (e.flags & 0xff) === 3 : e.flags === want),
  );
  matches.sort((a, b) => (a.hwcap === 0n ? 0 : 1) - (b.hwcap === 0n ? 0 : 1));
  return matches.map((e) => e.path);
}

// ---------------------------------------------------------------------------------------------
// Already loaded libraries

/** Libraries mapped into this process, by file basename (read from /proc/self/maps each call). */
export function loadedLibraries(): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const slash = line.indexOf('/');
    if (slash < 0) continue;
    const file = line.slice(slash);
    if (file.endsWith(' (deleted)')) continue;
    const base = basename(file);
    if (!out.has(base)) out.set(base, file);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// LD_LIBRARY_PATH

let startupLdLibraryPath: string | null | undefined;

/** LD_LIBRARY_PATH as it was when this process started (what ld.so uses), or undefined if unset. */
export function initialLdLibraryPath(): string | undefined {
  if (startupLdLibraryPath === undefined) {
    try {
      const env = readFileSync('/proc/self/environ', 'latin1').split('\0');
      const hit = env.find((kv) => kv.startsWith('LD_LIBRARY_PATH='));
      startupLdLibraryPath = hit === undefined ? null : Buffer.from(hit.slice('LD_LIBRARY_PATH='.length), 'latin1').toString('utf8');
    } catch {
      startupLdLibraryPath = process.env.LD_LIBRARY_PATH ?? null;
    }
  }
  return startupLdLibraryPath ?? undefined;
}

/** Splits LD_LIBRARY_PATH as glibc does (':' or ';'; an empty element is the current directory). */
export function splitLdLibraryPath(value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  return value.split(/[:;]/).map((d) => d || '.');
}

// ---------------------------------------------------------------------------------------------
// Resolution

/** The trusted directories searched last, those of this system that exist. */
export function defaultLibraryDirs(): string[] {
  const multi = MULTIARCH[process.arch];
  const dirs = [
    ...(multi ? [`/lib/${multi}`, `/usr/lib/${multi}`] : []),
    ...(hostTarget()?.class === 64 ? ['/lib64', '/usr/lib64'] : []),
    '/lib',
    '/usr/lib',
  ];
  return dirs;
}

function matchesTarget(file: string, target: ElfTarget): 'ok' | 'missing' | 'mismatch' {
  try {
    if (!statSync(file).isFile()) return 'missing';
  } catch {
    return 'missing';
  }
  try {
    const h = readElfHeader(file, { anyArch: true });
    return h.class === target.class && h.endian === target.endian && h.machineCode === target.machineCode ? 'ok' : 'mismatch';
  } catch {
    return 'mismatch';
  }
}

interface Context {
  target: ElfTarget;
  origin: string;
  libraryPath: string[];
  rpath: string[];
  ldLibraryPath: string[];
  runpath: string[];
  loaded: Map<string, string> | null;
  loadedSonames?: Map<string, string>;
  ldCachePath: string | undefined;
  defaultDirs: string[];
}

function makeContext(elf: NeededSource, realPath: string, options: ResolveOptions): Context {
  const origin = dirname(realPath);
  const ldLibraryPath = options.ldLibraryPath !== undefined ? options.ldLibraryPath : initialLdLibraryPath();
  return {
    target: { class: elf.class, endian: elf.endian, machineCode: elf.machineCode, machine: elf.machine },
    origin,
    libraryPath: (options.libraryPath ?? []).map((d) => resolve(d)),
    // DT_RPATH is ignored when DT_RUNPATH is present.
    rpath: elf.rpath !== null && elf.runpath === null ? expandSearchPath(elf.rpath, origin) : [],
    ldLibraryPath: splitLdLibraryPath(ldLibraryPath),
    runpath: elf.runpath !== null ? expandSearchPath(elf.runpath, origin) : [],
    loaded: options.loaded === false ? null : loadedLibraries(),
    ldCachePath: options.ldCachePath,
    defaultDirs: [...(options.defaultDirs ?? defaultLibraryDirs())],
  };
}

function resolveOne(name: string, ctx: Context): ResolveTrace {
  const searched: SearchStep[] = [];
  const skipped: string[] = [];
  const found = (path: string, via: NeededVia): ResolveTrace => ({ name, path, via, searched, skipped });
  const tryFile = (file: string, via: NeededVia, where = dirname(file)): boolean => {
    searched.push({ via, where });
    const m = matchesTarget(file, ctx.target);
    if (m === 'mismatch') skipped.push(file);
    return m === 'ok';
  };

  if (name.includes('/')) {
    const file = isAbsolute(name) ? name : resolve(name);
    if (tryFile(file, 'path', file)) return found(file, 'path');
    return { name, path: null, via: null, searched, skipped };
  }
  for (const dir of ctx.libraryPath) {
    const file = join(dir, name);
    if (tryFile(file, 'libraryPath')) return found(file, 'libraryPath');
  }
  if (ctx.loaded) {
    const hit = ctx.loaded.get(name);
    searched.push({ via: 'loaded', where: 'libraries already loaded in this process' });
    if (hit) return found(hit, 'loaded');
  }
  const dirs: [NeededVia, string[]][] = [
    ['rpath', ctx.rpath],
    ['LD_LIBRARY_PATH', ctx.ldLibraryPath],
    ['runpath', ctx.runpath],
  ];
  for (const [via, list] of dirs) {
    for (const dir of list) {
      const file = join(resolve(dir), name);
      if (tryFile(file, via)) return found(file, via);
    }
  }
  searched.push({ via: 'ld.so.cache', where: ctx.ldCachePath ?? '/etc/ld.so.cache' });
  for (const file of lookupLdCache(name, ctx.target, ctx.ldCachePath)) {
    const m = matchesTarget(file, ctx.target);
    if (m === 'ok') return found(file, 'ld.so.cache');
    if (m === 'mismatch') skipped.push(file);
  }
  for (const dir of ctx.defaultDirs) {
    const file = join(dir, name);
    if (tryFile(file, 'default')) return found(file, 'default');
  }
  // Last resort: a loaded library whose SONAME (not file name) is `name`, e.g. one loaded by
  // path as libfoo.so.1.2.3 with SONAME libfoo.so.1. Only computed on this failure path.
  if (ctx.loaded) {
    const hit = loadedBySoname(ctx).get(name);
    if (hit) return found(hit, 'loaded');
  }
  return { name, path: null, via: null, searched, skipped };
}

function loadedBySoname(ctx: Context): Map<string, string> {
  if (!ctx.loadedSonames) {
    ctx.loadedSonames = new Map();
    for (const file of new Set(ctx.loaded?.values())) {
      try {
        const soname = readElf(file).soname;
        if (soname !== null && !ctx.loadedSonames.has(soname)) ctx.loadedSonames.set(soname, file);
      } catch {
        /* not a library of ours to judge */
      }
    }
  }
  return ctx.loadedSonames;
}

/** Resolves every DT_NEEDED name of `elf` (whose real path is `realPath`), with the search trace. */
export function traceNeeded(
  elf: NeededSource,
  realPath: string,
  options: ResolveOptions = {},
): ResolveTrace[] {
  const ctx = makeContext(elf, realPath, options);
  return elf.needed.map((name) => resolveOne(name, ctx));
}

/** Resolves every DT_NEEDED name of `elf` like ld.so: `{ name, path, via }` per name, in ELF order. */
export function resolveNeeded(
  elf: NeededSource,
  realPath: string,
  options: ResolveOptions = {},
): NeededEntry[] {
  return traceNeeded(elf, realPath, options).map(({ name, path, via }) => ({ name, path, via }));
}
