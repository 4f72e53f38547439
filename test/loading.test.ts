// open() as an attacker would try it: files swapped between checks, FIFOs, dependencies in
// writable directories; and loading shapes ld.so handles that rustplug must too ($ORIGIN
// through a symlinked directory, dependencies without a SONAME, bare sonames).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { beforeAll, describe, expect, it } from 'vitest';

import { open, PluginError } from '../src/index.js';
import { sriOf } from '../src/integrity.js';
import { addon } from '../src/native.js';
import { cc, REPO, tempDir, thrown } from './helpers/plugins.js';

let dir: string;
const WHICH = { which: { parameters: [], result: 'i32' } } as const;

/** A library whose which() returns `n`; `marker`, if given, is created by its constructor. */
function lib(out: string, n: number, extra: string[] = [], marker?: string): string {
  const src = `${out}.c`;
  writeFileSync(
    src,
    `#include <fcntl.h>\n#include <unistd.h>\nint which(void) { return ${n}; }\n` +
      (marker ? `__attribute__((constructor)) static void evil(void) { int fd = open("${marker}", O_CREAT | O_WRONLY, 0600); if (fd >= 0) close(fd); }\n` : ''),
  );
  cc(['-shared', '-fPIC', '-o', out, src, ...extra], dir);
  chmodSync(out, 0o755);
  return out;
}

beforeAll(() => {
  dir = tempDir();
  chmodSync(dir, 0o755);
});

