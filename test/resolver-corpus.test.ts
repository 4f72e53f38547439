// The resolver against ld.so itself: a generated corpus of shared objects, and for each case the
// whole dependency graph rustplug computes (as a fresh process would see it) must be what
// LD_TRACE_LOADED_OBJECTS=1 (ldd) reports for the same object, line for line.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { readElf } from '../src/elf.js';
import { closeGraph, resolveGraph } from '../src/ldpath.js';
import { ldSo } from '../src/ldso.js';
import { cc, tempDir } from './helpers/plugins.js';

let C: string;

interface SoOptions {
  /** [dir, name]: linked as -L<dir> -l<name> (or -l:<name> for a full file name). */
  libs?: [string, string][];
  rpath?: string;
  runpath?: string;
  soname?: string;
  extra?: string[];
}

/** Builds a shared object `out` (relative to C) that needs `libs`. */
function so(out: string, o: SoOptions = {}): string {
  const path = join(C, out);
  mkdirSync(join(path, '..'), { recursive: true });
  const args = ['-shared', '-fPIC', '-o', path, join(C, 'f.c'), '-Wl,--no-as-needed'];
  for (const [dir, name] of o.libs ?? []) args.push(`-L${join(C, dir)}`, name.startsWith('lib') ? `-l:${name}` : `-l${name}`);
  if (o.rpath) args.push('-Wl,--disable-new-dtags', `-Wl,-rpath,${o.rpath}`);
  if (o.runpath) args.push('-Wl,--enable-new-dtags', `-Wl,-rpath,${o.runpath}`);
  if (o.soname) args.push(`-Wl,-soname,${o.soname}`);
  cc([...args, ...(o.extra ?? [])], C);
  return path;
}

