import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { hostRustTarget, hostTarget, machineName, pluginKind, readElf, readElfHeader } from '../src/elf.js';
import { PluginArchError, PluginError, PluginFormatError, PluginNotFoundError } from '../src/errors.js';
import { buildCFixtures, makeTempDir, prng, type CFixtures } from './helpers/elf-fixtures.js';
import { PLUGINS, thrown } from './helpers/plugins.js';

const LIBZ = '/lib/x86_64-linux-gnu/libz.so.1';
const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';


/** Exported functions/objects according to binutils' readelf, our oracle. */
function readelfExports(path: string): { functions: string[]; objects: string[] } {
  const out = execFileSync('readelf', ['--dyn-syms', '-W', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const fns = new Set<string>();
  const objs = new Set<string>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^\d+:$/.test(f[0]!)) continue;
    const [, , size, type, bind, vis, ndx, rawName] = f;
    if (ndx === 'UND' || !['GLOBAL', 'WEAK', 'UNIQUE'].includes(bind!) || !['DEFAULT', 'PROTECTED'].includes(vis!)) continue;
    const name = rawName!.replace(/@.*$/, '');
    if (type === 'FUNC' || type === 'IFUNC') fns.add(name);
    else if (type === 'OBJECT' && !(ndx === 'ABS' && size === '0')) objs.add(name);
  }
  return { functions: [...fns].sort(), objects: [...objs].sort() };
}

function readelfDynamic(path: string): { needed: string[]; soname: string | null } {
  const out = execFileSync('readelf', ['-d', '-W', path], { encoding: 'utf8' });
  const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1]!);
  const soname = /\(SONAME\)\s+Library soname: \[(.*)\]/.exec(out)?.[1] ?? null;
  return { needed, soname };
}

let fx: CFixtures;
beforeAll(() => {
  fx = buildCFixtures();
});

describe('host target', () => {
  it('describes this process', () => {
    expect(process.arch).toBe('x64');
    expect(hostTarget()).toEqual({ class: 64, endian: 'little', machineCode: 62, machine: 'x86_64' });
    expect(hostRustTarget()).toBe('x86_64-unknown-linux-gnu');
    expect(machineName(183)).toBe('aarch64');
    expect(machineName(62, 32)).toBe('x32');
    expect(machineName(9999)).toBe('EM_9999');
  });
});

describe('readElf on real files', () => {
  it('reads libplain.so as the C compiler built it', () => {
    const info = readElf(fx.plain);
    expect(info).toMatchObject({
      class: 64,
      endian: 'little',
      machine: 'x86_64',
      machineCode: 62,
      type: 3,
      soname: 'libplain.so.1',
      needed: ['libc.so.6'],
      rpath: null,
      runpath: null,
      pie: false,
      hasSectionHeaders: true,
      hasRustcSection: false,
      rustc: null,
      rustSymbols: false,
    });
    expect(info.exports).toEqual(['plain_add', 'plain_calls_puts', 'plain_protected', 'plain_weak']);
    expect(info.exportedObjects).toEqual(['plain_counter', 'plain_table']);
    expect(info.sections).toContain('.dynsym');
    expect(info.sections).toContain('.comment');
    expect(info.comments.some((c) => c.startsWith('GCC: '))).toBe(true);
    expect(pluginKind(info)).toBe('c');
    expect(info.fileSize).toBe(readFileSync(fx.plain).length);
  });

  it.each([LIBZ, LIBC])('matches readelf for %s', (lib) => {
    const info = readElf(lib);
    const oracle = readelfExports(lib);
    const dyn = readelfDynamic(lib);
    expect(info.needed).toEqual(dyn.needed);
    expect(info.soname).toBe(dyn.soname);
    expect(info.exports).toEqual(oracle.functions);
    expect(info.exportedObjects).toEqual(oracle.objects);
    expect(info.exports.length).toBeGreaterThan(50);
    expect(pluginKind(info)).toBe('c');
  });

  it('reads DT_RPATH and DT_RUNPATH unexpanded', () => {
    expect(readElf(fx.withRpath)).toMatchObject({ rpath: '$ORIGIN/sub', runpath: null, needed: ['libsubdep.so', 'libc.so.6'] });
    expect(readElf(fx.withRunpath)).toMatchObject({ rpath: null, runpath: '${ORIGIN}/sub', needed: ['libsubdep.so', 'libc.so.6'] });
    expect(readElf(fx.needsMissing).needed).toEqual(['libmissingdep.so', 'libc.so.6']);
  });

  it('accepts a PIE executable (ET_DYN) and flags it', () => {
    const info = readElf(fx.pie);
    expect(info.type).toBe(3);
    expect(info.pie).toBe(true);
  });

  it('falls back to PT_DYNAMIC and the hash table without section headers', () => {
    const full = readElf(fx.plain);
    const bare = readElf(fx.noSections);
    expect(bare.hasSectionHeaders).toBe(false);
    expect(bare.sections).toEqual([]);
    expect(bare.comments).toEqual([]);
    expect(bare.needed).toEqual(full.needed);
    expect(bare.soname).toBe(full.soname);
    expect(bare.exports).toEqual(full.exports);
    expect(bare.exportedObjects).toEqual(full.exportedObjects);
  });

  it('falls back to PT_DYNAMIC for libc too (GNU hash with many symbols)', () => {
    const dir = makeTempDir();
    const bare = join(dir, 'libc-bare.so');
    const buf = readFileSync(LIBC);
    buf.fill(0, 40, 48);
    buf.fill(0, 60, 64);
    writeFileSync(bare, buf);
    const info = readElf(bare);
    expect(info.hasSectionHeaders).toBe(false);
    expect(info.exports).toEqual(readElf(LIBC).exports);
  });

  it('readElfHeader reads only the header', () => {
    expect(readElfHeader(fx.plain)).toMatchObject({ class: 64, endian: 'little', machine: 'x86_64', type: 3 });
    expect(readElfHeader(fx.aarch64, { anyArch: true })).toMatchObject({ machine: 'aarch64', machineCode: 183 });
  });
});

