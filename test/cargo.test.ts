// rustplug/cargo: cargoBuild against the fixtures (offline, rust-fixtures/.cargo/config.toml) and
// small throwaway crates (no dependencies) in temp dirs.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from 'vitest';

import { CargoBuildError, cargoBuild } from '../src/cargo.js';
import { PluginError, open } from '../src/index.js';
import { REPO, tempDir } from './helpers/plugins.js';

const run = promisify(execFile);
const fixtures = join(REPO, 'rust-fixtures');
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** A crate with no dependencies: `ok()` → 7, `extra()` behind the `extra` feature, `bad` breaks it. */
function tinyCrate(name: string, { bad = false } = {}): string {
  const dir = tempDir('rustplug-cargo-');
  temps.push(dir);
  mkdirSync(join(dir, 'src'));
  writeFileSync(
    join(dir, 'Cargo.toml'),
    `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\ncrate-type = ["cdylib"]\n\n[features]\nextra = []\n\n[workspace]\n`,
  );
  writeFileSync(
    join(dir, 'src', 'lib.rs'),
    [
      '#[no_mangle] pub extern "C" fn ok() -> u32 { 7 }',
      '#[cfg(feature = "extra")] #[no_mangle] pub extern "C" fn extra() -> u32 { 8 }',
      bad ? 'pub fn broken() -> u32 { "not a number" }' : '',
      '',
    ].join('\n'),
  );
  return dir;
}

