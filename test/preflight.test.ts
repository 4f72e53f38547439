import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { readElf } from '../src/elf.js';
import {
  DeclarationError,
  InsecurePluginError,
  IntegrityError,
  MissingDependencyError,
  PluginNotFoundError,
} from '../src/errors.js';
import { sriOf } from '../src/integrity.js';
import { ldCacheFlagsFor, lookupLdCache, parseLdCache, readLdCache } from '../src/ldcache.js';
import { closeGraph, resolveNeeded, traceNeeded } from '../src/ldpath.js';
import { expandSearchPath, initialLdLibraryPath } from '../src/ldso.js';
import { preflight as vet, type PreflightOptions, type PreflightResult } from '../src/preflight.js';
import { rustSysrootLibDir, rustToolchain, rustupToolchainFor } from '../src/sysroot.js';
import { addon } from '../src/native.js';
import { inspect } from '../src/inspect.js';
import { editDistance, suggest } from '../src/suggest.js';
import { buildCFixtures, cc, copyInto, makeTempDir, type CFixtures } from './helpers/elf-fixtures.js';
import { PLUGINS, thrown } from './helpers/plugins.js';


/** preflight, releasing the descriptors it keeps open for the loader. */
function preflight(path: string, options?: PreflightOptions): PreflightResult {
  const r = vet(path, options);
  closeGraph(r.graph, false);
  return r;
}

const sha256Hex = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const isRoot = process.getuid?.() === 0;

let fx: CFixtures;
/** A directory holding a real libmissingdep.so, for libraryPath tests. */
let provideDir: string;
/** A directory holding a valid copy of libsubdep.so (not the one RPATH/RUNPATH point to). */
let altDir: string;
beforeAll(() => {
  fx = buildCFixtures();
  provideDir = join(fx.dir, 'provide');
  mkdirSync(provideDir);
  cc(['-shared', '-fPIC', '-o', join(provideDir, 'libmissingdep.so'), 'dep.c'], fx.dir);
  altDir = join(fx.dir, 'alt');
  mkdirSync(altDir);
  copyFileSync(fx.subdep, join(altDir, 'libsubdep.so'));
});

