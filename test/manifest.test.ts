// RUSTPLUG_MANIFEST and the sharing-set rules, checked before dlopen: members of the set that
// mod_a and mod_b form (they share libexports.so) must match in rustc, target and the versions
// and features of the crates they share; async symbols need async-ffi ABI 2; a malformed manifest
// is named; a member without one loads with a warning. Mismatching members: a real cargo build
// with another tokio feature set (mod_features), and C libraries linking libexports.so whose
// manifests claim what a test needs. Each C library's constructor writes a marker file: a refused
// library must never have run.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { inspect, open, PluginFormatError, PluginIncompatibleError } from '../src/index.js';
import { main } from '../src/cli.js';
import { addon } from '../src/native.js';
import { cc, tempDir, thrown } from './helpers/plugins.js';
import { modADecls, modBDecls, SET, sharedDir } from './helpers/shared-set.js';

let dir: string;
const opts = { libraryPath: [sharedDir] };
const answer = { stub_answer: { parameters: [], result: 'i32' } } as const;
let setManifest: Record<string, unknown>;

/** Builds lib<name>.so exporting `manifest` (a C initialiser, or null for none), linking libexports.so when `member`. */
function stub(name: string, manifest: string | null, member = true): { path: string; marker: string } {
  const marker = join(dir, `${name}.ran`);
  const src = join(dir, `${name}.c`);
  writeFileSync(
    src,
    `#include <stdio.h>
${manifest === null ? '' : manifest.startsWith('=') || manifest.startsWith('[') ? `const char RUSTPLUG_MANIFEST${manifest};` : `const char RUSTPLUG_MANIFEST[] = ${JSON.stringify(manifest)};`}
int stub_answer(void) { return 42; }
__attribute__((constructor)) static void ran(void) { FILE *f = fopen(${JSON.stringify(marker)}, "w"); if (f) fclose(f); }
`,
  );
  const path = join(dir, `lib${name}.so`);
  cc(['-shared', '-fPIC', '-o', path, src, ...(member ? ['-L', sharedDir, '-Wl,--no-as-needed', '-l:libexports.so'] : [])], dir);
  return { path, marker };
}

const withSet = (patch: Record<string, unknown>) => JSON.stringify({ ...setManifest, plugin: { name: 'stub', version: '0.0.1' }, ...patch });

beforeAll(() => {
  dir = tempDir();
  const a = open(SET.modA, modADecls, opts);
  expect(a.info.manifest).not.toBeNull();
  setManifest = a.info.manifest as Record<string, unknown>;
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the manifest', () => {
  it('is read from the file: lib.info.manifest, inspect(), rustplug inspect', async () => {
    expect(setManifest).toMatchObject({
      rustplug: 1,
      plugin: { name: 'mod_a', version: '0.1.0' },
      rustc: expect.stringMatching(/^1\.\d+\.\d+ \([0-9a-f]+ \d{4}-\d\d-\d\d\)$/),
      target: expect.stringMatching(/^x86_64-/),
      abi: { 'async-ffi': 2 },
      shared: {
        exports: { version: '0.1.0', features: [] },
        'rustplug-plugin': { version: '0.1.0', features: ['default', 'runtime'] },
        tokio: { version: expect.stringMatching(/^1\./), features: expect.arrayContaining(['rt-multi-thread', 'time']) },
      },
    });
    expect(inspect(SET.modB, opts).manifest).toEqual({ ...setManifest, plugin: { name: 'mod_b', version: '0.1.0' } });
    let out = '';
    expect(await main(['inspect', '-L', sharedDir, SET.modA], (s) => (out += s))).toBe(0);
    expect(out).toContain(`  manifest\n    version 1\n    plugin  mod_a 0.1.0\n    rustc   ${setManifest.rustc as string}\n`);
    expect(out).toMatch(/\n {4}shared {2}exports 0\.1\.0\n {12}rustplug-plugin 0\.1\.0 \(default, runtime\)\n {12}tokio 1\.\S+ \(.*rt-multi-thread.*\)\n/);
  });

  it('a module of the set with the same manifest joins it', () => {
    const b = open(SET.modB, modBDecls, opts);
    expect(b.symbols.mod_b_bump(0)).toBeGreaterThanOrEqual(0);
    const s = stub('same', withSet({}));
    expect(open(s.path, answer, opts).symbols.stub_answer()).toBe(42);
  });
});

