// open(): every error code from a real bad input, declarations, integrity and permission checks,
// lib.info, close() and Symbol.dispose, the Rust dylib and the C plugin.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  DeclarationError,
  DlopenError,
  InsecurePluginError,
  IntegrityError,
  IntegrityOptionError,
  MissingDependencyError,
  MissingSymbolError,
  open,
  PluginArchError,
  PluginClosedError,
  PluginError,
  PluginFormatError,
  PluginNotFoundError,
} from '../src/index.js';
import type { Declarations, Library, SymbolDeclaration } from '../src/index.js';
import { addon } from '../src/native.js';
import { cc, copyTo, patchedU16Copy, PLUGINS, tempDir, thrown, truncatedCopy } from './helpers/plugins.js';

const ADD = { add: { parameters: ['i32', 'i32'], result: 'i32' } } as const;

/** Asserts `fn` throws a PluginError of class `cls` with `code` and returns it. */
function pluginError<T extends PluginError>(fn: () => unknown, cls: new (...a: never[]) => T, code: string): T {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(cls);
  expect(e).toBeInstanceOf(PluginError);
  expect((e as T).code).toBe(code);
  expect((e as T).name).toBe(cls.name);
  return e as T;
}

let dir: string;
const f: Record<string, string> = {};
let sysrootLib: string;
let rustcVersion: string;

