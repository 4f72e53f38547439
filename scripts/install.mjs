#!/usr/bin/env node
// npm's install hook. An installed package ships a prebuilt addon (prebuilds/linux-x64/, made by
// prebuildify): when it loads on this machine there is nothing to do. Otherwise (another libc, a
// prebuild missing, RUSTPLUG_BUILD_FROM_SOURCE=1 or npm's --build-from-source) the addon is built
// from source (scripts/build-addon.mjs). A git checkout always builds from source.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function prebuildLoads() {
  if (existsSync(join(root, '.git'))) return false;
  if (process.env.RUSTPLUG_BUILD_FROM_SOURCE === '1' || process.env.npm_config_build_from_source === 'true') return false;
  try {
    require(require('node-gyp-build').path(root));
    return true;
  } catch {
    return false;
  }
}

if (!prebuildLoads()) {
  const { buildAddon } = await import('./build-addon.mjs');
  let r;
  try {
    r = buildAddon({ cwd: root });
  } catch (e) {
    console.error(`rustplug: no prebuilt addon loads here and it cannot be built: ${e.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    console.error('rustplug: no prebuilt addon loads here, and building it failed (node-gyp, above). It needs python3, make and g++.');
    process.exit(1);
  }
}