describe('expandSearchPath', () => {
  it('expands $ORIGIN, ${ORIGIN}, $LIB, $PLATFORM; empty means the current directory', () => {
    // $PLATFORM is what ld.so reports as AT_PLATFORM (glibc 2.36 on an AVX2 machine: haswell).
    const platform = /^\s+(\S+) \(AT_PLATFORM/m.exec(execFileSync('/lib64/ld-linux-x86-64.so.2', ['--help'], { encoding: 'utf8' }))?.[1] ?? 'x86_64';
    expect(expandSearchPath('$ORIGIN/a:${ORIGIN}/b:$LIB:${PLATFORM}/x::$ORIGINAL:/abs', '/o')).toEqual([
      '/o/a',
      '/o/b',
      'lib/x86_64-linux-gnu',
      `${platform}/x`,
      '.',
      '$ORIGINAL',
      '/abs',
    ]);
  });
});

describe('ld.so.cache', () => {
  it('parses /etc/ld.so.cache like ldconfig -p', () => {
    const out = execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
    const oracle = [...out.matchAll(/^\s+(\S+) \(libc6,x86-64[^)]*\) => (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    const ours = readLdCache()
      .filter((e) => e.flags === ldCacheFlagsFor())
      .map((e) => `${e.name} ${e.path}`);
    expect(oracle.length).toBeGreaterThan(10);
    expect(ours.sort()).toEqual(oracle.sort());
    expect(readLdCache()).toBe(readLdCache()); // parsed once
    expect(lookupLdCache('libz.so.1')[0]).toMatch(/\/libz\.so\.1$/);
    expect(lookupLdCache('libdoesnotexist.so.9')).toEqual([]);
  });

  it('parses the old ld.so-1.7.0 format and rejects garbage', () => {
    const strings = Buffer.from('libfoo.so.1\0/opt/lib/libfoo.so.1\0libbar.so\0/opt/lib/libbar.so\0');
    const head = Buffer.alloc(16 + 2 * 12);
    head.write('ld.so-1.7.0', 0, 'latin1');
    head.writeUInt32LE(2, 12);
    const entries: [number, number, number][] = [
      [0x0303, 0, 12],
      [0x0003, 33, 43],
    ];
    entries.forEach(([flags, key, value], i) => {
      head.writeInt32LE(flags, 16 + i * 12);
      head.writeUInt32LE(key, 20 + i * 12);
      head.writeUInt32LE(value, 24 + i * 12);
    });
    expect(parseLdCache(Buffer.concat([head, strings]))).toEqual([
      { name: 'libfoo.so.1', path: '/opt/lib/libfoo.so.1', flags: 0x0303, hwcap: 0n },
      { name: 'libbar.so', path: '/opt/lib/libbar.so', flags: 0x0003, hwcap: 0n },
    ]);
    expect(parseLdCache(Buffer.from('not a cache at all, just some text'))).toEqual([]);
    expect(parseLdCache(Buffer.alloc(0))).toEqual([]);
    // Claims more entries than it holds.
    const lying = Buffer.from(readFileSync('/etc/ld.so.cache'));
    lying.writeUInt32LE(0x7fffffff, 20);
    expect(parseLdCache(lying)).toEqual([]);
  });
});

describe('resolveNeeded', () => {
  it('libc.so.6 is satisfied by the already loaded copy', () => {
    const [libc] = resolveNeeded(readElf(fx.plain), realpathSync(fx.plain));
    expect(libc).toEqual({ name: 'libc.so.6', path: addon.loadedObjects().find((p) => p.endsWith('/libc.so.6')), via: 'loaded' });
    expect(libc!.path).toMatch(/^\/.*\/libc\.so\.6$/);
  });

  it('without loaded libraries it comes from ld.so.cache, then the default dirs', () => {
    const elf = readElf(fx.plain);
    expect(resolveNeeded(elf, fx.plain, { loaded: false })[0]).toEqual({
      name: 'libc.so.6',
      path: lookupLdCache('libc.so.6')[0],
      via: 'ld.so.cache',
    });
    expect(resolveNeeded(elf, fx.plain, { loaded: false, ldCachePath: join(fx.dir, 'no-cache') })[0]).toEqual({
      name: 'libc.so.6',
      path: '/lib/x86_64-linux-gnu/libc.so.6',
      via: 'default',
    });
  });

  it('a NEEDED name matches a loaded library (libstdc++.so.6, which node links) before any search', () => {
    const mapped = addon.loadedObjects().find((p) => p.endsWith('/libstdc++.so.6'));
    expect(mapped).toBeDefined(); // node links libstdc++
    const elf = { class: 64, endian: 'little', machineCode: 62, machine: 'x86_64', needed: ['libstdc++.so.6'], rpath: null, runpath: null } as const;
    const isolated = { ldLibraryPath: '', ldCachePath: join(fx.dir, 'no-cache'), defaultDirs: [] };
    expect(resolveNeeded(elf, join(fx.dir, 'x.so'), isolated)).toEqual([{ name: 'libstdc++.so.6', path: mapped, via: 'loaded' }]);
    expect(resolveNeeded(elf, join(fx.dir, 'x.so'), { ...isolated, loaded: false })).toEqual([{ name: 'libstdc++.so.6', path: null, via: null }]);
  });

  it('DT_RPATH with $ORIGIN', () => {
    expect(resolveNeeded(readElf(fx.withRpath), fx.withRpath, { ldLibraryPath: '' })[0]).toEqual({
      name: 'libsubdep.so',
      path: fx.subdep,
      via: 'rpath',
    });
  });

  it('DT_RUNPATH with ${ORIGIN}; through a symlink to the file, $ORIGIN is the link\'s directory (as for ld.so)', () => {
    expect(resolveNeeded(readElf(fx.withRunpath), fx.withRunpath, { ldLibraryPath: '' })[0]).toEqual({
      name: 'libsubdep.so',
      path: fx.subdep,
      via: 'runpath',
    });
    // links/libviasymlink.so -> ../libwithrunpath.so: ld.so looks in links/sub, which does not exist.
    const e = thrown(() => preflight(fx.runpathLink)) as MissingDependencyError;
    expect(e.missing).toEqual(['libsubdep.so']);
    expect(e.message).toContain(`RUNPATH ${join(fx.dir, 'links', 'sub')}`);
    const info = inspect(fx.runpathLink);
    expect(info.realPath).toBe(realpathSync(fx.withRunpath));
    expect(info.needed[0]).toEqual({ name: 'libsubdep.so', path: null, via: null });
  });

  it('RPATH is searched before LD_LIBRARY_PATH, RUNPATH after it', () => {
    expect(resolveNeeded(readElf(fx.withRpath), fx.withRpath, { ldLibraryPath: altDir })[0]).toMatchObject({ via: 'rpath', path: fx.subdep });
    expect(resolveNeeded(readElf(fx.withRunpath), fx.withRunpath, { ldLibraryPath: `/nonexistent;${altDir}` })[0]).toEqual({
      name: 'libsubdep.so',
      path: join(altDir, 'libsubdep.so'),
      via: 'LD_LIBRARY_PATH',
    });
  });

  it('libraryPath comes first', () => {
    expect(
      resolveNeeded(readElf(fx.withRpath), fx.withRpath, { libraryPath: [altDir], ldLibraryPath: '' })[0],
    ).toEqual({ name: 'libsubdep.so', path: join(altDir, 'libsubdep.so'), via: 'libraryPath' });
  });

  it('skips candidates built for another machine, as the loader does', () => {
    const [t] = traceNeeded(readElf(fx.withRunpath), fx.withRunpath, { ldLibraryPath: join(fx.dir, 'alt-arm') });
    expect(t).toMatchObject({ name: 'libsubdep.so', path: fx.subdep, via: 'runpath', skipped: [fx.subdepArm] });
    expect(t!.searched.map((s) => s.via)).toEqual(['LD_LIBRARY_PATH', 'runpath']);
  });

  it('RPATH is ignored when RUNPATH is present; a name with a slash is a path', () => {
    const base = { class: 64, endian: 'little', machineCode: 62, machine: 'x86_64' } as const;
    const both = { ...base, needed: ['libsubdep.so'], rpath: '$ORIGIN/sub', runpath: '$ORIGIN/elsewhere' };
    expect(resolveNeeded(both, join(fx.dir, 'x.so'), { ldLibraryPath: '' })).toEqual([{ name: 'libsubdep.so', path: null, via: null }]);
    const byPath = { ...base, needed: [fx.subdep, join(fx.dir, 'gone.so')], rpath: null, runpath: null };
    expect(resolveNeeded(byPath, join(fx.dir, 'x.so'))).toEqual([
      { name: fx.subdep, path: fx.subdep, via: 'path' },
      { name: join(fx.dir, 'gone.so'), path: null, via: null },
    ]);
  });

  it('reads LD_LIBRARY_PATH as the process started with it', () => {
    const environ = readFileSync('/proc/self/environ', 'latin1').split('\0');
    const hit = environ.find((kv) => kv.startsWith('LD_LIBRARY_PATH='));
    expect(initialLdLibraryPath()).toBe(hit?.slice('LD_LIBRARY_PATH='.length));
  });
});

describe('preflight', () => {
  it('returns what it found about a C library', () => {
    const r = preflight(fx.plain);
    expect(r).toMatchObject({ path: fx.plain, realPath: realpathSync(fx.plain), kind: 'c', rustc: null, sha256: sha256Hex(fx.plain) });
    expect(r.elf.soname).toBe('libplain.so.1');
    expect(r.needed).toEqual([{ name: 'libc.so.6', path: expect.stringMatching(/libc\.so\.6$/), via: 'loaded' }]);
  });

  it('names every missing dependency and how to fix it', () => {
    const e = thrown(() => preflight(fx.needsMissing)) as MissingDependencyError;
    expect(e).toBeInstanceOf(MissingDependencyError);
    expect(e.code).toBe('ERR_PLUGIN_MISSING_DEPENDENCY');
    expect(e.missing).toEqual(['libmissingdep.so']);
    expect(e.path).toBe(fx.needsMissing);
    expect(e.message).toContain(`cannot load ${fx.needsMissing}: the dynamic loader would not find its NEEDED library libmissingdep.so`);
    expect(e.message).toContain('libmissingdep.so: not found (searched');
    expect(e.message).toContain('/etc/ld.so.cache');
    expect(e.message).toContain('default dirs /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu');
    expect(e.message).toContain("libraryPath: ['<dir containing it>']");
    expect(preflight(fx.needsMissing, { libraryPath: [provideDir] }).needed[0]).toEqual({
      name: 'libmissingdep.so',
      path: join(provideDir, 'libmissingdep.so'),
      via: 'libraryPath',
    });
  });

  it('lists several missing libraries in one error', () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'u.c'), 'int a(void); int b(void); int f(void) { return a() + b(); }\n');
    writeFileSync(join(dir, 's.c'), 'int a(void) { return 1; } int b(void) { return 2; }\n');
    cc(['-shared', '-fPIC', '-o', 'libone.so', 's.c'], dir);
    cc(['-shared', '-fPIC', '-o', 'libtwo.so', 's.c'], dir);
    cc(['-shared', '-fPIC', '-o', 'libboth.so', 'u.c', '-Wl,--no-as-needed', '-L.', '-lone', '-ltwo'], dir);
    const e = thrown(() => preflight(join(dir, 'libboth.so'), { libraryPath: [join(dir, 'nothing-here')] })) as MissingDependencyError;
    // libone/libtwo sit next to it but nothing points there.
    expect(e.missing).toEqual(['libone.so', 'libtwo.so']);
    expect(e.message).toContain('2 of its NEEDED libraries libone.so, libtwo.so');
    expect(e.message).toContain("relink the plugin with -Wl,-rpath,'$ORIGIN'");
  });

  it('ERR_PLUGIN_NOT_FOUND suggests a close file name', () => {
    const e = thrown(() => preflight(join(fx.dir, 'libplian.so'))) as PluginNotFoundError;
    expect(e).toBeInstanceOf(PluginNotFoundError);
    expect(e.code).toBe('ERR_PLUGIN_NOT_FOUND');
    expect(e.message).toContain(`Did you mean ${fx.plain}`);
    expect(thrown(() => preflight(join(fx.dir, 'nodir', 'x.so')))).toMatchObject({
      code: 'ERR_PLUGIN_NOT_FOUND',
      message: expect.stringContaining(`the directory ${join(fx.dir, 'nodir')} does not exist`),
    });
  });

  it('ERR_PLUGIN_NOT_A_FILE for a directory lists the .so files in it', () => {
    const e = thrown(() => preflight(join(fx.dir, 'sub'))) as PluginNotFoundError;
    expect(e.code).toBe('ERR_PLUGIN_NOT_A_FILE');
    expect(e.message).toContain('(it contains libsubdep.so)');
  });

  it('format and arch errors come through', () => {
    expect(thrown(() => preflight(fx.exe))).toMatchObject({ code: 'ERR_PLUGIN_NOT_SHARED_OBJECT' });
    expect(thrown(() => preflight(fx.aarch64))).toMatchObject({ code: 'ERR_PLUGIN_WRONG_ARCH', expected: 'x86_64', actual: 'aarch64' });
    expect(thrown(() => preflight(fx.text))).toMatchObject({ code: 'ERR_PLUGIN_NOT_ELF' });
  });

  it('checks integrity before reading the ELF file', () => {
    const good = sriOf(fx.plain);
    expect(preflight(fx.plain, { integrity: good }).sha256).toBe(sha256Hex(fx.plain));
    expect(preflight(fx.plain, { integrity: `sha256:${sha256Hex(fx.plain)}` }).sha256).toBe(sha256Hex(fx.plain));
    const e = thrown(() => preflight(fx.text, { integrity: good })) as IntegrityError;
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.expected).toBe(good);
    expect(e.actual).toBe(sriOf(fx.text));
    // A malformed value is reported even before the file is looked at.
    expect(thrown(() => preflight(join(fx.dir, 'missing.so'), { integrity: 'md5-abc' }))).toMatchObject({ code: 'ERR_PLUGIN_BAD_INTEGRITY' });
    expect(thrown(() => preflight(fx.plain, { libraryPath: 'dir' as unknown as string[] }))).toBeInstanceOf(DeclarationError);
  });

  it('refuses a group/other-writable file unless allowInsecure', () => {
    const dir = makeTempDir(); // 0700
    const f = copyInto(fx.plain, dir, 'libopen.so', 0o666);
    const e = thrown(() => preflight(f)) as InsecurePluginError;
    expect(e).toBeInstanceOf(InsecurePluginError);
    expect(e.code).toBe('ERR_PLUGIN_INSECURE');
    expect(e.path).toBe(f);
    expect(e.message).toContain(`the file is writable by its group and all users (mode 0666)`);
    expect(e.message).toContain(`chmod go-w ${f}`);
    expect(e.message).toContain('allowInsecure: true');
    expect(preflight(f, { allowInsecure: true }).kind).toBe('c');
    chmodSync(f, 0o620);
    expect(thrown(() => preflight(f))).toMatchObject({ message: expect.stringContaining('writable by its group (mode 0620)') });
    chmodSync(f, 0o644);
    expect(preflight(f).kind).toBe('c');
  });

  it('refuses a file in a group-writable directory without the sticky bit', () => {
    const dir = makeTempDir();
    const f = copyInto(fx.plain, dir, 'libx.so', 0o755);
    chmodSync(dir, 0o770);
    expect(thrown(() => preflight(f))).toMatchObject({
      code: 'ERR_PLUGIN_INSECURE',
      message: expect.stringContaining(`the directory ${dir} is writable by its group without the sticky bit (mode 0770)`),
    });
    chmodSync(dir, 0o1777); // like /tmp
    expect(preflight(f).kind).toBe('c');
    chmodSync(dir, 0o700);
  });

  it.skipIf(!isRoot)('refuses a file owned by another user', () => {
    const dir = makeTempDir();
    const f = copyInto(fx.plain, dir, 'libowned.so', 0o755);
    chownSync(f, 4242, 4242);
    expect(thrown(() => preflight(f))).toMatchObject({
      code: 'ERR_PLUGIN_INSECURE',
      message: expect.stringContaining('is owned by uid 4242, not by root or by this process'),
    });
    expect(preflight(f, { allowInsecure: true }).kind).toBe('c');
  });
});

