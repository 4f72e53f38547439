#!/usr/bin/env node
// Prints, one per line, what the sanitizer builds (scripts/test-asan.sh, scripts/test-tsan.sh)
// take from binding.gyp, so the addon's source list and defines live in one place:
//
//   node scripts/addon-gyp.mjs sources    # native/addon.cc ... (paths relative to the repo)
//   node scripts/addon-gyp.mjs defines    # NAPI_VERSION=8 ...
//
// binding.gyp is a Python literal; ours is JSON apart from what gyp also allows: '#' comments and
// trailing commas. Anything else fails loudly rather than building a partial addon.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const what = process.argv[2];
if (what !== 'sources' && what !== 'defines') {
  process.stderr.write('usage: node scripts/addon-gyp.mjs sources|defines\n');
  process.exit(2);
}
const text = readFileSync(join(root, 'binding.gyp'), 'utf8')
  .split('\n')
  .filter((line) => !/^\s*#/.test(line))
  .join('\n')
  .replace(/,(\s*[\]}])/g, '$1');
let gyp;
try {
  gyp = JSON.parse(text);
} catch (e) {
  process.stderr.write(`addon-gyp: cannot read binding.gyp as JSON (${e.message})\n`);
  process.exit(1);
}
const target = gyp.targets?.find((t) => t.target_name === 'rustplug');
const list = target?.[what];
if (!Array.isArray(list) || (what === 'sources' && list.length === 0)) {
  process.stderr.write(`addon-gyp: binding.gyp has no ${what} list for target rustplug\n`);
  process.exit(1);
}
process.stdout.write(list.map((s) => `${s}\n`).join(''));
