// The two build descriptions of the addon (binding.gyp for node-gyp/prebuildify, CMakeLists.txt
// for cmake-js) must build the same thing: every native/*.cc, the same Node-API version.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { expect, it } from 'vitest';

import { REPO } from './helpers/plugins.js';

const nativeSources = (): string[] => {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.cc')) out.push(relative(REPO, join(dir, e.name)));
    }
  };
  walk(join(REPO, 'native'));
  return out.sort();
};

const gyp = JSON.parse(readFileSync(join(REPO, 'binding.gyp'), 'utf8')) as { targets: { sources: string[]; defines: string[] }[] };
const cmake = readFileSync(join(REPO, 'CMakeLists.txt'), 'utf8');

it('binding.gyp and CMakeLists.txt compile every native/*.cc, and nothing else', () => {
  expect([...gyp.targets[0]!.sources].sort()).toEqual(nativeSources());
  const listed = /add_library\(rustplug SHARED([^)]*)\)/.exec(cmake)![1]!.trim().split(/\s+/);
  expect(listed.sort()).toEqual(nativeSources());
});

it('both pin the same Node-API version, and package.json states it for cmake-js', () => {
  const napi = gyp.targets[0]!.defines.find((d) => d.startsWith('NAPI_VERSION='));
  expect(napi).toBe('NAPI_VERSION=8');
  expect(cmake).toContain(napi);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  expect(pkg.binary.napi_versions).toEqual([8]);
});

it('the sanitizer variants are CMake presets', () => {
  const presets = JSON.parse(readFileSync(join(REPO, 'CMakePresets.json'), 'utf8')).configurePresets as { name: string; cacheVariables: Record<string, string> }[];
  expect(Object.fromEntries(presets.map((p) => [p.name, p.cacheVariables.RUSTPLUG_SANITIZE]))).toEqual({ release: '', asan: 'address;undefined', tsan: 'thread' });
});
