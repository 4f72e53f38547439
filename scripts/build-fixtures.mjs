#!/usr/bin/env node
// Builds the native test fixtures in rust-fixtures/ (no npm dependencies).
//
//   node scripts/build-fixtures.mjs [--verbose]
//
// 1. scripts/install-deps.sh (Debian's librust-tokio-dev for offline crates; cargo and cc present)
// 2. cargo build --release --offline -p basic -p async-plugin   -> libbasic.so, libasync_plugin.so
// 3. cargo rustc -p basic-dylib --release --offline -- -C prefer-dynamic -> libbasic_dylib.so
//    (the flag applies to the final crate only, so nothing else is rebuilt), then a check that it
//    NEEDs libstd-<hash>.so
// 4. RUSTFLAGS='-C prefer-dynamic' cargo build -p exports -p mod_a -p mod_b --target <host> into
//    rust-fixtures/target/shared: Rust dylibs where mod_a and mod_b link libexports.so, which
//    links libstd-<hash>.so (own target dir, so the flag never invalidates the other builds;
//    --target keeps it off build scripts and proc macros)
// 5. cc -shared -fPIC -O2 for rust-fixtures/c/*.c -> rust-fixtures/target/c/*.so, skipped when
//    the output is newer than its source and this script
//
// Cargo decides by itself what is up to date; a run with nothing to do takes well under a second.
// On failure the compiler's output is printed and the exit code is non-zero.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const scriptPath = fileURLToPath(import.meta.url);
const root = join(dirname(scriptPath), '..');
const fixtures = join(root, 'rust-fixtures');
const release = join(fixtures, 'target', 'release');
const cOut = join(fixtures, 'target', 'c');
const verbose = process.argv.includes('--verbose') || process.argv.includes('-v');

const rel = (p) => relative(root, p);

function fail(message, output = '') {
  if (output) process.stderr.write(output.endsWith('\n') ? output : `${output}\n`);
  process.stderr.write(`build-fixtures: ${message}\n`);
  process.exit(1);
}

/** Runs a command; returns its output, or exits with it on failure. */
function run(cmd, args, { cwd = root, env = process.env, what = `${cmd} ${args.join(' ')}` } = {}) {
  if (verbose) process.stderr.write(`$ ${what}\n`);
  const r = spawnSync(cmd, args, {
    cwd,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: verbose ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} failed (exit ${r.status ?? r.signal})`, output);
  return output;
}

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

function report(path, before) {
  if (!existsSync(path)) fail(`${rel(path)} was not produced`);
  const { size, mtimeMs } = statSync(path);
  const state = mtimeMs !== before ? 'built     ' : 'up to date';
  console.log(`  ${state} ${rel(path)} (${Math.round(size / 1024)} KiB)`);
}

// 1. Dependencies -------------------------------------------------------------------------------
{
  const r = spawnSync('bash', [join(root, 'scripts', 'install-deps.sh')], { cwd: root, stdio: 'inherit' });
  if (r.error) fail(`cannot run scripts/install-deps.sh: ${r.error.message}`);
  if (r.status !== 0) fail('scripts/install-deps.sh failed (see above)');
}

// 2./3. Rust ------------------------------------------------------------------------------------
// Outputs must land in rust-fixtures/target: ignore a target dir or target triple from the env.
const cargoEnv = { ...process.env };
for (const k of ['CARGO_TARGET_DIR', 'CARGO_BUILD_TARGET_DIR', 'CARGO_BUILD_TARGET']) delete cargoEnv[k];

const rust = {
  basic: join(release, 'libbasic.so'),
  asyncPlugin: join(release, 'libasync_plugin.so'),
  basicDylib: join(release, 'libbasic_dylib.so'),
};
const rustBefore = Object.fromEntries(Object.entries(rust).map(([k, p]) => [k, mtime(p)]));

if (rustBefore.basic < 0 || rustBefore.asyncPlugin < 0 || rustBefore.basicDylib < 0) {
  console.log('build-fixtures: cargo build (release) — the first build takes a while');
}
run('cargo', ['build', '--release', '--offline', '-p', 'basic', '-p', 'async-plugin'], { cwd: fixtures, env: cargoEnv });
report(rust.basic, rustBefore.basic);
report(rust.asyncPlugin, rustBefore.asyncPlugin);

run('cargo', ['rustc', '-p', 'basic-dylib', '--release', '--offline', '--', '-C', 'prefer-dynamic'], {
  cwd: fixtures,
  env: cargoEnv,
});
report(rust.basicDylib, rustBefore.basicDylib);

// The point of libbasic_dylib.so is to be a Rust dylib that needs the toolchain's libstd.
{
  const r = spawnSync('readelf', ['-d', rust.basicDylib], { encoding: 'utf8' });
  if (r.error) {
    console.warn(`build-fixtures: readelf not available, skipped the NEEDED libstd check (${r.error.message})`);
  } else if (r.status !== 0) {
    fail(`readelf -d ${rel(rust.basicDylib)} failed`, `${r.stdout}${r.stderr}`);
  } else if (!/\(NEEDED\)\s+Shared library: \[libstd-[^\]]+\.so\]/.test(r.stdout)) {
    fail(`${rel(rust.basicDylib)} does not NEED libstd-*.so (was it built without -C prefer-dynamic?)`, r.stdout);
  }
}

// 4. Shared Rust runtime: exports, mod_a, mod_b ---------------------------------------------------
{
  const host = /^host: (\S+)$/m.exec(run('rustc', ['-vV']))?.[1];
  if (!host) fail('rustc -vV did not name the host target');
  const sharedOut = join(fixtures, 'target', 'shared', host, 'release');
  const shared = ['exports', 'mod_a', 'mod_b'].map((c) => join(sharedOut, `lib${c}.so`));
  const before = shared.map(mtime);
  run('cargo', ['build', '--release', '--offline', '-p', 'exports', '-p', 'mod_a', '-p', 'mod_b', '--target-dir', join(fixtures, 'target', 'shared'), '--target', host], {
    cwd: fixtures,
    env: { ...cargoEnv, RUSTFLAGS: '-C prefer-dynamic' },
  });
  shared.forEach((p, i) => report(p, before[i]));
}

// 5. C ------------------------------------------------------------------------------------------
const cc = process.env.CC || 'cc';
const cTargets = [
  { src: join(fixtures, 'c', 'cplugin.c'), out: join(cOut, 'libcplugin.so'), flags: [] },
  { src: join(fixtures, 'c', 'c_async.c'), out: join(cOut, 'libc_async.so'), flags: ['-pthread'] },
  { src: join(fixtures, 'c', 'c_hooks.c'), out: join(cOut, 'libc_hooks.so'), flags: [] },
  { src: join(fixtures, 'c', 'cbench.c'), out: join(cOut, 'libcbench.so'), flags: [] },
];
mkdirSync(cOut, { recursive: true });
const scriptTime = mtime(scriptPath); // flags live here: editing them rebuilds
for (const { src, out, flags } of cTargets) {
  const before = mtime(out);
  if (before < 0 || before < mtime(src) || before < scriptTime) {
    const tmp = `${out}.tmp-${process.pid}`;
    try {
      run(cc, ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', ...flags, '-o', tmp, src], {
        what: `${cc} ${rel(src)}`,
      });
      renameSync(tmp, out);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  report(out, before);
}