describe('readElf errors', () => {
  it('missing file: ERR_PLUGIN_NOT_FOUND', () => {
    const e = thrown(() => readElf(join(fx.dir, 'nope.so')));
    expect(e).toBeInstanceOf(PluginNotFoundError);
    expect(e).toMatchObject({ code: 'ERR_PLUGIN_NOT_FOUND', path: join(fx.dir, 'nope.so') });
  });

  it('directory: ERR_PLUGIN_NOT_A_FILE', () => {
    const e = thrown(() => readElf(fx.directory));
    expect(e).toBeInstanceOf(PluginNotFoundError);
    expect(e).toMatchObject({ code: 'ERR_PLUGIN_NOT_A_FILE' });
    expect((e as Error).message).toContain('is a directory');
  });

  it('text file: ERR_PLUGIN_NOT_ELF, saying it is text', () => {
    const e = thrown(() => readElf(fx.text)) as PluginFormatError;
    expect(e).toBeInstanceOf(PluginFormatError);
    expect(e.code).toBe('ERR_PLUGIN_NOT_ELF');
    expect(e.message).toContain('text file');
    expect(e.message).toContain('these are not the bytes');
    expect(e.message).toContain('target/release/lib<crate>.so');
  });

  it('empty file and linker script: ERR_PLUGIN_NOT_ELF', () => {
    expect(thrown(() => readElf(fx.empty))).toMatchObject({ code: 'ERR_PLUGIN_NOT_ELF', message: expect.stringContaining('empty') });
    const script = '/usr/lib/x86_64-linux-gnu/libc.so';
    if (existsSync(script)) {
      expect(thrown(() => readElf(script))).toMatchObject({ code: 'ERR_PLUGIN_NOT_ELF', message: expect.stringContaining('linker script') });
    }
  });

  it('truncated copies: ERR_PLUGIN_MALFORMED', () => {
    const e = thrown(() => readElf(fx.truncated)) as PluginFormatError;
    expect(e).toBeInstanceOf(PluginFormatError);
    expect(e.code).toBe('ERR_PLUGIN_MALFORMED');
    expect(e.message).toMatch(/past the end of the 1000-byte file/);
    expect(e.message).toContain('rebuild');
    expect(thrown(() => readElf(fx.truncatedHeader))).toMatchObject({ code: 'ERR_PLUGIN_MALFORMED' });
  });

  it('aarch64 build: PluginArchError with expected/actual', () => {
    const e = thrown(() => readElf(fx.aarch64)) as PluginArchError;
    expect(e).toBeInstanceOf(PluginArchError);
    expect(e.code).toBe('ERR_PLUGIN_WRONG_ARCH');
    expect(e.expected).toBe('x86_64');
    expect(e.actual).toBe('aarch64');
    expect(e.message).toContain('rebuild the plugin for x86_64 (cargo build --target x86_64-unknown-linux-gnu)');
    // With anyArch the file parses (it is a valid x86_64 file apart from e_machine).
    expect(readElf(fx.aarch64, { anyArch: true }).machine).toBe('aarch64');
  });

  it('ELFCLASS32 and big-endian: PluginArchError', () => {
    const c = thrown(() => readElf(fx.class32)) as PluginArchError;
    expect(c).toBeInstanceOf(PluginArchError);
    expect(c.expected).toBe('x86_64 64-bit');
    expect(c.actual).toBe('x32 32-bit');
    expect(c.message).toContain('ELFCLASS32');
    const b = thrown(() => readElf(fx.bigEndian)) as PluginArchError;
    expect(b).toBeInstanceOf(PluginArchError);
    expect(b.expected).toBe('x86_64 little-endian');
    // Read big-endian, e_machine 62 (0x3e00 LE) becomes 0x3e00 = 15872.
    expect(b.actual).toBe('EM_15872 big-endian');
  });

  it('executable and object file: ERR_PLUGIN_NOT_SHARED_OBJECT', () => {
    const e = thrown(() => readElf(fx.exe)) as PluginFormatError;
    expect(e).toBeInstanceOf(PluginFormatError);
    expect(e.code).toBe('ERR_PLUGIN_NOT_SHARED_OBJECT');
    expect(e.message).toContain('executable (ET_EXEC)');
    expect(e.message).toContain('crate-type = ["cdylib"]');
    const o = thrown(() => readElf(fx.object)) as PluginFormatError;
    expect(o.code).toBe('ERR_PLUGIN_NOT_SHARED_OBJECT');
    expect(o.message).toContain('ET_REL');
  });

  it('invalid EI_CLASS / EI_DATA / EI_VERSION: ERR_PLUGIN_MALFORMED', () => {
    const dir = makeTempDir();
    const src = readFileSync(fx.plain);
    for (const [off, val] of [
      [4, 3],
      [5, 0],
      [6, 2],
    ] as const) {
      const f = join(dir, `ident-${off}.so`);
      const b = Buffer.from(src);
      b[off] = val;
      writeFileSync(f, b);
      expect(thrown(() => readElf(f))).toMatchObject({ code: 'ERR_PLUGIN_MALFORMED' });
    }
  });

  it('section header offset past EOF and a bad string offset: ERR_PLUGIN_MALFORMED', () => {
    const dir = makeTempDir();
    const b = Buffer.from(readFileSync(fx.plain));
    b.writeBigUInt64LE(BigInt(b.length + 10), 40);
    writeFileSync(join(dir, 'shoff.so'), b);
    expect(thrown(() => readElf(join(dir, 'shoff.so')))).toMatchObject({ code: 'ERR_PLUGIN_MALFORMED' });
    const h = Buffer.from(readFileSync(fx.plain));
    h.writeBigUInt64LE(0xffffffffffffffffn, 40);
    writeFileSync(join(dir, 'shoff-huge.so'), h);
    expect(thrown(() => readElf(join(dir, 'shoff-huge.so')))).toMatchObject({ code: 'ERR_PLUGIN_MALFORMED' });
  });
});

