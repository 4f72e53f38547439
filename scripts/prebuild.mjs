#!/usr/bin/env node
// Makes the prebuilt addon shipped in the package: prebuilds/linux-x64/rustplug.node, loaded by
// node-gyp-build when no local build exists (src/native.ts).
//
//   node scripts/prebuild.mjs [--force]      # `npm pack` / `npm publish` run it (prepack)
//
// prebuildify --napi --strip builds one Node-API binary (NAPI_VERSION in binding.gyp) that every
// Node >= 20.19 loads. It runs in a staged copy of binding.gyp and native/ in a temporary
// directory: `node-gyp rebuild` there never touches this checkout's build/, which tests may be
// loading. Skipped when the prebuild is newer than every native source (--force rebuilds).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildEnv, nodeDir, nodeGypCommand } from './node-toolchain.mjs';

const scriptPath = fileURLToPath(import.meta.url);
const root = join(dirname(scriptPath), '..');
const require = createRequire(import.meta.url);
export const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
export const prebuildFile = join(prebuildDir, 'rustplug.node');

function newestInput() {
  let newest = Math.max(statSync(join(root, 'binding.gyp')).mtimeMs, statSync(scriptPath).mtimeMs);
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(root, 'native'));
  return newest;
}

/** Builds the prebuild when stale; returns { built, file, ms }. Throws with the build's output on failure. */
export function prebuild({ force = false, quiet = true } = {}) {
  const started = Date.now();
  if (!force && existsSync(prebuildFile) && statSync(prebuildFile).mtimeMs >= newestInput()) {
    return { built: false, file: prebuildFile, ms: Date.now() - started };
  }
  const prefix = nodeDir();
  const [, gyp] = nodeGypCommand();
  const stage = mkdtempSync(join(tmpdir(), 'rustplug-prebuild-'));
  try {
    cpSync(join(root, 'binding.gyp'), join(stage, 'binding.gyp'));
    cpSync(join(root, 'native'), join(stage, 'native'), { recursive: true });
    writeFileSync(join(stage, 'package.json'), JSON.stringify({ name: 'rustplug', private: true }));
    const bin = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
    const r = spawnSync(
      process.execPath,
      [bin, '--napi', '--strip', `--target=${process.versions.node}`, '--node-gyp', gyp, '--cwd', stage],
      { cwd: stage, env: { ...buildEnv(prefix), JOBS: '2' }, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit' },
    );
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`prebuildify failed (exit ${r.status}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
    const built = join(stage, 'prebuilds', `${process.platform}-${process.arch}`);
    const files = readdirSync(built).filter((f) => f.endsWith('.node'));
    if (files.length !== 1) throw new Error(`prebuildify produced ${files.length} .node files in ${built}: ${files.join(', ')}`);
    mkdirSync(prebuildDir, { recursive: true });
    // Copied under a temporary name, then renamed: a reader never sees half a file.
    const tmp = `${prebuildFile}.tmp-${process.pid}`;
    cpSync(join(built, files[0]), tmp);
    spawnSync('mv', ['-f', tmp, prebuildFile]);
    return { built: true, file: prebuildFile, ms: Date.now() - started };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] === scriptPath) {
  try {
    const r = prebuild({ force: process.argv.includes('--force'), quiet: false });
    console.log(`prebuild: ${r.built ? 'built' : 'up to date'} ${relative(root, r.file)} (${Math.round(statSync(r.file).size / 1024)} KiB, ${r.ms} ms)`);
  } catch (e) {
    console.error(`prebuild: ${e.message}`);
    process.exit(1);
  }
}
