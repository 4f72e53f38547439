// Where the native builds find Node's headers and node-gyp, explicitly and offline.
//
// The addon uses the C Node-API (node_api.h) and libuv (uv.h, for its uv_async_t). The
// node-api-headers package has no uv.h, so both come from the headers of the Node that runs the
// build: <prefix>/include/node, where <prefix> is the install prefix of process.execPath
// (/usr/bin/node -> /usr; ~/.nvm/versions/node/v20.19.0/bin/node -> ~/.nvm/versions/node/v20.19.0).
// Official Node tarballs and Debian's nodejs package both ship that directory. RUSTPLUG_NODEDIR
// overrides the prefix. Nothing is downloaded and npm's `nodedir` setting is never consulted.

import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The Node install prefix whose include/node has node_api.h and uv.h; throws with advice otherwise. */
export function nodeDir() {
  const override = process.env.RUSTPLUG_NODEDIR;
  const prefix = override || dirname(dirname(realpathSync(process.execPath)));
  const include = join(prefix, 'include', 'node');
  const missing = ['node_api.h', 'uv.h', 'common.gypi'].filter((f) => !existsSync(join(include, f)));
  if (missing.length) {
    throw new Error(
      `Node's headers are not in ${include} (missing ${missing.join(', ')}). ` +
        (override
          ? 'RUSTPLUG_NODEDIR must be a Node install prefix (the directory holding include/node).'
          : `They come with the Node that runs this build (${process.execPath}): install Node from a nodejs.org tarball or your distribution's package with its headers, or set RUSTPLUG_NODEDIR to a Node install prefix.`),
    );
  }
  return prefix;
}

/** The include directory itself: <nodeDir>/include/node. */
export function nodeInclude() {
  return join(nodeDir(), 'include', 'node');
}

/** How to run node-gyp: [node, node-gyp.js]. npm's own copy first (npm hands it to scripts). */
export function nodeGypCommand() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(dirname(realpathSync(process.execPath))), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package
  }
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) {
    throw new Error('node-gyp was not found (it comes with npm). Run the build through npm (npm install / npm run build:addon), or install node-gyp.');
  }
  return [process.execPath, found];
}

/** The environment for node-gyp and prebuildify: npm's nodedir setting removed, ours explicit. */
export function buildEnv(prefix = nodeDir()) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_config_(nodedir|dist_url|disturl|tarball)$/i.test(k)) delete env[k];
  env.npm_config_nodedir = prefix;
  return env;
}