/** What ld.so reports for `root`: `name => path` or `name => not found`, in its order. */
function ldd(root: string, ldLibraryPath?: string): string[] {
  const env = { ...process.env };
  delete env.LD_LIBRARY_PATH;
  if (ldLibraryPath !== undefined) env.LD_LIBRARY_PATH = ldLibraryPath;
  let out: string;
  try {
    out = execFileSync(ldSo().interpreter, [root], { env: { ...env, LD_TRACE_LOADED_OBJECTS: '1' }, encoding: 'utf8' });
  } catch (e) {
    out = (e as { stdout: string }).stdout; // exits 1 when something is missing
  }
  return out
    .split('\n')
    .map((l) => /^\t(\S+) => (.*?)(?: \(0x[0-9a-f]+\))?$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} => ${m[2]}`);
}

/** What rustplug resolves for `root`, as a fresh process would (only ld.so itself loaded). */
function ours(root: string, ldLibraryPath?: string): string[] {
  const g = resolveGraph({ path: root, elf: readElf(root, { anyArch: true }) }, { loaded: false, ldLibraryPath: ldLibraryPath ?? '', sysroot: false });
  closeGraph(g);
  return g.nodes
    .slice(1)
    .filter((n) => n.via !== 'loaded') // ld.so itself: ldd prints it without "=>"
    .map((n) => `${n.name} => ${n.path ?? 'not found'}`);
}

beforeAll(() => {
  C = tempDir();
  writeFileSync(join(C, 'f.c'), 'int f(void) { return 1; }\n');
});

/** Sets DT_RUNPATH next to DT_RPATH: the object is linked with -soname <runpath> and the
 *  DT_SONAME entry's tag is then turned into DT_RUNPATH (ld emits only one of the two). */
function addRunpath(path: string): void {
  const b = readFileSync(path);
  const phoff = Number(b.readBigUInt64LE(32));
  for (let i = 0; i < b.readUInt16LE(56); i++) {
    const p = phoff + i * 56;
    if (b.readUInt32LE(p) !== 2) continue;
    for (let o = Number(b.readBigUInt64LE(p + 8)); b.readBigUInt64LE(o) !== 0n; o += 16) {
      if (b.readBigUInt64LE(o) === 14n) b.writeBigUInt64LE(29n, o);
    }
  }
  writeFileSync(path, b);
}

const cases: [string, () => { root: string; env?: string }][] = [
  ['DT_RPATH with $ORIGIN', () => {
    so('c1/a/libx.so');
    return { root: so('c1/root.so', { libs: [['c1/a', 'x']], rpath: '$ORIGIN/a' }) };
  }],
  ['DT_RUNPATH with ${ORIGIN}', () => {
    so('c2/a/libx.so');
    return { root: so('c2/root.so', { libs: [['c2/a', 'x']], runpath: '${ORIGIN}/a' }) };
  }],
  ['RPATH is inherited by the dependencies, RUNPATH is not', () => {
    so('c3/lib/libb.so');
    so('c3/lib/liba.so', { libs: [['c3/lib', 'b']] });
    so('c3/rp.so', { libs: [['c3/lib', 'a']], rpath: '$ORIGIN/lib' });
    return { root: so('c3/rup.so', { libs: [['c3/lib', 'a']], runpath: '$ORIGIN/lib' }) };
  }],
  ['RPATH inherited (the RPATH half of the previous case)', () => ({ root: join(C, 'c3/rp.so') })],
  ['with both, DT_RPATH is ignored for DT_RUNPATH', () => {
    so('c4/r/libx.so');
    so('c4/u/libx.so');
    const root = so('c4/root.so', { libs: [['c4/r', 'x']], rpath: '$ORIGIN/r', soname: '$ORIGIN/u' });
    addRunpath(root);
    return { root };
  }],
  ['LD_LIBRARY_PATH comes after RPATH', () => {
    so('c5/r/libx.so');
    so('c5/e/libx.so');
    so('c5/u/libx.so');
    return { root: so('c5/rp.so', { libs: [['c5/r', 'x']], rpath: '$ORIGIN/r' }), env: join(C, 'c5/e') };
  }],
  ['LD_LIBRARY_PATH comes before RUNPATH', () => ({ root: so('c5/rup.so', { libs: [['c5/u', 'x']], runpath: '$ORIGIN/u' }), env: `${join(C, 'c5/nothing')}:${join(C, 'c5/e')}` })],
  ['$LIB and $PLATFORM', () => {
    so(`c6/${ldSo().platform}/libx.so`);
    so(`c6/${ldSo().lib}/liby.so`);
    return { root: so('c6/root.so', { libs: [[`c6/${ldSo().platform}`, 'x'], [`c6/${ldSo().lib}`, 'y']], runpath: `${join(C, 'c6')}/$PLATFORM:${join(C, 'c6')}/$LIB` }) };
  }],
  ['a symlinked directory: $ORIGIN/.. goes through the link target', () => {
    so('c7/real/lib/libv.so');
    so('c7/lib/libv.so'); // where a lexical ".." would look
    so('c7/real/plugins/root.so', { libs: [['c7/lib', 'v']], runpath: '$ORIGIN/../lib' });
    symlinkSync(join(C, 'c7/real/plugins'), join(C, 'c7/link'));
    return { root: join(C, 'c7/link/root.so') };
  }],
  ['a symlink to the file: $ORIGIN is the directory of the link', () => {
    so('c8/real/sub/libx.so');
    so('c8/links/sub/libx.so');
    so('c8/real/root.so', { libs: [['c8/real/sub', 'x']], runpath: '$ORIGIN/sub' });
    mkdirSync(join(C, 'c8/links'), { recursive: true });
    symlinkSync('../real/root.so', join(C, 'c8/links/root.so'));
    return { root: join(C, 'c8/links/root.so') };
  }],
  ['nested dependencies, some missing', () => {
    so('c9/d/libc3.so');
    so('c9/d/libb.so', { libs: [['c9/d', 'c3']] });
    so('c9/d/liba.so', { libs: [['c9/d', 'b']], runpath: '$ORIGIN' });
    so('c9/gone/libe.so');
    return { root: so('c9/root.so', { libs: [['c9/d', 'a'], ['c9/gone', 'e']], runpath: '$ORIGIN/d' }) };
  }],
  ['a SONAME that differs from the file name, needed twice', () => {
    so('c10/v/libv.so.1.2', { soname: 'libv.so.1' });
    symlinkSync('libv.so.1.2', join(C, 'c10/v/libv.so.1'));
    so('c10/w/libw.so', { libs: [['c10/v', 'libv.so.1.2']], runpath: '$ORIGIN/../v' });
    return { root: so('c10/root.so', { libs: [['c10/v', 'libv.so.1.2'], ['c10/w', 'w']], runpath: '$ORIGIN/v:$ORIGIN/w' }) };
  }],
  ['a glibc-hwcaps subdirectory comes before its directory', () => {
    so('c11/a/libx.so');
    const level = ldSo().subdirs.find((s) => s.startsWith('glibc-hwcaps/'));
    if (level) so(`c11/a/${level}libx.so`);
    return { root: so('c11/root.so', { libs: [['c11/a', 'x']], runpath: '$ORIGIN/a' }) };
  }],
  ['a candidate for another machine is skipped', () => {
    so('c12/a2/libx.so');
    const arm = so('c12/a1/libx.so');
    const b = readFileSync(arm);
    b.writeUInt16LE(183, 18);
    writeFileSync(arm, b);
    return { root: so('c12/root.so', { libs: [['c12/a2', 'x']], runpath: '$ORIGIN/a1:$ORIGIN/a2' }) };
  }],
  ['DF_1_NODEFLIB: no ld.so.cache, no system directories', () => ({ root: so('c13/root.so', { extra: ['-lm', '-Wl,-z,nodefaultlib'] }) })],
];

describe('the resolver agrees with ld.so', () => {
  it.each(cases)('%s', (_name, build) => {
    const { root, env } = build();
    const expected = ldd(root, env);
    expect(expected.length).toBeGreaterThan(0);
    expect(ours(root, env)).toEqual(expected);
  });
});
