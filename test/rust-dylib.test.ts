// Rust dylibs load without hand-written search paths: libstd-<hash>.so comes from the installed
// toolchain, and the exports/mod_a/mod_b layout (two -C prefer-dynamic plugins sharing one Rust
// dylib, which itself needs libstd) loads as one graph, with one copy of the shared state.
// Its own process (vitest forks per file): nothing has loaded a libstd yet.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { open } from '../src/index.js';
import { addon } from '../src/native.js';
import { PLUGINS } from './helpers/plugins.js';
import { SET, sharedDir } from './helpers/shared-set.js';

const host = /^host: (\S+)$/m.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))![1]!;
const sysrootLib = join(execFileSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).trim(), 'lib', 'rustlib', host, 'lib');
const modDecls = (m: 'a' | 'b') =>
  ({
    [`mod_${m}_bump`]: { parameters: ['u64'], result: 'u64' },
    [`mod_${m}_counter_address`]: { parameters: [], result: 'usize' },
  }) as const;

describe('Rust dylibs', () => {
  it('libbasic_dylib.so opens without options: libstd comes from the active toolchain', () => {
    expect(addon.loadedObjects().some((p) => /\/libstd-[0-9a-f]+\.so$/.test(p))).toBe(false);
    const lib = open(PLUGINS.basicDylib, { add: { parameters: ['i32', 'i32'], result: 'i32' } });
    expect(lib.symbols.add(40, 2)).toBe(42);
    const [root, ...deps] = lib.info.dependencies;
    const std = deps.find((d) => d.name.startsWith('libstd-'))!;
    expect(std).toMatchObject({ via: 'sysroot', path: join(sysrootLib, std.name), rustDylib: true, alreadyLoaded: false });
    expect(root).toMatchObject({ via: 'path', rustDylib: true, libstdHash: std.libstdHash, soname: 'libbasic_dylib.so' });
    // The loaded objects carry the paths ld.so would have given them, not /proc/self/fd/N.
    expect(addon.loadedObjects()).toEqual(expect.arrayContaining([join(sysrootLib, std.name), PLUGINS.basicDylib]));
    expect(addon.loadedObjects().some((p) => p.startsWith('/proc/self/fd/'))).toBe(false);
  });

  it('mod_a and mod_b share libexports.so, which needs libstd: the whole graph loads in dependency order', () => {
    const a = open(SET.modA, modDecls('a'), { libraryPath: [sharedDir] });
    const graph = a.info.dependencies;
    const exportsNode = graph.find((n) => n.name === 'libexports.so')!;
    expect(exportsNode).toMatchObject({ via: 'libraryPath', path: SET.exports, rustDylib: true, alreadyLoaded: false });
    // libexports' own NEEDED libstd is the node the plugin needs too (loaded already by the first test).
    const stdId = graph.findIndex((n) => n.name.startsWith('libstd-'));
    expect(graph[stdId]).toMatchObject({ alreadyLoaded: true, via: 'loaded' });
    expect(exportsNode.needed).toContain(stdId);
    expect(graph[0]!.needed).toEqual(expect.arrayContaining([graph.indexOf(exportsNode), stdId]));

    expect(a.symbols.mod_a_bump(5)).toBe(5);
    const b = open(SET.modB, modDecls('b'), { libraryPath: [sharedDir] });
    expect(b.info.dependencies.find((n) => n.name === 'libexports.so')).toMatchObject({ via: 'loaded', alreadyLoaded: true });
    // One copy of the shared state: mod_b continues mod_a's count.
    expect(b.symbols.mod_b_bump(2)).toBe(7);
    expect(a.symbols.mod_a_bump(1)).toBe(8);
    expect(b.symbols.mod_b_counter_address()).toBe(a.symbols.mod_a_counter_address());
    const exportsLib = open(SET.exports, { exports_counter: { parameters: [], result: 'u64' } });
    expect(exportsLib.symbols.exports_counter()).toBe(8);
  });
});
