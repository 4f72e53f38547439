#!/usr/bin/env node
// Builds the native addon from source with node-gyp: build/Release/rustplug.node.
//
//   node scripts/build-addon.mjs            # what `npm install` in a checkout and `npm run build:addon` run
//
// Node's headers are the running Node's own (<prefix>/include/node, see node-toolchain.mjs),
// passed to node-gyp as --nodedir: nothing is downloaded and npm's `nodedir` setting is ignored.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildEnv, nodeDir, nodeGypCommand } from './node-toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs node-gyp rebuild in `cwd` (default: the package root); returns its exit status. */
export function buildAddon({ cwd = root, stdio = 'inherit' } = {}) {
  const prefix = nodeDir();
  const [node, gyp] = nodeGypCommand();
  const args = [gyp, 'rebuild', '--release', `--nodedir=${prefix}`, `-j`, String(Math.max(1, Math.min(availableParallelism(), 4)))];
  const r = spawnSync(node, args, { cwd, env: buildEnv(prefix), stdio, encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let r;
  try {
    r = buildAddon();
  } catch (e) {
    console.error(`rustplug: cannot build the native addon: ${e.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    console.error('rustplug: building the native addon failed (node-gyp, above). It needs python3, make and g++ (Debian: apt-get install python3 make g++).');
    process.exit(1);
  }
}