describe('Rust fixtures', () => {
  const rustcV = rustToolchain().version;
  const libDir = rustSysrootLibDir();
  const libstdOf = (p: string) => readElf(p).needed.find((n) => n.startsWith('libstd-'))!;

  it('rustSysrootLibDir is <rustc --print sysroot>/lib/rustlib/x86_64-unknown-linux-gnu/lib', () => {
    const sysroot = execFileSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).trim();
    expect(libDir).toBe(join(sysroot, 'lib', 'rustlib', 'x86_64-unknown-linux-gnu', 'lib'));
    expect(rustcV).toBe(execFileSync('rustc', ['-V'], { encoding: 'utf8' }).trim());
  });

  it('detects the kind: cdylib, rust-dylib, c', () => {
    expect(preflight(PLUGINS.basic)).toMatchObject({ kind: 'cdylib', rustc: rustcV });
    expect(preflight(PLUGINS.basicDylib, { libraryPath: [libDir!] })).toMatchObject({ kind: 'rust-dylib', rustc: rustcV });
    expect(preflight(fx.plain).kind).toBe('c');
  });

  it('libstd is found in the active toolchain\'s sysroot; with sysroot: false the fix is named', () => {
    const libstd = libstdOf(PLUGINS.basicDylib);
    expect(preflight(PLUGINS.basicDylib).needed.find((n) => n.name === libstd)).toEqual({ name: libstd, path: join(libDir!, libstd), via: 'sysroot' });
    expect(preflight(PLUGINS.basicDylib, { sysroot: rustToolchain().sysroot! }).needed.find((n) => n.name === libstd)?.via).toBe('sysroot');
    const e = thrown(() => preflight(PLUGINS.basicDylib, { sysroot: false })) as MissingDependencyError;
    expect(e).toBeInstanceOf(MissingDependencyError);
    expect(e.missing).toEqual([libstd]);
    expect(e.message).toContain(`${libstd}: Rust's standard library as a shared library`);
    expect(e.message).toContain(`the Rust toolchain ${rustcV} has it, but the sysroot option is false: drop that option, or pass { libraryPath: ['${libDir}'] } to open() or set LD_LIBRARY_PATH=${libDir} before starting node`);
    // A sysroot without it: the error names that one.
    const empty = makeTempDir();
    const e2 = thrown(() => preflight(PLUGINS.basicDylib, { sysroot: empty })) as MissingDependencyError;
    expect(e2.message).toContain(`no installed Rust toolchain has it (searched ${empty}: ${empty})`);
    expect(thrown(() => preflight(PLUGINS.basicDylib, { sysroot: '' }))).toBeInstanceOf(DeclarationError);
  });

  it('with libraryPath: [sysroot lib dir] libstd resolves via libraryPath', () => {
    const libstd = libstdOf(PLUGINS.basicDylib);
    const r = preflight(PLUGINS.basicDylib, { libraryPath: [libDir!] });
    expect(r.needed.find((n) => n.name === libstd)).toEqual({ name: libstd, path: join(libDir!, libstd), via: 'libraryPath' });
    expect(inspect(PLUGINS.basicDylib, { libraryPath: [libDir!] }).needed).toEqual(r.needed);
  });

  it('a libstd from another toolchain: install that toolchain or build a cdylib', () => {
    const libstd = libstdOf(PLUGINS.basicDylib);
    const fake = libstd.replace(/[0-9a-f]{16}/, '0123456789abcdef');
    expect(fake).not.toBe(libstd);
    const buf = readFileSync(PLUGINS.basicDylib);
    const at = buf.indexOf(Buffer.from(`${libstd}\0`));
    expect(at).toBeGreaterThan(0);
    buf.write(fake, at, 'latin1');
    const dir = makeTempDir();
    const f = join(dir, 'libother_toolchain.so');
    writeFileSync(f, buf);
    const e = thrown(() => preflight(f, { libraryPath: [libDir!] })) as MissingDependencyError;
    expect(e.missing).toEqual([fake]);
    expect(e.message).toContain(`${fake}: Rust's standard library as a shared library`);
    // Every installed toolchain was searched, and each is named.
    expect(e.message).toContain(`no installed Rust toolchain has it (searched ${rustcV}: ${libDir}`);
    for (const t of readdirSync(join(homedir(), '.rustup', 'toolchains'))) expect(e.message).toContain(t);
    expect(e.message).toContain(`the plugin was built by ${rustcV}: install that toolchain (rustup toolchain install ${rustupToolchainFor(rustcV!)}) or build the plugin as a cdylib`);
  });
});

