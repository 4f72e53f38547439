import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { COMMAND_HELP, humanSize, main, USAGE } from '../src/cli.js';
import { readElf } from '../src/elf.js';
import { sriOf } from '../src/integrity.js';
import { rustSysrootLibDir } from '../src/sysroot.js';
import { buildCFixtures, type CFixtures } from './helpers/elf-fixtures.js';
import { PLUGINS } from './helpers/plugins.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(
    argv,
    (s) => (out += s),
    (s) => (err += s),
  );
  return { code, out, err };
}

let fx: CFixtures;
beforeAll(() => {
  fx = buildCFixtures();
});

describe('usage', () => {
  it('--help prints the usage and exits 0', async () => {
    expect(await run('--help')).toEqual({ code: 0, out: USAGE, err: '' });
    expect(await run('-h')).toEqual({ code: 0, out: USAGE, err: '' });
    expect(await run('help')).toEqual({ code: 0, out: USAGE, err: '' });
    expect(USAGE).toContain('rustplug <command>');
  });

  it.each(['inspect', 'sizes', 'sri', 'call', 'bench'] as const)('%s --help (and help %s) prints that command\'s help', async (cmd) => {
    expect(await run(cmd, '--help')).toEqual({ code: 0, out: COMMAND_HELP[cmd], err: '' });
    expect(await run('help', cmd)).toEqual({ code: 0, out: COMMAND_HELP[cmd], err: '' });
    expect(await run(cmd, 'file.so', '-h')).toEqual({ code: 0, out: COMMAND_HELP[cmd], err: '' });
    expect(COMMAND_HELP[cmd]).toMatch(new RegExp(`^Usage: rustplug ${cmd} `));
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
    expect(await run('--version')).toEqual({ code: 0, out: `rustplug ${version}\n`, err: '' });
    expect(await run('-V')).toEqual({ code: 0, out: `rustplug ${version}\n`, err: '' });
  });

  it.each([
    [[], 'no command given', ''],
    [['frobnicate', 'x'], "unknown command 'frobnicate'", ''],
    [['inspect'], 'inspect needs at least one file', 'inspect '],
    [['sri', 'a', 'b'], 'sri takes exactly one file', 'sri '],
    [['inspect', '--bogus', 'x'], 'unknown option --bogus', 'inspect '],
    [['sri', '--algo', 'md5', 'x'], "--algo must be sha256, sha384 or sha512, not 'md5'", 'sri '],
    [['inspect', '-L'], '--library-path needs a value', 'inspect '],
    [['inspect', '--library-path'], '--library-path needs a value', 'inspect '],
    [['sizes', '-L', '/x', 'f'], '--library-path applies to inspect, call and bench', 'sizes '],
    [['sri', '--json', 'f'], '--json applies to inspect, sizes, call and bench', 'sri '],
    [['inspect', '--json=yes', 'f'], "option '--json' does not take an argument", 'inspect '],
  ])('%j is a usage error: one line and where to get help, exit 1', async (argv, msg, cmd) => {
    const r = await run(...argv);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.toLowerCase()).toBe(`rustplug: ${msg}\nTry 'rustplug ${cmd}--help'.\n`.toLowerCase());
  });
});

describe('sri', () => {
  it('prints the integrity value', async () => {
    expect(await run('sri', fx.plain)).toEqual({ code: 0, out: `${sriOf(fx.plain)}\n`, err: '' });
    expect((await run('sri', '--algo=sha512', fx.plain)).out).toBe(`${sriOf(fx.plain, 'sha512')}\n`);
  });

  it('prints code: message and one line of advice, and exits 2 for a missing file', async () => {
    const r = await run('sri', join(fx.dir, 'nope.so'));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^ERR_PLUGIN_NOT_FOUND: no plugin file at .*nope\.so[^\n]*\nhint: check the path; cargo build --release puts a plugin in target\/release\/lib<crate>\.so\n$/);
  });
});