describe('ELFCLASS32 files', () => {
  // -nostdlib: no 32-bit C runtime needs to be installed, the compiler and linker suffice.
  let dir: string | null = null;
  beforeAll(() => {
    const d = makeTempDir();
    writeFileSync(join(d, 'd32.c'), 'int dep32(void) { return 2; }\n');
    writeFileSync(join(d, 'm32.c'), 'int dep32(void);\nint f32(void) { return dep32(); }\nint data32 = 1;\n');
    try {
      const cc32 = (args: string[]) => execFileSync('cc', ['-shared', '-fPIC', '-nostdlib', ...args], { cwd: d, stdio: 'ignore' });
      cc32(['-m32', '-o', 'libdep32.so', 'd32.c']);
      cc32(['-m32', '-o', 'libm32.so', 'm32.c', '-L.', '-Wl,--no-as-needed', '-ldep32', '-Wl,-soname,libm32.so.0,-rpath,$ORIGIN/x']);
      cc32(['-mx32', '-o', 'libx32.so', 'd32.c']);
      dir = d;
    } catch {
      dir = null;
    }
  });

  it('are rejected for this process, and parsed with anyArch', (ctx) => {
    if (dir === null) return ctx.skip(); // no 32-bit code generation in this cc
    const d = dir;
    const f = join(d, 'libm32.so');
    const e = thrown(() => readElf(f)) as PluginArchError;
    expect(e).toBeInstanceOf(PluginArchError);
    expect([e.expected, e.actual]).toEqual(['x86_64 64-bit', 'i386 32-bit']);
    const info = readElf(f, { anyArch: true });
    expect(info).toMatchObject({
      class: 32,
      endian: 'little',
      machine: 'i386',
      machineCode: 3,
      soname: 'libm32.so.0',
      needed: ['libdep32.so'],
      runpath: '$ORIGIN/x',
      rpath: null,
      exports: ['f32'],
      exportedObjects: ['data32'],
    });
    const x32 = thrown(() => readElf(join(d, 'libx32.so'))) as PluginArchError;
    expect([x32.expected, x32.actual]).toEqual(['x86_64 64-bit', 'x32 32-bit']);
    // Without section headers: PT_DYNAMIC and the hash table, 32-bit layout.
    const b = readFileSync(f);
    b.fill(0, 32, 36); // e_shoff
    b.fill(0, 48, 52); // e_shnum, e_shstrndx
    writeFileSync(join(d, 'bare32.so'), b);
    const bare = readElf(join(d, 'bare32.so'), { anyArch: true });
    expect(bare).toMatchObject({ hasSectionHeaders: false, soname: 'libm32.so.0', needed: ['libdep32.so'], exports: ['f32'], exportedObjects: ['data32'] });
  });
});