describe('rustupToolchainFor', () => {
  it('maps rustc -V output to a rustup toolchain name', () => {
    expect(rustupToolchainFor('rustc 1.95.0 (59807616e 2026-04-14)')).toBe('1.95.0');
    expect(rustupToolchainFor('rustc 1.96.0-beta.3 (0123abcde 2026-05-01)')).toBe('beta-2026-05-01');
    expect(rustupToolchainFor('rustc 1.97.0-nightly (0123abcde 2026-05-31)')).toBe('nightly-2026-06-01');
    expect(rustupToolchainFor('gcc 12')).toBeNull();
  });
});

describe('suggest', () => {
  const exports = ['add', 'add_async', 'multiply', 'greet', 'greet_async', 'rustplug_version', 'sum_array'];

  it('Damerau-Levenshtein distance counts a transposition as one edit', () => {
    expect(editDistance('greet', 'geret')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('ranks close names first, then substring/prefix matches', () => {
    expect(suggest('ad', exports)).toEqual(['add', 'add_async']);
    expect(suggest('mutliply', exports)).toEqual(['multiply']);
    expect(suggest('Greet', exports)).toEqual(['greet', 'greet_async']);
    expect(suggest('version', exports)).toEqual(['rustplug_version']);
    expect(suggest('greet_asnyc', exports, 1)).toEqual(['greet_async']);
    expect(suggest('zzzzzz', exports)).toEqual([]);
    expect(suggest('add', exports)).toEqual(['add_async']); // not itself
  });
});