describe('the bytes checked are the bytes loaded', () => {
  it('a directory symlink flipped during open() never loads the unpinned library or runs its constructor', async () => {
    const base = join(dir, 'flip');
    mkdirSync(join(base, 'good'), { recursive: true });
    mkdirSync(join(base, 'evil'));
    const marker = join(base, 'evil-ran');
    lib(join(base, 'good', 'libp.so'), 1);
    lib(join(base, 'evil', 'libp.so'), 2, [], marker);
    symlinkSync('good', join(base, 'cur'));
    symlinkSync('evil', join(base, 'next'));
    const integrity = sriOf(join(base, 'good', 'libp.so'));
    // A flipper renames links over `cur` as fast as it can: good, evil, good, ...
    const flipper = spawn('bash', ['-c', `cd ${base}; while :; do ln -s evil t1; mv -T t1 cur; ln -s good t2; mv -T t2 cur; done`], { stdio: 'ignore' });
    const outcomes = { loaded: 0, refused: 0 };
    try {
      const end = Date.now() + 1000;
      while (Date.now() < end) {
        try {
          const l = open(join(base, 'cur', 'libp.so'), WHICH, { integrity });
          expect(l.symbols.which()).toBe(1);
          outcomes.loaded++;
        } catch (e) {
          expect(e).toBeInstanceOf(PluginError); // integrity or not-found while the link is missing
          outcomes.refused++;
        }
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      flipper.kill();
    }
    expect(existsSync(marker)).toBe(false);
    expect(outcomes.loaded).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });

  it('info.sha256 is the hash of what was loaded, taken at open()', () => {
    const d = join(dir, 'sha');
    mkdirSync(d);
    const p = lib(join(d, 'libs.so'), 1);
    const before = createHash('sha256').update(readFileSync(p)).digest('hex');
    const l = open(p, WHICH);
    // Replace the file afterwards: info still describes the loaded bytes.
    lib(join(d, 'other.so'), 2);
    renameSync(join(d, 'other.so'), p);
    expect(l.info.sha256).toBe(before);
    expect(createHash('sha256').update(readFileSync(p)).digest('hex')).not.toBe(before);
  });

  it('a FIFO as the plugin or as a dependency is refused at once, never read', () => {
    const d = join(dir, 'fifo');
    mkdirSync(d);
    const fifo = join(d, 'libfifo.so');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    expect(thrown(() => open(fifo, WHICH))).toMatchObject({ code: 'ERR_PLUGIN_NOT_A_FILE', message: expect.stringContaining('is a named pipe') });
    // A dependency found through RUNPATH that is a FIFO: the search stops there, as ld.so's would.
    writeFileSync(join(d, 'dep.c'), 'int dep(void) { return 3; }\n');
    cc(['-shared', '-fPIC', '-o', join(d, 'libdep.so'), join(d, 'dep.c')], d);
    const p = lib(join(d, 'libuser.so'), 1, ['-Wl,--no-as-needed', `-L${d}`, '-ldep', "-Wl,-rpath,$ORIGIN/deps"]);
    mkdirSync(join(d, 'deps'));
    execFileSync('mkfifo', [join(d, 'deps', 'libdep.so')]);
    const e = thrown(() => open(p, WHICH)) as PluginError;
    expect(e.code).toBe('ERR_PLUGIN_MISSING_DEPENDENCY');
    expect(e.message).toContain(`stopped at ${join(d, 'deps', 'libdep.so')}`);
    expect(e.message).toContain('is a named pipe');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a dependency in a directory others can write to is refused (ERR_PLUGIN_INSECURE)', () => {
    const d = join(dir, 'wwdep');
    mkdirSync(join(d, 'open'), { recursive: true });
    writeFileSync(join(d, 'dep.c'), 'int dep(void) { return 3; }\n');
    cc(['-shared', '-fPIC', '-o', join(d, 'open', 'libwdep.so'), join(d, 'dep.c'), '-Wl,-soname,libwdep.so'], d);
    const p = lib(join(d, 'libuses.so'), 1, ['-Wl,--no-as-needed', `-L${join(d, 'open')}`, '-lwdep', '-Wl,-rpath,$ORIGIN/open']);
    chmodSync(join(d, 'open'), 0o777);
    const e = thrown(() => open(p, WHICH)) as PluginError;
    expect(e.code).toBe('ERR_PLUGIN_INSECURE');
    expect(e.message).toContain(`refusing to load ${join(d, 'open', 'libwdep.so')} (a dependency of ${p}): the directory ${join(d, 'open')} is writable by its group and all users`);
    expect(addon.loadedObjects()).not.toContain(join(d, 'open', 'libwdep.so'));
    chmodSync(join(d, 'open'), 0o755);
    expect(open(p, WHICH).symbols.which()).toBe(1);
  });

  it('a symlink to the plugin in a directory others can write to is refused, the target\'s directory too', () => {
    const d = join(dir, 'wwlink');
    mkdirSync(join(d, 'open'), { recursive: true });
    mkdirSync(join(d, 'safe'));
    const p = lib(join(d, 'safe', 'libt.so'), 1);
    symlinkSync(p, join(d, 'open', 'libt.so'));
    chmodSync(join(d, 'open'), 0o777);
    expect(thrown(() => open(join(d, 'open', 'libt.so'), WHICH))).toMatchObject({ code: 'ERR_PLUGIN_INSECURE', message: expect.stringContaining(`the directory ${join(d, 'open')} is writable`) });
    chmodSync(join(d, 'open'), 0o755);
    chmodSync(join(d, 'safe'), 0o777);
    expect(thrown(() => open(join(d, 'open', 'libt.so'), WHICH))).toMatchObject({ code: 'ERR_PLUGIN_INSECURE', message: expect.stringContaining(`the directory ${join(d, 'safe')} is writable`) });
    chmodSync(join(d, 'safe'), 0o755);
  });

  it('a descriptor number freed when a worker exits never makes dlopen return the worker\'s library', async () => {
    const d = join(dir, 'reuse');
    mkdirSync(d);
    const a = lib(join(d, 'liba.so'), 7);
    const b = lib(join(d, 'libb.so'), 8);
    const code = `import(${JSON.stringify(pathToFileURL(join(REPO, 'dist', 'index.js')).href)}).then((m) => { m.open(${JSON.stringify(a)}, { which: { parameters: [], result: 'i32' } }); require('node:worker_threads').parentPort.postMessage('loaded'); });`;
    const w = new Worker(code, { eval: true });
    await new Promise((res, rej) => {
      w.once('message', res);
      w.once('error', rej);
    });
    await new Promise((res) => w.once('exit', res)); // Node closes the worker's descriptors here
    for (let i = 0; i < 5; i++) expect(open(b, WHICH).symbols.which()).toBe(8);
    expect(open(a, WHICH).symbols.which()).toBe(7);
  });
});

describe('loading like ld.so', () => {
  it('$ORIGIN reached through a symlinked directory: $ORIGIN/.. is resolved by the kernel, not lexically', () => {
    const d = join(dir, 'origin');
    mkdirSync(join(d, 'real', 'plugins'), { recursive: true });
    mkdirSync(join(d, 'real', 'lib'));
    mkdirSync(join(d, 'lib'));
    writeFileSync(join(d, 'v.c'), 'int v(void) { return V; }\n');
    // The right one (through the link's target) says 1; the one a lexical ".." would pick says 2.
    cc(['-shared', '-fPIC', '-DV=1', '-o', join(d, 'real', 'lib', 'libv.so'), join(d, 'v.c')], d);
    cc(['-shared', '-fPIC', '-DV=2', '-o', join(d, 'lib', 'libv.so'), join(d, 'v.c')], d);
    writeFileSync(join(d, 'p.c'), 'int v(void); int pv(void) { return v(); }\n');
    cc(['-shared', '-fPIC', '-o', join(d, 'real', 'plugins', 'libp.so'), join(d, 'p.c'), `-L${join(d, 'lib')}`, '-lv', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib'], d);
    symlinkSync(join(d, 'real', 'plugins'), join(d, 'link'));
    const l = open(join(d, 'link', 'libp.so'), { pv: { parameters: [], result: 'i32' } });
    expect(l.symbols.pv()).toBe(1);
    expect(l.info.dependencies[1]).toMatchObject({ name: 'libv.so', path: join(d, 'link') + '/../lib/libv.so', via: 'runpath' });
  });

  it('a libraryPath dependency without DT_SONAME loads (glibc matches it by the NEEDED name)', () => {
    const d = join(dir, 'nosoname');
    mkdirSync(join(d, 'deps'), { recursive: true });
    writeFileSync(join(d, 'n.c'), 'int n(void) { return 11; }\n');
    cc(['-shared', '-fPIC', '-o', join(d, 'deps', 'libnoso.so'), join(d, 'n.c')], d);
    writeFileSync(join(d, 'u.c'), 'int n(void); int un(void) { return n() + 1; }\n');
    cc(['-shared', '-fPIC', '-o', join(d, 'libunoso.so'), join(d, 'u.c'), `-L${join(d, 'deps')}`, '-lnoso'], d);
    const l = open(join(d, 'libunoso.so'), { un: { parameters: [], result: 'i32' } }, { libraryPath: [join(d, 'deps')] });
    expect(l.symbols.un()).toBe(12);
    expect(l.info.dependencies[1]).toMatchObject({ name: 'libnoso.so', soname: null, via: 'libraryPath' });
    // Afterwards the dependency carries its real path, not the NEEDED name it was matched by.
    expect(addon.loadedObjects()).toContain(join(d, 'deps', 'libnoso.so'));
  });

  it('a bare soname is searched for the way dlopen does', () => {
    const m = open('libm.so.6', { cos: { parameters: ['f64'], result: 'f64' } });
    expect(m.symbols.cos(0)).toBe(1);
    expect(m.path).toMatch(/^\/.*\/libm\.so\.6$/);
    expect(m.info.dependencies[0]!.via).toBe('path');
    const e = thrown(() => open('libsurely-not-here.so.7', {})) as PluginError;
    expect(e.code).toBe('ERR_PLUGIN_NOT_FOUND');
    expect(e.message).toContain('a name without \'/\' is searched for the way dlopen does');
    expect(e.message).toContain('/etc/ld.so.cache');
  });
});