describe('inspect', () => {
  it('prints a human description', async () => {
    const r = await run('inspect', fx.plain);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const sha = execFileSync('sha256sum', [fx.plain], { encoding: 'utf8' }).split(' ')[0];
    const size = statSync(fx.plain).size;
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(fx.plain);
    expect(lines).toContain('  kind      c');
    expect(lines).toContain('  rustc     -');
    expect(lines).toContain('  soname    libplain.so.1');
    expect(lines).toContain('  machine   x86_64');
    expect(lines).toContain(`  size      ${humanSize(size)} (${size} bytes)`);
    expect(lines).toContain(`  sha256    ${sha}`);
    const at = lines.indexOf('  needed');
    expect(lines[at + 1]).toMatch(/^ {4}└─ libc\.so\.6 => \/\S+\/libc\.so\.6 \(loaded\)$/);
    expect(r.out.endsWith('  exports   (4)\n    plain_add\n    plain_calls_puts\n    plain_protected\n    plain_weak\n')).toBe(true);
  });

  it('flags missing libraries and foreign machines', async () => {
    const r = await run('inspect', fx.needsMissing, fx.aarch64);
    expect(r.code).toBe(0);
    expect(r.out).toContain('  needed\n    ├─ libmissingdep.so => not found\n');
    expect(r.out).toContain('  ! the loader would not find libmissingdep.so: open() will fail\n    - libmissingdep.so: not found (searched ');
    expect(r.out).toContain('  ! built for aarch64; this node is x86_64: it cannot be loaded here');
  });

  it('--json prints an array of PluginInfo; -L is used for NEEDED', async () => {
    const r = await run('inspect', '--json', fx.withRunpath);
    expect(r.code).toBe(0);
    const [info] = JSON.parse(r.out);
    expect(info).toEqual({
      path: fx.withRunpath,
      realPath: fx.withRunpath,
      kind: 'c',
      rustc: null,
      soname: null,
      machine: 'x86_64',
      needed: [
        { name: 'libsubdep.so', path: fx.subdep, via: 'runpath' },
        { name: 'libc.so.6', path: expect.stringMatching(/libc\.so\.6$/), via: 'loaded' },
      ],
      dependencies: [
        expect.objectContaining({ name: fx.withRunpath, path: fx.withRunpath, via: 'path', needed: [1, 2], kind: 'c' }),
        expect.objectContaining({ name: 'libsubdep.so', path: fx.subdep, via: 'runpath', soname: 'libsubdep.so', needed: [] }),
        expect.objectContaining({ name: 'libc.so.6', via: 'loaded', alreadyLoaded: true, needed: [] }),
      ],
      exports: ['uses_dep'],
      sizeBytes: statSync(fx.withRunpath).size,
      sha256: execFileSync('sha256sum', [fx.withRunpath], { encoding: 'utf8' }).split(' ')[0],
      manifest: null,
    });
    const viaL = JSON.parse((await run('inspect', '--json', '-L', join(fx.dir, 'sub'), fx.needsMissing, fx.withRpath)).out);
    expect(viaL[1].needed[0]).toEqual({ name: 'libsubdep.so', path: fx.subdep, via: 'libraryPath' });
  });

  it('keeps going after a bad file and exits 2', async () => {
    const r = await run('inspect', fx.text, fx.plain, fx.exe);
    expect(r.code).toBe(2);
    expect(r.out.startsWith(`${fx.plain}\n`)).toBe(true);
    const errs = r.err.trimEnd().split('\n');
    expect(errs).toHaveLength(4);
    expect(errs[0]).toMatch(/^ERR_PLUGIN_NOT_ELF: /);
    expect(errs[1]).toMatch(/^hint: pass the shared library cargo builds/);
    expect(errs[2]).toMatch(/^ERR_PLUGIN_NOT_SHARED_OBJECT: /);
    expect(errs[3]).toMatch(/^hint: /);
  });

  it('describes the Rust fixtures', async () => {
    const lib = rustSysrootLibDir()!;
    const r = await run('inspect', '--json', '-L', lib, PLUGINS.basic, PLUGINS.basicDylib);
    expect(r.code).toBe(0);
    const [c, d] = JSON.parse(r.out);
    expect(c.kind).toBe('cdylib');
    expect(d.kind).toBe('rust-dylib');
    expect(d.needed.find((n: { name: string }) => n.name.startsWith('libstd-')).via).toBe('libraryPath');
    const std = d.dependencies.find((n: { name: string }) => n.name.startsWith('libstd-'));
    expect(std).toMatchObject({ rustDylib: true, kind: 'rust-dylib', libstdHash: std.name.slice(7, -3) });
    expect(d.dependencies[0]).toMatchObject({ rustDylib: true, libstdHash: std.libstdHash });
    // Without -L, libstd comes from the toolchain's sysroot; the tree says so.
    const tree = (await run('inspect', PLUGINS.basicDylib)).out;
    expect(tree).toContain(`├─ ${std.name} => ${join(lib, std.name)} (sysroot, rust dylib, libstd ${std.libstdHash})\n`);
    expect(tree).toMatch(/│ {2}├─ libgcc_s\.so\.1 => \S+ \(loaded\)\n/);
    expect(c.exports).toEqual(readElf(PLUGINS.basic).exports);
  });
});

