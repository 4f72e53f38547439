// Hostile ELF shapes: headers that claim far more than the file holds. Each one must end in
// ERR_PLUGIN_MALFORMED within a second and well under 64 MiB of extra memory, whatever it claims.
import { closeSync, openSync, readFileSync, writeFileSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { readElf } from '../src/elf.js';
import { PluginFormatError } from '../src/errors.js';
import { cc, makeTempDir } from './helpers/elf-fixtures.js';
import { thrown } from './helpers/plugins.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

let dir: string;
let gnuLib: Buffer; // default --hash-style=gnu
let sysvLib: Buffer; // --hash-style=sysv: DT_HASH
beforeAll(() => {
  dir = makeTempDir();
  writeFileSync(join(dir, 'p.c'), 'int p_add(int a, int b) { return a + b; }\nint p_data = 3;\n');
  cc(['-shared', '-fPIC', '-o', 'libgnu.so', 'p.c', '-Wl,-soname,libgnu.so'], dir);
  cc(['-shared', '-fPIC', '-o', 'libsysv.so', 'p.c', '-Wl,--hash-style=sysv', '-Wl,-soname,libsysv.so'], dir);
  gnuLib = readFileSync(join(dir, 'libgnu.so'));
  sysvLib = readFileSync(join(dir, 'libsysv.so'));
});

/** Writes `buf` and makes the file `apparentSize` bytes long with a hole: a sparse giant. */
function sparse(name: string, buf: Buffer, apparentSize = buf.length): string {
  const f = join(dir, name);
  writeFileSync(f, buf);
  const fd = openSync(f, 'r+');
  try {
    if (apparentSize > buf.length) ftruncateSync(fd, apparentSize);
  } finally {
    closeSync(fd);
  }
  return f;
}

function peakRssKiB(): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

/** Runs readElf on `file`; returns the error, how long it took and how far the peak RSS rose. */
function measure(file: string): { error: unknown; ms: number; extraMiB: number } {
  readElf(join(dir, 'libgnu.so')); // warm: code paths compiled before the peak is reset
  writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
  const base = peakRssKiB();
  const t0 = performance.now();
  const error = thrown(() => readElf(file));
  const ms = performance.now() - t0;
  return { error, ms, extraMiB: (peakRssKiB() - base) / 1024 };
}

function expectBoundedMalformed(file: string, message: RegExp): void {
  const { error, ms, extraMiB } = measure(file);
  expect(error).toBeInstanceOf(PluginFormatError);
  expect((error as PluginFormatError).code).toBe('ERR_PLUGIN_MALFORMED');
  expect((error as Error).message).toMatch(message);
  expect(ms).toBeLessThan(1000);
  expect(extraMiB).toBeLessThan(64);
}

/** Offsets in a 64-bit little-endian file without section headers: the PT_DYNAMIC entries. */
function dynamicEntries(buf: Buffer): Map<number, { at: number; val: bigint }> {
  const phoff = Number(buf.readBigUInt64LE(32));
  const phnum = buf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * 56;
    if (buf.readUInt32LE(p) !== 2) continue;
    const off = Number(buf.readBigUInt64LE(p + 8));
    const out = new Map<number, { at: number; val: bigint }>();
    for (let o = off; ; o += 16) {
      const tag = Number(buf.readBigUInt64LE(o));
      if (tag === 0) return out;
      out.set(tag, { at: o + 8, val: buf.readBigUInt64LE(o + 8) });
    }
  }
  throw new Error('no PT_DYNAMIC');
}

/** A copy without section headers, so the reader must use PT_DYNAMIC and the hash tables. */
function withoutSections(src: Buffer): Buffer {
  const b = Buffer.from(src);
  b.fill(0, 40, 48); // e_shoff
  b.fill(0, 60, 64); // e_shnum, e_shstrndx
  return b;
}

