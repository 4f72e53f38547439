// rustplug sizes <crate-dir>: the CLI as a child process builds a crate four ways (cdylib/dylib,
// with and without -C prefer-dynamic, opt-level s) and measures each build. rust-fixtures/basic
// (no dependencies) is built once per run for the table and --json; tiny crates the test writes
// cover the failures.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { humanSize } from '../src/cli.js';
import { cratesSourceArgs, type BuiltSize } from '../src/cli-sizes.js';
import { readElf } from '../src/elf.js';
import { PLUGINS, REPO, tempDir } from './helpers/plugins.js';

const CLI = join(REPO, 'dist', 'cli.js');
const BASIC_CRATE = join(REPO, 'rust-fixtures', 'basic');

function cli(...argv: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...argv], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout, err: r.stderr };
}

type Built = BuiltSize;

/** A crate in a fresh temp dir (its own target dir); `files` maps paths to contents. */
function crate(files: Record<string, string>): string {
  const dir = join(tempDir('rustplug-sizes-'), 'crate');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const TOML = (name: string, extra = '') => `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n${extra}`;

let rows: Built[];
let json: { code: number | null; out: string; err: string };
beforeAll(() => {
  json = cli('sizes', '--json', BASIC_CRATE, PLUGINS.basic);
  rows = json.code === 0 ? JSON.parse(json.out) : [];
}, 120_000);

describe('sizes <crate-dir>', () => {
  it('--json: four builds of rust-fixtures/basic, measured from the files cargo reported; a file argument as before', () => {
    expect(json.err).toBe('');
    expect(json.code).toBe(0);
    expect(rows).toHaveLength(5);
    const rustc = spawnSync('rustc', ['-V'], { encoding: 'utf8' }).stdout.trim();
    const variants = rows.slice(0, 4).map((r) => [r.crateType, r.preferDynamic, r.kind]);
    expect(variants).toEqual([
      ['cdylib', false, 'cdylib'],
      ['cdylib', true, 'cdylib'],
      ['dylib', false, 'rust-dylib'],
      ['dylib', true, 'rust-dylib'],
    ]);
    const target = join(REPO, 'rust-fixtures', 'target', 'rustplug-sizes');
    for (const r of rows.slice(0, 4)) {
      expect(r).toMatchObject({ crate: 'basic', optLevel: 's', rustc });
      expect(r.file).toBe(join(target, 'sizes', 'basic', `${r.crateType}${r.preferDynamic ? '-prefer-dynamic' : ''}`, 'libbasic.so'));
      expect(r.sizeBytes).toBe(statSync(r.file).size);
      const needed = readElf(r.file).needed;
      expect(r.neededLibraries).toEqual(needed);
      expect(r.needed).toBe(needed.length);
      // -C prefer-dynamic swaps the static std for the toolchain's libstd-<hash>.so.
      expect(needed.some((n) => /^libstd-[0-9a-f]{16}\.so$/.test(n))).toBe(r.preferDynamic);
    }
    // std linked in costs megabytes; linked dynamically, a small crate is a few hundred KiB at most.
    expect(rows[1]!.sizeBytes * 4).toBeLessThan(rows[0]!.sizeBytes);
    expect(rows[3]!.sizeBytes * 4).toBeLessThan(rows[2]!.sizeBytes);
    // The file argument keeps the row it always had.
    expect(rows[4]).toEqual({ file: PLUGINS.basic, sizeBytes: statSync(PLUGINS.basic).size, kind: 'cdylib', needed: readElf(PLUGINS.basic).needed.length, rustc });
  });

  it('the table: BUILD rows, the Rust dylibs each NEEDs, where the libraries are', () => {
    const r = cli('sizes', relative(REPO, BASIC_CRATE));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^BUILD +SIZE +BYTES +KIND +NEEDED +RUST NEEDED +RUSTC$/);
    const labels = ['basic cdylib', 'basic cdylib -C prefer-dynamic', 'basic dylib', 'basic dylib -C prefer-dynamic'];
    lines.slice(1, 5).forEach((line, i) => {
      const built = rows[i]!;  // the same sources and flags: the same sizes as the --json run
      const cells = line.split(/ {2,}/);
      expect(cells[0]).toBe(labels[i]);
      expect(cells.slice(1, 5)).toEqual([humanSize(built.sizeBytes), String(built.sizeBytes), built.kind, String(built.needed)]);
      expect(cells[5]).toMatch(built.preferDynamic ? /^libstd-[0-9a-f]{16}\.so$/ : /^-$/);
    });
    expect(lines[5]).toBe('basic: built at opt-level s with its release profile; the libraries are in rust-fixtures/target/rustplug-sizes/sizes/basic/');
    expect(lines).toHaveLength(6);
  });

  it('any crate: a generated one outside the repo builds into its own target dir', () => {
    const dir = crate({ 'Cargo.toml': TOML('tiny_sizes'), 'src/lib.rs': '#[no_mangle]\npub extern "C" fn tiny(a: u32) -> u32 { a + 1 }\n' });
    const r = cli('sizes', '--json', dir);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const built = JSON.parse(r.out) as Built[];
    expect(built.map((b) => b.file)).toEqual(
      ['cdylib', 'cdylib-prefer-dynamic', 'dylib', 'dylib-prefer-dynamic'].map((v) => join(dir, 'target', 'rustplug-sizes', 'sizes', 'tiny_sizes', v, 'libtiny_sizes.so')),
    );
    for (const b of built) expect(readElf(b.file).exports).toContain('tiny');
    // The built library works: call it.
    expect(cli('call', built[0]!.file, 'tiny', '--sig', '(u32)->u32', '41').out).toBe('42\n');
  });

  it('a crate that does not compile: cargo\'s error, ERR_SIZES_BUILD and a hint, exit 2; other arguments still measured', () => {
    const dir = crate({ 'Cargo.toml': TOML('broken_sizes'), 'src/lib.rs': 'pub fn f() -> u32 { "not a number" }\n' });
    const r = cli('sizes', dir, PLUGINS.basic);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error\[E0308\]: mismatched types/);
    expect(r.err).toMatch(/\nERR_SIZES_BUILD: cargo rustc --crate-type cdylib failed for broken_sizes \(exit 101\)\nhint: the crate must build as a cdylib: cargo's messages are above \(cd .+ && cargo build --release shows the same\)\n$/);
    expect(r.out).toMatch(new RegExp(`^FILE .*\\n${PLUGINS.basic.replace(/[.]/g, '\\.')} `));
  });

  it.each([
    ['no Cargo.toml', {}, /^ERR_SIZES_NOT_A_CRATE: \S+ has no Cargo\.toml\nhint: pass the directory of a Rust package/],
    ['a workspace root', { 'Cargo.toml': '[workspace]\nmembers = ["a"]\nresolver = "2"\n', 'a/Cargo.toml': TOML('a'), 'a/src/lib.rs': '' }, /^ERR_SIZES_NOT_A_CRATE: \S+ is a workspace manifest, not a package\nhint: pass a member's directory: a\n$/],
    ['a package without a library', { 'Cargo.toml': TOML('only_bin'), 'src/main.rs': 'fn main() {}\n' }, /^ERR_SIZES_NO_LIBRARY: package only_bin \(\S+\) has no library target\nhint: a plugin is a library: add src\/lib\.rs/],
  ])('%s: exit 2 with what to do', (_what, files, expected) => {
    const dir = crate({ ...files, '.keep': '' });
    const r = cli('sizes', dir);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(expected);
  });

  it('sizes --help says what a directory does', () => {
    const r = cli('sizes', '--help');
    expect(r.out).toContain('A crate directory (with a Cargo.toml) is built four ways');
    expect(r.out).toContain('CARGO_PROFILE_RELEASE_OPT_LEVEL=s');
  });
});

describe('cratesSourceArgs (where crates come from, as build-fixtures.mjs chooses)', () => {
  const home = tempDir('rustplug-cargo-home-');
  const debian = existsSync('/usr/share/cargo/registry');

  it('crates.io when asked, or when cargo has a crates.io index', () => {
    expect(cratesSourceArgs(REPO, { RUSTPLUG_CRATES: 'crates-io', CARGO_HOME: home })).toEqual([]);
    const withIndex = tempDir('rustplug-cargo-home-');
    mkdirSync(join(withIndex, 'registry', 'index', 'index.crates.io-1949cf8c6b5b557f'), { recursive: true });
    expect(cratesSourceArgs(REPO, { CARGO_HOME: withIndex })).toEqual([]);
  });

  it.runIf(debian)("Debian's registry, offline, unless a cargo config above the crate replaces crates.io", () => {
    const plain = crate({ 'Cargo.toml': TOML('p') });
    expect(cratesSourceArgs(plain, { CARGO_HOME: home })).toEqual([
      '--offline',
      '--config',
      'source.crates-io.replace-with="debian"',
      '--config',
      'source.debian.directory="/usr/share/cargo/registry"',
    ]);
    const vendored = crate({ 'Cargo.toml': TOML('v'), '.cargo/config.toml': '[source.crates-io]\nreplace-with = "vendored"\n' });
    expect(cratesSourceArgs(vendored, { RUSTPLUG_CRATES: 'debian', CARGO_HOME: home })).toEqual(['--offline']);
  });
});