describe('sharing-set rules, before dlopen', () => {
  it('a member built with another tokio feature set (a real cargo build) is refused, every differing key side by side', () => {
    const e = thrown(() => open(SET.features, modBDecls, opts)) as PluginIncompatibleError;
    expect(e).toBeInstanceOf(PluginIncompatibleError);
    expect(e.code).toBe('ERR_PLUGIN_INCOMPATIBLE');
    expect(e.differences.map((d) => d.key)).toEqual(['shared.exports.features', 'shared.rustplug-plugin.features', 'shared.tokio.features']);
    expect(e.differences.every((d) => d.otherPath === SET.modA)).toBe(true);
    const lines = e.message.split('\n');
    expect(lines[0]).toBe(`cannot load ${SET.features}: it shares libexports.so with ${SET.modA}, which is loaded, and differs from it in:`);
    expect(lines[1]).toMatch(/^ {2}key +libmod_features\.so +libmod_a\.so \(loaded\)$/);
    // Side by side: each value under its module's name.
    expect(lines[2]!.indexOf('io-util')).toBe(lines[1]!.indexOf('libmod_features.so'));
    expect(lines[2]!.indexOf('(none)')).toBe(lines[1]!.indexOf('libmod_a.so'));
    expect(lines[2]).toMatch(/^ {2}shared\.exports\.features +io-util +\(none\)$/);
    expect(lines[3]).toMatch(/^ {2}shared\.rustplug-plugin\.features +default, io-util, runtime +default, runtime$/);
    expect(lines[4]).toMatch(/^ {2}shared\.tokio\.features +.*io-util.* +num_cpus, rt, rt-multi-thread, sync, time$/);
    expect(e.message).toContain('must be built by the same rustc, for the same target, with the same versions and features of every crate they share');
    expect(addon.loadedObjects()).not.toContain(SET.features);
  });

  it('a manifest claiming another rustc is refused; the library never ran', () => {
    const s = stub('rustc', withSet({ rustc: '1.96.0 (0123456789 2026-06-01)' }));
    const e = thrown(() => open(s.path, answer, opts)) as PluginIncompatibleError;
    expect(e).toBeInstanceOf(PluginIncompatibleError);
    expect(e.differences).toEqual([{ key: 'rustc', plugin: '1.96.0 (0123456789 2026-06-01)', other: setManifest.rustc, otherPath: SET.modA }]);
    expect(e.message).toMatch(new RegExp(`\\n {2}rustc +1\\.96\\.0 \\(0123456789 2026-06-01\\) +${(setManifest.rustc as string).replace(/[().]/g, '\\$&')}\\n`));
    expect(existsSync(s.marker)).toBe(false);
    expect(addon.loadedObjects()).not.toContain(s.path);
  });

  it('every differing key is listed: rustc, target and a shared crate version', () => {
    const tokio = (setManifest.shared as Record<string, { features: string[] }>).tokio!;
    const s = stub(
      'many',
      withSet({ rustc: '1.80.0 (abc 2024-07-21)', target: 'aarch64-unknown-linux-gnu', shared: { ...(setManifest.shared as object), tokio: { ...tokio, version: '1.99.0' } } }),
    );
    const e = thrown(() => open(s.path, answer, opts)) as PluginIncompatibleError;
    expect(e.differences.map((d) => [d.key, d.plugin])).toEqual([
      ['rustc', '1.80.0 (abc 2024-07-21)'],
      ['target', 'aarch64-unknown-linux-gnu'],
      ['shared.tokio.version', '1.99.0'],
    ]);
    expect(existsSync(s.marker)).toBe(false);
  });

  it('a plugin with async symbols and another async-ffi ABI is refused; declared sync, it loads', () => {
    const s = stub('abi3', JSON.stringify({ rustplug: 1, abi: { 'async-ffi': 3 } }), false);
    const e = thrown(() => open(s.path, { stub_answer: { parameters: [], result: { future: 'u32' } } })) as PluginIncompatibleError;
    expect(e).toBeInstanceOf(PluginIncompatibleError);
    expect(e.differences).toEqual([{ key: 'abi.async-ffi', plugin: '3', other: '2', otherPath: null }]);
    expect(e.message).toContain("it declares async results ('stub_answer')");
    expect(e.message).toMatch(/\n {2}abi\.async-ffi +3 +2\n/);
    expect(existsSync(s.marker)).toBe(false);
    expect(open(s.path, answer).symbols.stub_answer()).toBe(42);
    expect(existsSync(s.marker)).toBe(true);
  });

  it('a member without a manifest loads, with one RUSTPLUG_NO_MANIFEST warning per file', async () => {
    const s = stub('bare', null);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      expect(open(s.path, answer, opts).symbols.stub_answer()).toBe(42);
      expect(open(s.path, answer, opts).symbols.stub_answer()).toBe(42);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => [(w as Error & { code?: string }).code, w.name])).toEqual([['RUSTPLUG_NO_MANIFEST', 'RustplugWarning']]);
    expect(warnings[0]!.message).toContain(`${s.path} has no RUSTPLUG_MANIFEST: it shares code with other Rust modules (libexports.so`);
  });
});

