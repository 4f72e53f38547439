// Builds the files the ELF / preflight / CLI tests read: tiny shared objects compiled with `cc`,
// and malformed copies of them. Everything goes into a fresh temp dir (mode 0700).

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function makeTempDir(prefix = 'rustplug-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cc(args: string[], cwd: string): void {
  execFileSync('cc', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Copies `src` to `dst` and overwrites bytes at the given offsets. */
export function patchedCopy(src: string, dst: string, patches: [offset: number, bytes: number[]][]): string {
  const buf = readFileSync(src);
  for (const [off, bytes] of patches) bytes.forEach((b, i) => (buf[off + i] = b));
  writeFileSync(dst, buf);
  return dst;
}

/** Writes the first `length` bytes of `src` to `dst`. */
export function truncatedCopy(src: string, dst: string, length: number): string {
  writeFileSync(dst, readFileSync(src).subarray(0, length));
  return dst;
}

export interface CFixtures {
  dir: string;
  /** libplain.so (SONAME libplain.so.1): plain_add, plain_weak, plain_protected, plain_calls_puts; data plain_counter, plain_table. */
  plain: string;
  /** NEEDED libmissingdep.so, which does not exist anywhere. */
  needsMissing: string;
  /** libsubdep.so in <dir>/sub. */
  subdep: string;
  /** NEEDED libsubdep.so, DT_RPATH $ORIGIN/sub. */
  withRpath: string;
  /** NEEDED libsubdep.so, DT_RUNPATH $ORIGIN/sub. */
  withRunpath: string;
  /** A symlink, in <dir>/links, to withRunpath: $ORIGIN must be the real file's directory. */
  runpathLink: string;
  /** An ET_EXEC executable (cc -no-pie). */
  exe: string;
  /** A PIE executable (ET_DYN with DF_1_PIE). */
  pie: string;
  /** A relocatable object (.o, ET_REL). */
  object: string;
  text: string;
  empty: string;
  directory: string;
  /** libplain.so cut to 1000 bytes: header fine, section headers past EOF. */
  truncated: string;
  /** libplain.so cut to 40 bytes, inside the ELF header. */
  truncatedHeader: string;
  /** libplain.so with e_machine = 183 (aarch64). */
  aarch64: string;
  /** libplain.so with EI_CLASS = 1 (32-bit). */
  class32: string;
  /** libplain.so with EI_DATA = 2 (big-endian). */
  bigEndian: string;
  /** libplain.so without section headers (e_shoff, e_shnum, e_shstrndx zeroed). */
  noSections: string;
  /** libsubdep.so patched to aarch64, in <dir>/alt-arm. */
  subdepArm: string;
}

const PLAIN_C = `
#include <stdio.h>
int plain_add(int a, int b) { return a + b; }
__attribute__((weak)) int plain_weak(void) { return 1; }
__attribute__((visibility("protected"))) int plain_protected(void) { return 2; }
__attribute__((visibility("hidden"))) int plain_hidden(void) { return 3; }
static int plain_static(void) { return 4; }
int plain_calls_puts(void) { return puts("x") + plain_static() + plain_hidden(); }
int plain_counter = 3;
const int plain_table[4] = {1, 2, 3, 4};
`;

function le16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}

/** Compiles the C fixtures into a new temp dir. Takes a second or two. */
export function buildCFixtures(): CFixtures {
  const dir = makeTempDir();
  const w = (name: string, text: string) => writeFileSync(join(dir, name), text);
  w('plain.c', PLAIN_C);
  w('dep.c', 'int dep_value(void) { return 42; }\n');
  w('uses.c', 'int dep_value(void);\nint uses_dep(void) { return dep_value() + 1; }\n');
  w('main.c', 'int main(void) { return 0; }\n');

  const plain = join(dir, 'libplain.so');
  cc(['-shared', '-fPIC', '-o', plain, 'plain.c', '-Wl,-soname,libplain.so.1'], dir);

  mkdirSync(join(dir, 'stub'));
  cc(['-shared', '-fPIC', '-o', 'stub/libmissingdep.so', 'dep.c'], dir);
  const needsMissing = join(dir, 'libneedsmissing.so');
  cc(['-shared', '-fPIC', '-o', needsMissing, 'uses.c', '-Wl,--no-as-needed', '-Lstub', '-lmissingdep'], dir);
  rmSync(join(dir, 'stub'), { recursive: true });

  mkdirSync(join(dir, 'sub'));
  const subdep = join(dir, 'sub', 'libsubdep.so');
  cc(['-shared', '-fPIC', '-o', subdep, 'dep.c', '-Wl,-soname,libsubdep.so'], dir);
  const withRpath = join(dir, 'libwithrpath.so');
  cc(['-shared', '-fPIC', '-o', withRpath, 'uses.c', '-Wl,--no-as-needed', '-Lsub', '-lsubdep', '-Wl,--disable-new-dtags,-rpath,$ORIGIN/sub'], dir);
  const withRunpath = join(dir, 'libwithrunpath.so');
  cc(['-shared', '-fPIC', '-o', withRunpath, 'uses.c', '-Wl,--no-as-needed', '-Lsub', '-lsubdep', '-Wl,--enable-new-dtags,-rpath,${ORIGIN}/sub'], dir);
  mkdirSync(join(dir, 'links'));
  const runpathLink = join(dir, 'links', 'libviasymlink.so');
  symlinkSync(withRunpath, runpathLink);

  const exe = join(dir, 'exe');
  cc(['-no-pie', '-fno-pie', '-o', exe, 'main.c'], dir);
  const pie = join(dir, 'pie');
  cc(['-pie', '-fPIE', '-o', pie, 'main.c'], dir);
  const object = join(dir, 'plain.o');
  cc(['-c', '-fPIC', '-o', object, 'plain.c'], dir);

  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'these are not the bytes you are looking for\n');
  const empty = join(dir, 'empty.so');
  writeFileSync(empty, '');
  const directory = join(dir, 'a-directory.so');
  mkdirSync(directory);

  const truncated = truncatedCopy(plain, join(dir, 'truncated.so'), 1000);
  const truncatedHeader = truncatedCopy(plain, join(dir, 'truncated-header.so'), 40);
  const aarch64 = patchedCopy(plain, join(dir, 'aarch64.so'), [[18, le16(183)]]);
  const class32 = patchedCopy(plain, join(dir, 'class32.so'), [[4, [1]]]);
  const bigEndian = patchedCopy(plain, join(dir, 'bigendian.so'), [[5, [2]]]);
  const noSections = patchedCopy(plain, join(dir, 'nosections.so'), [
    [40, [0, 0, 0, 0, 0, 0, 0, 0]], // e_shoff
    [60, [0, 0, 0, 0]], // e_shnum, e_shstrndx
  ]);
  mkdirSync(join(dir, 'alt-arm'));
  const subdepArm = patchedCopy(subdep, join(dir, 'alt-arm', 'libsubdep.so'), [[18, le16(183)]]);

  for (const f of [plain, needsMissing, subdep, withRpath, withRunpath]) chmodSync(f, 0o755);

  return {
    dir,
    plain,
    needsMissing,
    subdep,
    withRpath,
    withRunpath,
    runpathLink,
    exe,
    pie,
    object,
    text,
    empty,
    directory,
    truncated,
    truncatedHeader,
    aarch64,
    class32,
    bigEndian,
    noSections,
    subdepArm,
  };
}

/** A small deterministic PRNG (mulberry32) for reproducible fuzzing. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function copyInto(src: string, dir: string, name: string, mode?: number): string {
  const dst = join(dir, name);
  copyFileSync(src, dst);
  if (mode !== undefined) chmodSync(dst, mode);
  return dst;
}