describe('sizes', () => {
  it('prints a table of size, kind, NEEDED count and rustc', async () => {
    const r = await run('sizes', fx.plain, fx.needsMissing);
    expect(r.code).toBe(0);
    const a = statSync(fx.plain).size;
    const b = statSync(fx.needsMissing).size;
    const w = Math.max(fx.plain.length, fx.needsMissing.length);
    const sw = Math.max(4, humanSize(a).length, humanSize(b).length);
    const bw = Math.max(5, String(a).length, String(b).length);
    const row = (f: string, s: string, n: string, k: string, needed: string, rc: string) =>
      `${f.padEnd(w)}  ${s.padStart(sw)}  ${n.padStart(bw)}  ${k.padEnd(4)}  ${needed.padStart(6)}  ${rc}`.trimEnd();
    expect(r.out).toBe(
      [
        row('FILE', 'SIZE', 'BYTES', 'KIND', 'NEEDED', 'RUSTC'),
        row(fx.plain, humanSize(a), String(a), 'c', '1', '-'),
        row(fx.needsMissing, humanSize(b), String(b), 'c', '2', '-'),
        '',
      ].join('\n'),
    );
  });

  it('--json, foreign-arch files included, Rust fixtures', async () => {
    const r = await run('sizes', '--json', fx.aarch64, PLUGINS.basic, PLUGINS.basicDylib);
    expect(r.code).toBe(0);
    const rustcV = execFileSync('rustc', ['-V'], { encoding: 'utf8' }).trim();
    expect(JSON.parse(r.out)).toEqual([
      { file: fx.aarch64, sizeBytes: statSync(fx.aarch64).size, kind: 'c', needed: 1, rustc: null },
      { file: PLUGINS.basic, sizeBytes: statSync(PLUGINS.basic).size, kind: 'cdylib', needed: readElf(PLUGINS.basic).needed.length, rustc: rustcV },
      { file: PLUGINS.basicDylib, sizeBytes: statSync(PLUGINS.basicDylib).size, kind: 'rust-dylib', needed: readElf(PLUGINS.basicDylib).needed.length, rustc: rustcV },
    ]);
  });
});

describe('humanSize', () => {
  it('rounds up like ls -sh', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(1023)).toBe('1023B');
    expect(humanSize(1024)).toBe('1.0K');
    expect(humanSize(593_920)).toBe('580K');
    expect(humanSize(2.5 * 1024 * 1024)).toBe('2.5M');
    expect(humanSize(readFileSync(fx.plain).length)).toMatch(/^\d+(\.\d)?K$/);
  });
});