beforeAll(() => {
  dir = tempDir();
  const w = (name: string, text: string) => writeFileSync(join(dir, name), text);
  w('main.c', 'int main(void) { return 0; }\n');
  w('gone.c', 'int gone_value(void) { return 42; }\n');
  w('uses_gone.c', 'int gone_value(void);\nint uses_gone(void) { return gone_value() + 1; }\n');
  w('undef.c', 'int nowhere_fn(void);\nint calls_nowhere(void) { return nowhere_fn(); }\nint undef_ok(void) { return 7; }\n');

  f.text = join(dir, 'notes.so');
  w('notes.so', 'this is a text file, not an ELF shared object\n');
  f.trunc100 = truncatedCopy(PLUGINS.basic, join(dir, 'trunc100.so'), 100);
  f.truncHalf = truncatedCopy(PLUGINS.basic, join(dir, 'trunchalf.so'), Math.floor(statSync(PLUGINS.basic).size / 2));
  f.aarch64 = patchedU16Copy(PLUGINS.basic, join(dir, 'aarch64.so'), 18, 183);
  f.exe = join(dir, 'exe');
  cc(['-no-pie', '-fno-pie', '-o', f.exe, 'main.c'], dir);
  mkdirSync(join(dir, 'stub'));
  cc(['-shared', '-fPIC', '-o', 'stub/libgone.so', 'gone.c'], dir);
  f.needsGone = join(dir, 'libneedsgone.so');
  cc(['-shared', '-fPIC', '-o', f.needsGone, 'uses_gone.c', '-Wl,--no-as-needed', '-Lstub', '-lgone'], dir);
  rmSync(join(dir, 'stub'), { recursive: true });
  f.undef = join(dir, 'libundef.so');
  cc(['-shared', '-fPIC', '-Wl,-z,lazy', '-o', f.undef, 'undef.c'], dir);

  const sysroot = execFileSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).trim();
  sysrootLib = join(sysroot, 'lib', 'rustlib', 'x86_64-unknown-linux-gnu', 'lib');
  rustcVersion = execFileSync('rustc', ['-V'], { encoding: 'utf8' }).trim();
});
afterAll(() => {
  if (dir) {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('files that are not plugins', () => {
  it('missing file: ERR_PLUGIN_NOT_FOUND', () => {
    const missing = join(dir, 'nope.so');
    const e = pluginError(() => open(missing, ADD), PluginNotFoundError, 'ERR_PLUGIN_NOT_FOUND');
    expect(e.message).toContain(missing);
    expect(e.path).toBe(missing);
    const e2 = pluginError(() => open(join(dir, 'no-such-dir', 'x.so'), ADD), PluginNotFoundError, 'ERR_PLUGIN_NOT_FOUND');
    expect(e2.message).toMatch(/does not exist/);
  });

  it('a typo next to an existing plugin suggests it, for a relative path too', () => {
    const typo = relative(process.cwd(), PLUGINS.basic).replace('libbasic.so', 'libbasik.so');
    const e = pluginError(() => open(typo, ADD), PluginNotFoundError, 'ERR_PLUGIN_NOT_FOUND');
    expect(e.message).toContain(`Did you mean ${PLUGINS.basic}`);
  });

  it('a directory: ERR_PLUGIN_NOT_A_FILE', () => {
    const e = pluginError(() => open(dirname(PLUGINS.basic), ADD), PluginNotFoundError, 'ERR_PLUGIN_NOT_A_FILE');
    expect(e.message).toMatch(/is a directory/);
    expect(e.message).toContain('libbasic.so'); // lists the .so files in it
  });

  it('a text file: ERR_PLUGIN_NOT_ELF', () => {
    pluginError(() => open(f.text!, ADD), PluginFormatError, 'ERR_PLUGIN_NOT_ELF');
  });

  it('a truncated ELF: ERR_PLUGIN_MALFORMED', () => {
    pluginError(() => open(f.trunc100!, ADD), PluginFormatError, 'ERR_PLUGIN_MALFORMED');
    pluginError(() => open(f.truncHalf!, ADD), PluginFormatError, 'ERR_PLUGIN_MALFORMED');
  });

  it('another machine: ERR_PLUGIN_WRONG_ARCH', () => {
    const e = pluginError(() => open(f.aarch64!, ADD), PluginArchError, 'ERR_PLUGIN_WRONG_ARCH');
    expect(e.expected).toMatch(/x86[-_]64/i);
    expect(e.actual).toMatch(/aarch64|arm64/i);
  });

  it('an executable: ERR_PLUGIN_NOT_SHARED_OBJECT', () => {
    pluginError(() => open(f.exe!, ADD), PluginFormatError, 'ERR_PLUGIN_NOT_SHARED_OBJECT');
  });
});

describe('dependencies and the loader', () => {
  it('a missing NEEDED library: ERR_PLUGIN_MISSING_DEPENDENCY naming it', () => {
    const e = pluginError(() => open(f.needsGone!, {}), MissingDependencyError, 'ERR_PLUGIN_MISSING_DEPENDENCY');
    expect(e.missing).toEqual(['libgone.so']);
    expect(e.message).toContain('libgone.so');
    expect(e.message).toMatch(/libraryPath|LD_LIBRARY_PATH/);
  });

  it('the Rust dylib with sysroot: false names libstd and the toolchain dir that has it', () => {
    // Precondition: nothing in this process loaded a libstd-*.so yet (the loader would reuse it).
    expect(addon.loadedObjects().some((p) => /\/libstd-[0-9a-f]+\.so$/.test(p))).toBe(false);
    const e = pluginError(() => open(PLUGINS.basicDylib, ADD, { sysroot: false }), MissingDependencyError, 'ERR_PLUGIN_MISSING_DEPENDENCY');
    expect(e.missing).toHaveLength(1);
    expect(e.missing[0]).toMatch(/^libstd-[0-9a-f]+\.so$/);
    expect(e.message).toContain(`${e.missing[0]}: Rust's standard library as a shared library`);
    expect(e.message).toContain(`the Rust toolchain ${rustcVersion} has it, but the sysroot option is false`);
    expect(e.message).toContain(`libraryPath: ['${sysrootLib}']`);
  });

  it('the Rust dylib opens with libraryPath: [sysroot lib dir]', () => {
    const lib = open(PLUGINS.basicDylib, { ...ADD, version: { parameters: [], result: 'string' } }, { libraryPath: [sysrootLib] });
    expect(lib.symbols.add(40, 2)).toBe(42);
    expect(lib.symbols.version()).toBe('basic 1.0.0');
    expect(lib.info.kind).toBe('rust-dylib');
    const std = lib.info.needed.find((n) => n.name.startsWith('libstd-'));
    expect(std?.via).toBe('libraryPath');
    expect(std?.path).toBe(join(sysrootLib, std!.name));
    expect(lib.info.rustc).toContain(rustcVersion.split(' ')[1]);
    lib.close();
  });

  it('an undefined symbol: ERR_PLUGIN_DLOPEN with the loader message; lazy defers it', () => {
    const e = pluginError(() => open(f.undef!, {}), DlopenError, 'ERR_PLUGIN_DLOPEN');
    expect(e.dlerror).toContain('undefined symbol: nowhere_fn');
    expect(e.message).toMatch(/nowhere_fn, which neither it nor its NEEDED libraries define: relink/);
    const lib = open(f.undef!, { undef_ok: { parameters: [], result: 'i32' } }, { lazy: true });
    expect(lib.info.flags).toContain('RTLD_LAZY');
    expect(lib.symbols.undef_ok()).toBe(7);
    lib.close();
  });
});

describe('symbols and declarations', () => {
  it("a missing symbol: ERR_PLUGIN_MISSING_SYMBOL with suggestions ('ad' → 'add')", () => {
    const e = pluginError(() => open(PLUGINS.basic, { ad: { parameters: ['i32', 'i32'], result: 'i32' } }), MissingSymbolError, 'ERR_PLUGIN_MISSING_SYMBOL');
    expect(e.symbol).toBe('ad');
    expect(e.suggestions[0]).toBe('add');
    expect(e.message).toContain("did you mean 'add'");
    const e2 = pluginError(() => open(PLUGINS.basic, { greet: { parameters: ['string'], result: 'string', free: 'basic_free_strng' } }), MissingSymbolError, 'ERR_PLUGIN_MISSING_SYMBOL');
    expect(e2.symbol).toBe('basic_free_strng');
    expect(e2.suggestions).toContain('basic_free_string');
    const e3 = pluginError(() => open(PLUGINS.basic, { plus: { name: 'echo_i33', parameters: ['i32'], result: 'i32' } }), MissingSymbolError, 'ERR_PLUGIN_MISSING_SYMBOL');
    expect(e3.symbol).toBe('echo_i33');
    expect(e3.suggestions).toContain('echo_i32');
  });

  it('an optional missing symbol is null; a present one is a function', () => {
    const lib = open(PLUGINS.basic, {
      ...ADD,
      maybe: { parameters: [], result: 'void', optional: true },
      scale: { parameters: ['f64', 'f64'], result: 'f64', optional: true },
    });
    expect(lib.symbols.maybe).toBe(null);
    expect(lib.symbols.scale?.(2, 3)).toBe(6);
    expect(lib.symbols.add(1, 1)).toBe(2);
    expect(Object.isFrozen(lib.symbols)).toBe(true);
    lib.close();
  });

  it('a declaration key can differ from the exported name', () => {
    const lib = open(PLUGINS.basic, { plus: { name: 'add', parameters: ['i32', 'i32'], result: 'i32' } });
    expect(lib.symbols.plus(2, 2)).toBe(4);
    lib.close();
  });

  it('bad declarations: ERR_PLUGIN_BAD_DECLARATION naming the symbol', () => {
    const bad: [string, SymbolDeclaration | unknown][] = [
      ['unknown parameter type', { parameters: ['i33', 'i32'], result: 'i32' }],
      ['unknown result type', { parameters: ['i32', 'i32'], result: 'i33' }],
      ['Object.prototype name as a type', { parameters: ['constructor', 'i32'], result: 'i32' }],
      ['Object.prototype name as a result', { parameters: ['i32', 'i32'], result: 'toString' }],
      ['Object.prototype name in a struct', { parameters: [{ struct: { x: 'hasOwnProperty' } }, 'i32'], result: 'i32' }],
      ['void parameter', { parameters: ['void', 'i32'], result: 'i32' }],
      ['buffer result', { parameters: ['i32', 'i32'], result: 'buffer' }],
      ['out param on a future', { parameters: [{ out: 'i32' }, 'i32'], result: { future: 'i32' } }],
      ['inout param on a future', { parameters: [{ inout: 'i32' }, 'i32'], result: { future: 'i32' } }],
      ['callback on a future', { parameters: [{ function: { parameters: [], result: 'void' } }, 'i32'], result: { future: 'i32' } }],
      ['free on a non-string result', { parameters: ['i32', 'i32'], result: 'i32', free: 'basic_free_string' }],
      ['missing result', { parameters: ['i32', 'i32'] }],
      ['parameters not an array', { parameters: 'i32, i32', result: 'i32' }],
      ['empty struct', { parameters: [{ struct: {} }, 'i32'], result: 'i32' }],
      ['unknown type in a callback', { parameters: [{ function: { parameters: ['i33'], result: 'void' } }, 'i32'], result: 'i32' }],
      ['null declaration', null],
    ];
    for (const [what, decl] of bad) {
      const e = thrown(() => open(PLUGINS.basic, { add: decl } as unknown as Declarations));
      expect(e, what).toBeInstanceOf(DeclarationError);
      expect((e as DeclarationError).code, what).toBe('ERR_PLUGIN_BAD_DECLARATION');
      expect((e as DeclarationError).message, what).toContain("'add'");
    }
    // an unknown name lists the known ones
    const e = pluginError(() => open(PLUGINS.basic, { add: { parameters: ['i33', 'i32'], result: 'i32' } } as unknown as Declarations), DeclarationError, 'ERR_PLUGIN_BAD_DECLARATION');
    expect(e.message).toMatch(/parameter 0: unknown parameter type 'i33' \(expected one of i8, u8, .*i32.*, buffer, string/);
    pluginError(() => open(PLUGINS.basic, null as unknown as Declarations), DeclarationError, 'ERR_PLUGIN_BAD_DECLARATION');
    pluginError(() => open(PLUGINS.basic, ADD, { libraryPath: 'dir' as unknown as string[] }), DeclarationError, 'ERR_PLUGIN_BAD_DECLARATION');
    expect(() => open('', ADD)).toThrow(TypeError);
  });
});

describe('integrity and permissions', () => {
  it('a matching sha256 SRI (or hex) opens; info.sha256 is the hex digest', () => {
    const digest = createHash('sha256').update(readFileSync(PLUGINS.basic)).digest();
    const lib = open(PLUGINS.basic, ADD, { integrity: `sha256-${digest.toString('base64')}` });
    expect(lib.symbols.add(1, 2)).toBe(3);
    expect(lib.info.sha256).toBe(digest.toString('hex'));
    lib.close();
    open(PLUGINS.basic, ADD, { integrity: `sha256:${digest.toString('hex')}` }).close();
  });

  it('a different hash: ERR_PLUGIN_INTEGRITY with both values', () => {
    const wrong = `sha256-${createHash('sha256').update('something else').digest('base64')}`;
    const e = pluginError(() => open(PLUGINS.basic, ADD, { integrity: wrong }), IntegrityError, 'ERR_PLUGIN_INTEGRITY');
    expect(e.expected).toBe(wrong);
    expect(e.actual).toBe(`sha256-${createHash('sha256').update(readFileSync(PLUGINS.basic)).digest('base64')}`);
    expect(e.message).toContain('rustplug sri');
    // A malformed value is an option error of its own, not a declaration error.
    const bad = pluginError(() => open(PLUGINS.basic, ADD, { integrity: 'sha256-abc' }), IntegrityOptionError, 'ERR_PLUGIN_BAD_INTEGRITY');
    expect(bad).not.toBeInstanceOf(DeclarationError);
    expect(bad.message).toContain('npx rustplug sri');
  });

  it('a world-writable plugin: ERR_PLUGIN_INSECURE; allowInsecure opens it', () => {
    const d = tempDir();
    try {
      expect(statSync(d).mode & 0o777).toBe(0o700);
      const copy = copyTo(PLUGINS.cplugin, join(d, 'libinsecure.so'), 0o666);
      const decl = { c_add: { parameters: ['i32', 'i32'], result: 'i32' } } as const;
      const e = pluginError(() => open(copy, decl), InsecurePluginError, 'ERR_PLUGIN_INSECURE');
      expect(e.message).toContain(`chmod go-w ${copy}`);
      expect(e.message).toContain('allowInsecure');
      const lib = open(copy, decl, { allowInsecure: true });
      expect(lib.symbols.c_add(2, 3)).toBe(5);
      lib.close();
      // a directory others can write to (no sticky bit) is refused too
      chmodSync(copy, 0o755);
      chmodSync(d, 0o777);
      const e2 = pluginError(() => open(copy, decl), InsecurePluginError, 'ERR_PLUGIN_INSECURE');
      expect(e2.message).toContain(`the directory ${d}`);
    } finally {
      chmodSync(d, 0o700);
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('lib.info', () => {
  it('cdylib', () => {
    const lib = open(PLUGINS.basic, ADD);
    const { info } = lib;
    expect(info.path).toBe(PLUGINS.basic);
    expect(info.realPath).toBe(PLUGINS.basic);
    expect(info.kind).toBe('cdylib');
    expect(info.rustc).toMatch(/^rustc \d+\.\d+\.\d+/);
    expect(info.rustc).toContain(rustcVersion.split(' ')[1]); // "rustc 1.x.y (hash date)"
    expect(info.exports).toContain('add');
    expect(info.exports).toContain('greet');
    expect(info.exports).toEqual([...info.exports].sort());
    expect(info.needed.map((n) => n.name)).toContain('libc.so.6');
    expect(info.needed.every((n) => n.path !== null)).toBe(true);
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(info.flags).toEqual(['RTLD_NOW', 'RTLD_LOCAL', 'RTLD_NODELETE']);
    expect(lib.path).toBe(PLUGINS.basic);
    lib.close();
  });

  it('the C plugin: kind c, no rustc, and its functions work', () => {
    const lib = open(PLUGINS.cplugin, {
      c_add: { parameters: ['i32', 'i32'], result: 'i32' },
      c_mul: { parameters: ['f64', 'f64'], result: 'f64' },
      c_name: { parameters: [], result: 'string' },
    });
    expect(lib.info.kind).toBe('c');
    expect(lib.info.rustc).toBe(null);
    expect(lib.info.exports).toEqual(expect.arrayContaining(['c_add', 'c_mul', 'c_name']));
    expect(lib.symbols.c_add(-2, 5)).toBe(3);
    expect(lib.symbols.c_mul(1.5, 4)).toBe(6);
    expect(lib.symbols.c_name()).toBe('cplugin');
    lib.close();
  });

  it('flags follow the options', () => {
    const d = tempDir();
    try {
      const copy = copyTo(PLUGINS.cplugin, join(d, 'libflags.so'));
      const lib = open(copy, { c_add: { parameters: ['i32', 'i32'], result: 'i32' } }, { lazy: true, global: true, nodelete: false, deepbind: true });
      expect(lib.info.flags).toEqual(['RTLD_LAZY', 'RTLD_GLOBAL', 'RTLD_DEEPBIND']);
      expect(lib.symbols.c_add(1, 2)).toBe(3);
      lib.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('close()', () => {
  it('afterwards every symbol throws ERR_PLUGIN_CLOSED; twice is fine; reopening works', () => {
    const decls = {
      ...ADD,
      greet: { parameters: ['string'], result: 'string', free: 'basic_free_string' },
      point_len: { parameters: [{ struct: { x: 'f64', y: 'f64' } }], result: 'f64' },
    } as const;
    const lib = open(PLUGINS.basic, decls);
    const { add, greet, point_len } = lib.symbols;
    expect(add(1, 2)).toBe(3);
    expect(lib.closed).toBe(false);
    lib.close();
    expect(lib.closed).toBe(true);
    for (const call of [() => add(1, 2), () => greet('x'), () => point_len({ x: 1, y: 1 }), () => lib.address('add')]) {
      const e = pluginError(call, PluginClosedError, 'ERR_PLUGIN_CLOSED');
      expect(e.path).toBe(PLUGINS.basic);
    }
    // closed wins over bad arguments
    pluginError(() => (add as Function)('x'), PluginClosedError, 'ERR_PLUGIN_CLOSED');
    expect(pluginError(() => add(1, 2), PluginClosedError, 'ERR_PLUGIN_CLOSED').message).toMatch(/open it again/);
    lib.close();
    expect(lib.closed).toBe(true);

    const again = open(PLUGINS.basic, decls);
    expect(again.symbols.add(2, 2)).toBe(4);
    expect(again.symbols.greet('again')).toBe('Hello, again!');
    pluginError(() => add(1, 2), PluginClosedError, 'ERR_PLUGIN_CLOSED'); // the old functions stay closed
    again.close();
  });

  it('without RTLD_NODELETE, the unmapped code is never called', () => {
    const d = tempDir();
    try {
      const copy = copyTo(PLUGINS.cplugin, join(d, 'libunload.so'));
      const lib = open(copy, { c_add: { parameters: ['i32', 'i32'], result: 'i32' } }, { nodelete: false });
      const { c_add } = lib.symbols;
      expect(c_add(1, 2)).toBe(3);
      lib.close();
      expect(addon.loadedObjects()).not.toContain(copy);
      pluginError(() => c_add(1, 2), PluginClosedError, 'ERR_PLUGIN_CLOSED');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('`using` closes the library at the end of the block', () => {
    let outer: Library<typeof ADD> | undefined;
    {
      using lib = open(PLUGINS.basic, ADD);
      outer = lib;
      expect(lib.symbols.add(20, 22)).toBe(42);
    }
    expect(outer.closed).toBe(true);
    pluginError(() => outer!.symbols.add(1, 1), PluginClosedError, 'ERR_PLUGIN_CLOSED');
    const lib = open(PLUGINS.basic, ADD);
    lib[Symbol.dispose]();
    expect(lib.closed).toBe(true);
  });
});

it('the process survived all of the above and still calls plugins', () => {
  const lib = open(PLUGINS.basic, ADD);
  expect(lib.symbols.add(1, 2)).toBe(3);
  lib.close();
  expect(process.exitCode ?? 0).toBe(0);
});