describe('fuzzing', () => {
  // Structural ranges of libplain.so, where a flipped byte changes how the file is parsed.
  function structuralRanges(buf: Buffer): [number, number][] {
    const shoff = Number(buf.readBigUInt64LE(40));
    const shnum = buf.readUInt16LE(60);
    const ranges: [number, number][] = [
      [0, 64],
      [64, 64 + 56 * buf.readUInt16LE(56)],
      [shoff, shoff + 64 * shnum],
    ];
    for (let i = 0; i < shnum; i++) {
      const s = shoff + i * 64;
      const type = buf.readUInt32LE(s + 4);
      if ([2, 3, 6, 11].includes(type)) {
        const off = Number(buf.readBigUInt64LE(s + 24));
        const size = Number(buf.readBigUInt64LE(s + 32));
        ranges.push([off, off + size]);
      }
    }
    return ranges;
  }

  it.each([
    ['libplain.so (C)', () => fx.plain, 1500],
    ['libbasic_dylib.so (Rust dylib)', () => PLUGINS.basicDylib, 500],
  ] as const)('random byte flips and truncations of %s only ever produce PluginErrors', (_name, which, iterations) => {
    const dir = makeTempDir();
    const src = readFileSync(which());
    const ranges = structuralRanges(src);
    const rand = prng(0x5eed);
    const file = join(dir, 'fuzz.so');
    const outcomes = { ok: 0, errors: new Map<string, number>() };
    for (let iter = 0; iter < iterations; iter++) {
      let buf = Buffer.from(src);
      const mode = iter % 5;
      if (mode === 4) {
        buf = buf.subarray(0, Math.floor(rand() * src.length));
      } else {
        const flips = 1 + Math.floor(rand() * 8);
        for (let k = 0; k < flips; k++) {
          const [a, b] = mode === 3 ? [0, src.length] : ranges[Math.floor(rand() * ranges.length)]!;
          const at = a + Math.floor(rand() * Math.max(1, b - a));
          if (at >= buf.length) continue;
          const r = rand();
          buf[at] = r < 0.3 ? 0xff : r < 0.5 ? 0 : Math.floor(rand() * 256);
        }
      }
      writeFileSync(file, buf);
      try {
        readElf(file);
        readElf(file, { anyArch: true });
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof PluginError)) {
          throw new Error(`iteration ${iter}: ${String(e)} is not a PluginError`, { cause: e });
        }
        // Every problem is caught by an explicit check, not by the catch-all around the parser.
        expect(e.message, `iteration ${iter}`).not.toContain('could not be parsed');
        outcomes.errors.set(e.code, (outcomes.errors.get(e.code) ?? 0) + 1);
      }
    }
    // The fuzzer must actually reach the interesting outcomes.
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.errors.get('ERR_PLUGIN_MALFORMED')).toBeGreaterThan(iterations / 30);
    expect(outcomes.errors.get('ERR_PLUGIN_NOT_ELF')).toBeGreaterThan(0);
    expect(outcomes.errors.get('ERR_PLUGIN_WRONG_ARCH')).toBeGreaterThan(0);
  });
});

describe('Rust fixtures', () => {
  const rustcV = (() => {
    try {
      return execFileSync('rustc', ['-V'], { encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  })();

  it('libbasic.so is a cdylib built by the rustc on PATH', () => {
    const info = readElf(PLUGINS.basic);
    expect(info.hasRustcSection).toBe(false);
    expect(pluginKind(info)).toBe('cdylib');
    expect(info.rustc).toBe(rustcV);
    expect(info.needed.some((n) => n.startsWith('libstd-'))).toBe(false);
    expect(info.exports.length).toBeGreaterThan(0);
  });

  it('libbasic_dylib.so is a Rust dylib that needs libstd-<hash>.so', () => {
    const info = readElf(PLUGINS.basicDylib);
    expect(info.hasRustcSection).toBe(true);
    expect(info.sections).toContain('.rustc');
    expect(pluginKind(info)).toBe('rust-dylib');
    expect(info.rustc).toBe(rustcV);
    expect(info.needed.filter((n) => /^libstd-[0-9a-f]+\.so$/.test(n))).toHaveLength(1);
    // Same source, same extern "C" exports as the cdylib.
    expect(info.exports).toEqual(expect.arrayContaining(readElf(PLUGINS.basic).exports));
  });
});