describe('malformed manifests: ERR_PLUGIN_MALFORMED naming the symbol', () => {
  const cases: [string, string, RegExp][] = [
    ['notjson', 'rustplug 1', /its RUSTPLUG_MANIFEST symbol is not JSON \(.*\): "rustplug 1"/],
    ['nonul', '[4] = { 0x7b, 0x7d, 0x20, 0x20 }', /its RUSTPLUG_MANIFEST symbol is not NUL-terminated within its 4 bytes/],
    ['version2', JSON.stringify({ rustplug: 2 }), /its RUSTPLUG_MANIFEST symbol states "rustplug": 2, and this rustplug reads manifest version 1 only/],
    ['noversion', JSON.stringify({ plugin: { name: 'x' } }), /states "rustplug": nothing/],
    ['badshared', JSON.stringify({ rustplug: 1, shared: { tokio: { version: 1 } } }), /has a "shared" crate "tokio" that is not \{ "version": string, "features": \[string\] \}/],
  ];
  for (const [name, manifest, expected] of cases) {
    it(name, () => {
      const s = stub(`m_${name}`, manifest, false);
      const e = thrown(() => open(s.path, answer)) as PluginFormatError;
      expect(e).toBeInstanceOf(PluginFormatError);
      expect(e.code).toBe('ERR_PLUGIN_MALFORMED');
      expect(e.message).toMatch(expected);
      expect(existsSync(s.marker)).toBe(false);
      expect(() => inspect(s.path)).toThrow(expected);
    });
  }
  it('a manifest in .bss (no bytes in the file)', () => {
    const src = join(dir, 'bss.c');
    writeFileSync(src, 'char RUSTPLUG_MANIFEST[32];\nint stub_answer(void) { return 42; }\n');
    cc(['-shared', '-fPIC', '-fno-common', '-o', join(dir, 'libbss.so'), src], dir);
    const e = thrown(() => open(join(dir, 'libbss.so'), answer)) as PluginFormatError;
    expect(e.code).toBe('ERR_PLUGIN_MALFORMED');
    expect(e.message).toContain('its RUSTPLUG_MANIFEST symbol has no bytes in the file');
  });
});
