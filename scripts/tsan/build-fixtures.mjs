#!/usr/bin/env node
// The fixtures instrumented for ThreadSanitizer, for scripts/test-tsan.sh, and their map:
//
//   node scripts/tsan/build-fixtures.mjs <out dir>     (after scripts/build-fixtures.mjs)
//
// - <out>/target/c/*.so: rust-fixtures/c/*.c with cc -fsanitize=thread, each rebuilt when its
//   source or this script is newer.
// - basic and async-plugin with rustc's -Zsanitizer=thread (a stable toolchain allows it under
//   RUSTC_BOOTSTRAP=1) into <out>/target, through rustplug/cargo. Without it every hand-off of a
//   waker clone through tokio's or std's atomics is invisible to TSan and each cross-thread wake
//   reads as a race. The flags reach every crate (tokio's code is what synchronises).
// - <out>/fixtures.json: rust-fixtures/target/fixtures.json (what scripts/build-fixtures.mjs
//   built) with these files in place of the normal ones; the tests read it through
//   RUSTPLUG_FIXTURES. The Rust paths are the ones cargo reported.
// Prints the map's path on stdout (progress goes to stderr).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { freshDist } from '../dist.mjs';

const scriptPath = fileURLToPath(import.meta.url);
const root = join(dirname(scriptPath), '..', '..');
const fixtures = join(root, 'rust-fixtures');

function fail(message) {
  process.stderr.write(`tsan/build-fixtures: ${message}\n`);
  process.exit(1);
}

if (!process.argv[2]) fail('usage: node scripts/tsan/build-fixtures.mjs <out dir>');
const out = resolve(process.argv[2]);
const normalMap = join(fixtures, 'target', 'fixtures.json');
if (!existsSync(normalMap)) fail(`${normalMap} is missing: run node scripts/build-fixtures.mjs first`);
const map = JSON.parse(readFileSync(normalMap, 'utf8'));

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : -1);

// C -----------------------------------------------------------------------------------------------
const cc = process.env.CC || 'cc';
const cOut = join(out, 'target', 'c');
mkdirSync(cOut, { recursive: true });
for (const file of readdirSync(join(fixtures, 'c')).filter((f) => f.endsWith('.c'))) {
  const name = file.slice(0, -2);
  const src = join(fixtures, 'c', file);
  const so = join(cOut, `lib${name}.so`);
  if (mtime(so) < Math.max(mtime(src), mtime(scriptPath))) {
    console.error(`tsan/build-fixtures: compiling rust-fixtures/c/${file}`);
    const tmp = `${so}.tmp-${process.pid}`;
    const r = spawnSync(cc, ['-shared', '-fPIC', '-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=thread', '-pthread', '-Wall', '-Wextra', '-o', tmp, src], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0) {
      rmSync(tmp, { force: true });
      fail(`${cc} -fsanitize=thread ${file} failed${r.error ? `: ${r.error.message}` : ''}`);
    }
    renameSync(tmp, so);
  }
  map[name] = so;
}

// Rust --------------------------------------------------------------------------------------------
// rustc's std stays uninstrumented (rebuilding it needs -Zbuild-std and crates that are not
// available offline); its generic code (channels, Arc, atomics) is compiled into the fixtures and
// is instrumented.
try {
  freshDist('tsan/build-fixtures');
} catch (e) {
  fail(e.message);
}
const { cargoBuild } = await import(pathToFileURL(join(root, 'dist', 'cargo.js')).href);
const env = { ...process.env, RUSTC_BOOTSTRAP: '1' };
for (const k of ['CARGO_TARGET_DIR', 'CARGO_BUILD_TARGET_DIR', 'CARGO_BUILD_TARGET']) delete env[k];
for (const crate of ['basic', 'async-plugin']) {
  let r;
  try {
    r = await cargoBuild(join(fixtures, crate), {
      release: true,
      offline: true,
      targetDir: join(out, 'target'),
      rustflags: ['-Zsanitizer=thread', '-Cunsafe-allow-abi-mismatch=sanitizer', '-Cforce-frame-pointers=yes'],
      env,
    });
  } catch (e) {
    fail(`cargo build with -Zsanitizer=thread failed:\n${e.message}`);
  }
  if (!r.fresh) console.error(`tsan/build-fixtures: built ${r.library}`);
  map[r.artifact.name] = r.library;
}

const mapPath = join(out, 'fixtures.json');
writeFileSync(`${mapPath}.tmp`, `${JSON.stringify(map, null, 2)}\n`);
renameSync(`${mapPath}.tmp`, mapPath);
console.log(mapPath);
