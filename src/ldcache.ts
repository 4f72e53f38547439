// /etc/ld.so.cache: the loader's index of sonames to files, read the way ld.so reads it.

import { readFileSync, statSync } from 'node:fs';

import { hostTarget, type ElfTarget } from './elf.js';


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