describe('hostile ELF headers', () => {
  it('a 16 KiB sparse file claiming 2 GiB of section headers', () => {
    const b = Buffer.from(gnuLib.subarray(0, 16 * 1024));
    const shoff = 8192;
    b.writeBigUInt64LE(BigInt(shoff), 40);
    b.writeUInt16LE(0, 60); // e_shnum 0: the count lives in section header 0's sh_size
    b.fill(0, shoff, shoff + 64);
    b.writeBigUInt64LE(BigInt(2 * GiB / 64), shoff + 32);
    expectBoundedMalformed(sparse('giant-sections.so', b, shoff + 2 * GiB + 4096), /section header table .*claims 2147483648 bytes/);
  });

  it('maximal program and section header counts and entry sizes', () => {
    const ph = Buffer.from(gnuLib);
    ph.writeUInt16LE(0xffff, 54);
    ph.writeUInt16LE(0xffff, 56);
    expectBoundedMalformed(sparse('huge-ph.so', ph, 5 * GiB), /program header table claims 4294836225 bytes/);
    const sh = Buffer.from(gnuLib);
    sh.writeUInt16LE(0xffff, 58);
    sh.writeUInt16LE(0xffff, 60);
    expectBoundedMalformed(sparse('huge-sh.so', sh, 5 * GiB), /section header table .*claims 4294836225 bytes/);
  });

  it('an endless GNU hash chain (zeros, no end marker, up to a 64 MiB sparse end)', () => {
    const b = withoutSections(gnuLib);
    const gnuHash = Number(dynamicEntries(b).get(0x6ffffef5)!.val); // vaddr == offset in the first PT_LOAD
    const nbuckets = b.readUInt32LE(gnuHash);
    const bloom = b.readUInt32LE(gnuHash + 8);
    const buckets = gnuHash + 16 + bloom * 8;
    // Every bucket points far into the chain array, which lies in the hole: all zeros.
    for (let i = 0; i < nbuckets; i++) b.writeUInt32LE(600_000, buckets + i * 4);
    expectBoundedMalformed(sparse('endless-chain.so', b, 64 * MiB), /GNU hash chain does not end/);
  });

  it('a GNU hash table whose buckets and symbol offset claim billions of symbols', () => {
    const b = withoutSections(gnuLib);
    const gnuHash = Number(dynamicEntries(b).get(0x6ffffef5)!.val);
    const many = Buffer.from(b);
    many.writeUInt32LE(0xfffffff0, gnuHash); // nbuckets
    expectBoundedMalformed(sparse('many-buckets.so', many, 3 * GiB), /GNU hash table claims 4294967280 buckets/);
    const far = Buffer.from(b);
    far.writeUInt32LE(0xfffffff0, gnuHash + 4); // symoffset
    expectBoundedMalformed(sparse('far-symoffset.so', far, 3 * GiB), /claims 4294967280 symbols/);
  });

  it('a cyclic SysV hash chain with an impossible nchain', () => {
    const b = withoutSections(sysvLib);
    const hash = Number(dynamicEntries(b).get(4)!.val);
    const nbucket = b.readUInt32LE(hash);
    b.writeUInt32LE(0xffffffff, hash + 4); // nchain
    for (let i = 0; i < nbucket; i++) b.writeUInt32LE(1, hash + 8 + i * 4);
    b.writeUInt32LE(1, hash + 8 + nbucket * 4 + 4); // chain[1] = 1: a cycle
    expectBoundedMalformed(sparse('cyclic-sysv.so', b, 2 * GiB), /claims 4294967295 symbols/);
  });

  it('string tables past the end of the file, and one that claims 1.5 GiB of a sparse file', () => {
    const b = withoutSections(gnuLib);
    const strsz = dynamicEntries(b).get(10)!; // DT_STRSZ
    const past = Buffer.from(b);
    past.writeBigUInt64LE(BigInt(past.length + 100), strsz.at);
    expectBoundedMalformed(sparse('strtab-past-eof.so', past), /dynamic string table .*extends past the end/);
    const giant = Buffer.from(b);
    giant.writeBigUInt64LE(BigInt(1.5 * GiB), strsz.at);
    expectBoundedMalformed(sparse('strtab-giant.so', giant, 2 * GiB), /dynamic string table claims 1610612736 bytes/);
    // With section headers: .dynstr's sh_offset moved past EOF.
    const withSh = Buffer.from(gnuLib);
    const shoff = Number(withSh.readBigUInt64LE(40));
    const shnum = withSh.readUInt16LE(60);
    for (let i = 0; i < shnum; i++) {
      const s = shoff + i * 64;
      if (withSh.readUInt32LE(s + 4) === 3 && i !== withSh.readUInt16LE(62)) withSh.writeBigUInt64LE(BigInt(withSh.length * 2), s + 24);
    }
    expectBoundedMalformed(sparse('dynstr-section-past-eof.so', withSh), /string table .*extends past the end/);
  });

  it('a dynamic section that never ends lists at most 4096 NEEDED libraries', () => {
    const b = withoutSections(gnuLib);
    const phoff = Number(b.readBigUInt64LE(32));
    const phnum = b.readUInt16LE(56);
    let pd = -1;
    for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * 56) === 2) pd = phoff + i * 56;
    // PT_DYNAMIC moved to a fresh 1 MiB region full of DT_NEEDED entries, no DT_NULL.
    const strtab = dynamicEntries(b).get(5)!.val;
    const strsz = dynamicEntries(b).get(10)!.val;
    const region = Buffer.alloc(MiB);
    for (let o = 0; o < 32; o += 16) {
      region.writeBigUInt64LE(o === 0 ? 5n : 10n, o);
      region.writeBigUInt64LE(o === 0 ? strtab : strsz, o + 8);
    }
    for (let o = 32; o < region.length; o += 16) {
      region.writeBigUInt64LE(1n, o);
      region.writeBigUInt64LE(1n, o + 8);
    }
    const file = Buffer.concat([b, region]);
    file.writeBigUInt64LE(BigInt(b.length), pd + 8);
    file.writeBigUInt64LE(BigInt(region.length), pd + 32);
    expectBoundedMalformed(sparse('endless-dynamic.so', file, 2 * GiB), /more than 4096 NEEDED/);
  });
});