/** The lock file cargoBuild uses for `dir` (see src/cargo.ts), and its key. */
function lockOf(dir: string): [string, string] {
  const lockDir = join(tmpdir(), `rustplug-cargo-${process.getuid?.() ?? 0}`);
  mkdirSync(lockDir, { recursive: true });
  const key = realpathSync(dir);
  return [join(lockDir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.lock`), key];
}

describe('cargoBuild', () => {
  it('returns the cdylib cargo reports for a fixture, and opens', async () => {
    const r = await cargoBuild(join(fixtures, 'basic'), { release: true, offline: true });
    expect(r.library).toBe(join(fixtures, 'target', 'release', 'libbasic.so'));
    expect(r.artifact.crateTypes).toEqual(['cdylib']);
    expect(r.command).toContain('--message-format=json');
    using lib = open(r.library!, { add: { parameters: ['i32', 'i32'], result: 'i32' } });
    expect(lib.symbols.add(2, 3)).toBe(5);

    // Nothing changed: cargo rebuilds nothing, the paths stay.
    const again = await cargoBuild(join(fixtures, 'basic'), { release: true, offline: true });
    expect(again.fresh).toBe(true);
    expect(again.library).toBe(r.library);
  });

  it('crateType and rustflags: the basic fixture as a Rust dylib with -C prefer-dynamic', async () => {
    const targetDir = tempDir('rustplug-cargo-target-');
    temps.push(targetDir);
    const r = await cargoBuild(join(fixtures, 'basic'), {
      crateType: 'dylib',
      rustflags: ['-C', 'prefer-dynamic'],
      targetDir,
      offline: true,
    });
    expect(r.fresh).toBe(false);
    expect(r.artifact.crateTypes).toEqual(['dylib']);
    expect(r.library).toBe(join(realpathSync(targetDir), 'debug', 'libbasic.so'));
    using lib = open(r.library!, { add: { parameters: ['i32', 'i32'], result: 'i32' } });
    expect(lib.info.kind).toBe('rust-dylib');
    expect(lib.info.needed.some((n) => n.name.startsWith('libstd-'))).toBe(true);
    expect(lib.symbols.add(40, 2)).toBe(42);
  });

  it("rustcArgs reach the crate's own rustc only; rustflags reach its dependencies too", async () => {
    // A crate and a path dependency, each telling whether it was compiled with --cfg rp_marker.
    const dir = tinyCrate('rp_rustc_args');
    mkdirSync(join(dir, 'dep', 'src'), { recursive: true });
    writeFileSync(join(dir, 'dep', 'Cargo.toml'), '[package]\nname = "rp_dep"\nversion = "0.1.0"\nedition = "2021"\n');
    writeFileSync(join(dir, 'dep', 'src', 'lib.rs'), '#![allow(unexpected_cfgs)]\npub fn marked() -> bool { cfg!(rp_marker) }\n');
    writeFileSync(join(dir, 'Cargo.toml'), `${readFileSync(join(dir, 'Cargo.toml'), 'utf8')}\n[dependencies]\nrp_dep = { path = "dep" }\n`);
    writeFileSync(
      join(dir, 'src', 'lib.rs'),
      '#![allow(unexpected_cfgs)]\n#[no_mangle] pub extern "C" fn own_marked() -> bool { cfg!(rp_marker) }\n#[no_mangle] pub extern "C" fn dep_marked() -> bool { rp_dep::marked() }\n',
    );
    const decls = { own_marked: { parameters: [], result: 'bool' }, dep_marked: { parameters: [], result: 'bool' } } as const;

    const own = await cargoBuild(dir, { rustcArgs: ['--cfg', 'rp_marker'] });
    expect(own.command.slice(1, 3)).toEqual(['rustc', '--lib']);
    expect(own.command.slice(-3)).toEqual(['--', '--cfg', 'rp_marker']);
    {
      using lib = open(own.library!, decls);
      expect([lib.symbols.own_marked(), lib.symbols.dep_marked()]).toEqual([true, false]);
    }
    // Another target dir: the same file name rebuilt in place would be the one already loaded.
    const targetDir = tempDir('rustplug-cargo-target-');
    temps.push(targetDir);
    const all = await cargoBuild(dir, { rustflags: ['--cfg', 'rp_marker'], targetDir });
    using lib = open(all.library!, decls);
    expect([lib.symbols.own_marked(), lib.symbols.dep_marked()]).toEqual([true, true]);
  });

  it('features', async () => {
    const dir = tinyCrate('rp_features');
    const plain = await cargoBuild(dir);
    {
      using lib = open(plain.library!, { ok: { parameters: [], result: 'u32' } });
      expect(lib.info.exports).not.toContain('extra');
    }
    const withExtra = await cargoBuild(dir, { features: ['extra'], release: true });
    expect(withExtra.library).toMatch(/\/release\/librp_features\.so$/);
    using lib = open(withExtra.library!, { extra: { parameters: [], result: 'u32' } });
    expect(lib.symbols.extra()).toBe(8);
  });

  it("a failed build is a CargoBuildError with the compiler's diagnostics, streamed as they come", async () => {
    const dir = tinyCrate('rp_broken', { bad: true });
    const seen: string[] = [];
    const e = await cargoBuild(dir, { onDiagnostic: (d) => seen.push(d.level) }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CargoBuildError);
    expect(e).toBeInstanceOf(PluginError);
    const err = e as CargoBuildError;
    expect(err.code).toBe('ERR_CARGO_BUILD');
    expect(err.exitCode).not.toBe(0);
    const first = err.diagnostics.find((d) => d.level === 'error')!;
    expect(first.code).toBe('E0308');
    expect(first.file).toBe('src/lib.rs');
    expect(first.line).toBe(3);
    expect(err.message).toContain('mismatched types');
    expect(seen).toContain('error');
  });

  it("cargo's own failures (no manifest, no cargo) are CargoBuildErrors too", async () => {
    const empty = tempDir('rustplug-cargo-empty-');
    temps.push(empty);
    const e = (await cargoBuild(empty).catch((err: unknown) => err)) as CargoBuildError;
    expect(e.code).toBe('ERR_CARGO_BUILD');
    expect(e.stderr).toMatch(/Cargo\.toml/);
    const missing = (await cargoBuild(tinyCrate('rp_nocargo'), { cargo: '/nonexistent/cargo' }).catch((err: unknown) => err)) as CargoBuildError;
    expect(missing.code).toBe('ERR_CARGO_BUILD');
    expect(missing.message).toMatch(/cannot run/);
    const nodir = (await cargoBuild(join(empty, 'nope')).catch((err: unknown) => err)) as CargoBuildError;
    expect(nodir.code).toBe('ERR_CARGO_BUILD');
  });

  it('one build per crate across processes: of three concurrent callers, one builds', async () => {
    const dir = tinyCrate('rp_parallel');
    const script = `import { cargoBuild } from ${JSON.stringify(join(REPO, 'dist', 'cargo.js'))};
const r = await cargoBuild(process.argv[1]);
console.log(JSON.stringify({ fresh: r.fresh, library: r.library }));`;
    const outs = await Promise.all([1, 2, 3].map(() => run(process.execPath, ['--input-type=module', '-e', script, dir])));
    const results = outs.map((o) => JSON.parse(o.stdout) as { fresh: boolean; library: string });
    expect(results.filter((r) => !r.fresh)).toHaveLength(1);
    expect(new Set(results.map((r) => r.library)).size).toBe(1);
    // And in one process, concurrent calls queue as well.
    const local = await Promise.all([cargoBuild(dir, { release: true }), cargoBuild(dir, { release: true })]);
    expect(local.filter((r) => !r.fresh)).toHaveLength(1);
  });

  it('takes over the lock of a process that died holding it', async () => {
    const dir = tinyCrate('rp_stale');
    const [lock, key] = lockOf(dir);
    // A pid that is not running: a finished child's.
    const { pid } = await new Promise<{ pid: number }>((res) => {
      const c = execFile(process.execPath, ['-e', '0'], () => res({ pid: c.pid! }));
    });
    writeFileSync(lock, `${pid} ${hostname()}\n${key}\n`);
    const r = await cargoBuild(dir);
    expect(r.library).toMatch(/librp_stale\.so$/);
  });

  it('waits for a live holder of the lock (here: a lock file naming this process)', async () => {
    const dir = tinyCrate('rp_held');
    const [lock, key] = lockOf(dir);
    writeFileSync(lock, `${process.pid} ${hostname()}\n${key}\n`);
    try {
      const e = (await cargoBuild(dir, { lockTimeout: 200 }).catch((err: unknown) => err)) as CargoBuildError;
      expect(e.code).toBe('ERR_CARGO_BUILD');
      expect(e.message).toMatch(/another build/);
    } finally {
      rmSync(lock, { force: true });
    }
    expect((await cargoBuild(dir)).library).toMatch(/librp_held\.so$/);
  });

  it('an aborted signal rejects with an AbortError'
, async () => {
    const e = (await cargoBuild(tinyCrate('rp_abort'), { signal: AbortSignal.abort() }).catch((err: unknown) => err)) as Error;
    expect(e.name).toBe('AbortError');
  });
});
