#!/usr/bin/env node
// Builds the addon with cmake-js from CMakeLists.txt, using a preset of CMakePresets.json.
//
//   node scripts/build-cmake.mjs [--preset release|asan|tsan]    (npm run build:cmake -- --preset asan)
//
// Prints the path of the built addon (<binaryDir>/<CMAKE_BUILD_TYPE>/rustplug.node) on its last
// line; load it with RUSTPLUG_ADDON=<that path>. The preset's binaryDir and cache variables go to
// cmake-js (-O, -B, --CD...), and Node's headers are the running Node's (node-toolchain.mjs), so
// nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { buildEnv, nodeDir, nodeInclude } from './node-toolchain.mjs';

const scriptPath = fileURLToPath(import.meta.url);
const root = join(dirname(scriptPath), '..');
const require = createRequire(import.meta.url);

/** The presets of CMakePresets.json: name -> { binaryDir, cacheVariables }. */
export function presets() {
  const json = JSON.parse(readFileSync(join(root, 'CMakePresets.json'), 'utf8'));
  return Object.fromEntries(
    json.configurePresets.map((p) => [p.name, { binaryDir: p.binaryDir.replace('${sourceDir}', root), cacheVariables: p.cacheVariables ?? {} }]),
  );
}

/** Configures and builds `preset`; returns { status, output, addon }. */
export function buildCmake(preset = 'release', { stdio = 'pipe' } = {}) {
  const all = presets();
  const p = all[preset];
  if (!p) throw new Error(`unknown preset '${preset}' (CMakePresets.json has ${Object.keys(all).join(', ')})`);
  const config = p.cacheVariables.CMAKE_BUILD_TYPE ?? 'Release';
  const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const args = [cmakeJs, 'build', '-d', root, '-O', p.binaryDir, '-B', config, '-p', String(Math.max(1, Math.min(availableParallelism(), 4))), '-m'];
  args.push(`--CDRUSTPLUG_NODE_INCLUDE=${nodeInclude()}`);
  for (const [k, v] of Object.entries(p.cacheVariables)) if (k !== 'CMAKE_BUILD_TYPE') args.push(`--CD${k}=${v}`);
  const r = spawnSync(process.execPath, args, { cwd: root, env: buildEnv(nodeDir()), encoding: 'utf8', stdio, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  const addon = join(p.binaryDir, config, 'rustplug.node');
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, addon };
}

if (process.argv[1] === scriptPath) {
  const { values } = parseArgs({ options: { preset: { type: 'string', default: 'release' } } });
  let r;
  try {
    r = buildCmake(values.preset, { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (e) {
    console.error(`build-cmake: ${e.message}`);
    process.exit(1);
  }
  if (r.status !== 0 || !existsSync(r.addon)) {
    console.error(`build-cmake: cmake-js failed for preset '${values.preset}' (above). It needs cmake >= 3.21, make and g++ (Debian: apt-get install cmake make g++).`);
    process.exit(1);
  }
  console.log(relative(process.cwd(), r.addon));
}
