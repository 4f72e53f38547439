// Everything rustplug checks about a plugin file before dlopen: that it exists and is a regular
// file, that no other user can replace it, that it matches a pinned hash, that it is a loadable
// ELF shared object for this process, and that the loader will find all its NEEDED libraries.
// Each failure is a PluginError whose message says what was found and what to do.

import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

import { hostRustTarget, pluginKind, readElf, type ElfInfo, type PluginKind } from './elf.js';
import { DeclarationError, MissingDependencyError, PluginFormatError, PluginNotFoundError } from './errors.js';
import { checkIntegrity, checkPermissions, hashFile, parseIntegrity } from './integrity.js';
import { initialLdLibraryPath, traceNeeded, type NeededEntry, type ResolveTrace } from './ldpath.js';
import { suggest } from './suggest.js';

export interface PreflightOptions {
  /** Directories searched first for the plugin's NEEDED libraries. */
  libraryPath?: string[];
  /** Pinned hash of the file: 'sha256-<base64>' (or sha384-/sha512-) or 'sha256:<hex>'. */
  integrity?: string;
  /** Skip the file/directory permission check. */
  allowInsecure?: boolean;
}

export interface PreflightResult {
  /** The path as given. */
  path: string;
  /** The resolved real path (symlinks followed). */
  realPath: string;
  elf: ElfInfo;
  kind: PluginKind;
  /** `rustc X (hash date)` of the compiler that built the plugin, from `.comment`, or null. */
  rustc: string | null;
  needed: NeededEntry[];
  /** SHA-256 of the file, lowercase hex. */
  sha256: string;
}

// ---------------------------------------------------------------------------------------------
// Locating the file

function soFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /\.so(\.|$)/.test(f));
  } catch {
    return [];
  }
}

function didYouMean(dir: string, name: string): string {
  const found = suggest(name, soFilesIn(dir), 3);
  return found.length ? ` Did you mean ${found.map((f) => join(dir, f)).join(' or ')}?` : '';
}

/**
 * Checks that `path` names an existing regular file and returns its absolute and real paths.
 * Throws PluginNotFoundError: ERR_PLUGIN_NOT_FOUND or ERR_PLUGIN_NOT_A_FILE.
 */
export function locatePlugin(path: string): { path: string; absolutePath: string; realPath: string; size: number } {
  if (typeof path !== 'string' || path === '') {
    throw new PluginNotFoundError('ERR_PLUGIN_NOT_FOUND', `the plugin path must be a non-empty string, got ${JSON.stringify(path) ?? String(path)}`);
  }
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let detail: string;
    let hint = '';
    try {
      if (lstatSync(abs).isSymbolicLink()) detail = `it is a symbolic link to ${readlinkSync(abs)}, which does not exist`;
      else detail = `it cannot be accessed (${code})`;
    } catch {
      const dir = dirname(abs);
      let dirExists = false;
      try {
        dirExists = statSync(dir).isDirectory();
      } catch {
        /* no directory */
      }
      detail = dirExists ? `there is no such file in ${dir}` : `the directory ${dir} does not exist`;
      if (dirExists) hint = didYouMean(dir, basename(abs));
    }
    throw new PluginNotFoundError(
      'ERR_PLUGIN_NOT_FOUND',
      `no plugin file at ${path}${abs !== path ? ` (${abs})` : ''}: ${detail}; check the path (relative paths are resolved from ${process.cwd()}) and that the plugin was built (cargo build --release puts it in target/release/lib<crate>.so).${hint}`,
      { path, cause: e },
    );
  }
  if (st.isDirectory()) {
    const sos = soFilesIn(abs);
    throw new PluginNotFoundError(
      'ERR_PLUGIN_NOT_A_FILE',
      `${path} is a directory, not a plugin file; pass the path of the .so file${sos.length ? ` (it contains ${sos.slice(0, 5).join(', ')}${sos.length > 5 ? ', …' : ''})` : ', e.g. target/release/lib<crate>.so'}`,
      { path },
    );
  }
  if (!st.isFile()) {
    const what = st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new PluginNotFoundError('ERR_PLUGIN_NOT_A_FILE', `${path} is ${what}; pass the path of the plugin's .so file`, { path });
  }
  return { path, absolutePath: abs, realPath: realpathSync(abs), size: st.size };
}

// ---------------------------------------------------------------------------------------------
// Rust toolchain

interface Toolchain {
  sysroot: string | null;
  version: string | null;
}
let toolchain: Toolchain | undefined;

function runRustc(args: string[]): string | null {
  try {
    const out = execFileSync(process.env.RUSTC || 'rustc', args, {
      encoding: 'utf8',
      timeout: 15_000,
      stdio: ['ignore', 'pipe', 'ignore'],
      windowsHide: true,
    });
    const s = out.trim();
    return s === '' ? null : s;
  } catch {
    return null;
  }
}

/** `rustc --print sysroot` and `rustc -V` of the rustc on PATH (or $RUSTC); cached; nulls when there is none. */
export function rustToolchain(): Toolchain {
  if (!toolchain) {
    const sysroot = runRustc(['--print', 'sysroot']);
    toolchain = { sysroot, version: sysroot === null ? null : runRustc(['-V']) };
  }
  return toolchain;
}

/** `<sysroot>/lib/rustlib/<host target>/lib`, where `libstd-<hash>.so` lives, or null (no rustc, or no such dir). */
export function rustSysrootLibDir(): string | null {
  const { sysroot } = rustToolchain();
  const target = hostRustTarget();
  if (!sysroot || !target) return null;
  const dir = join(sysroot, 'lib', 'rustlib', target, 'lib');
  try {
    return statSync(dir).isDirectory() ? dir : null;
  } catch {
    return null;
  }
}

function sysrootDirs(sysroot: string): string[] {
  const target = hostRustTarget();
  return [...(target ? [join(sysroot, 'lib', 'rustlib', target, 'lib')] : []), join(sysroot, 'lib')];
}

/** Library dirs of every rustup toolchain installed, other than the current one. */
function otherToolchainDirs(current: string | null): string[] {
  const home = process.env.RUSTUP_HOME || join(homedir(), '.rustup');
  let names: string[];
  try {
    names = readdirSync(join(home, 'toolchains'));
  } catch {
    return [];
  }
  return names
    .map((n) => join(home, 'toolchains', n))
    .filter((d) => d !== current)
    .flatMap(sysrootDirs);
}

function fileIn(dirs: string[], name: string): string | null {
  for (const d of dirs) {
    try {
      if (statSync(join(d, name)).isFile()) return d;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** The `rustup toolchain install` argument for a `rustc X (hash date)` string. */
export function rustupToolchainFor(rustc: string): string | null {
  const m = /^rustc (\d+\.\d+\.\d+)(-(beta|nightly)[.\d]*)?(?: \(\w+ (\d{4}-\d{2}-\d{2})\))?/.exec(rustc);
  if (!m) return null;
  const [, version, , channel, date] = m;
  if (!channel) return version!;
  if (!date) return channel;
  if (channel === 'beta') return `beta-${date}`;
  // A nightly is published the day after the date of its last commit, which rustc -V shows.
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return `nightly-${d.toISOString().slice(0, 10)}`;
}

// ---------------------------------------------------------------------------------------------
// Missing dependencies

const RUST_DYLIB = /^lib([A-Za-z0-9_]+)-([0-9a-f]{8,})\.so$/;
const RUST_STD_CRATES = new Set(['std', 'test', 'proc_macro', 'rustc_driver']);

function describeSearch(t: ResolveTrace): string {
  const groups = new Map<string, string[]>();
  for (const s of t.searched) {
    const key = s.via === 'rpath' ? 'RPATH' : s.via === 'runpath' ? 'RUNPATH' : s.via === 'default' ? 'default dirs' : s.via;
    if (s.via === 'loaded') continue;
    const list = groups.get(key) ?? [];
    if (!list.includes(s.where)) list.push(s.where);
    groups.set(key, list);
  }
  const parts = [...groups].map(([k, v]) => (k === 'ld.so.cache' || k === 'path' ? v.join(', ') : `${k} ${v.join(', ')}`));
  if (!t.searched.some((s) => s.via === 'LD_LIBRARY_PATH') && !t.name.includes('/')) parts.push('LD_LIBRARY_PATH (unset)');
  let text = `searched ${parts.join('; ')}`;
  if (t.skipped.length) text += `; skipped ${t.skipped.join(', ')} (built for another architecture or not ELF)`;
  return text;
}

function explainOne(t: ResolveTrace, elf: ElfInfo, pluginPath: string): string {
  const useDir = (dir: string) =>
    `pass { libraryPath: ['${dir}'] } to open() or set LD_LIBRARY_PATH=${dir} before starting node`;
  const rust = RUST_DYLIB.exec(t.name);
  if (rust && !t.name.includes('/')) {
    const crate = rust[1]!;
    const tc = rustToolchain();
    const own = tc.sysroot ? sysrootDirs(tc.sysroot) : [];
    const dir = fileIn(own, t.name) ?? fileIn(otherToolchainDirs(tc.sysroot), t.name);
    const what = RUST_STD_CRATES.has(crate)
      ? `Rust's ${crate === 'std' ? 'standard library' : crate} as a shared library, needed because the plugin is a Rust dylib or was built with -C prefer-dynamic`
      : `a Rust dylib (crate '${crate}')`;
    if (dir) return `${t.name}: ${what}; found in ${dir}: ${useDir(dir)}`;
    if (RUST_STD_CRATES.has(crate)) {
      const built = elf.rustc ?? 'an unknown rustc (the plugin has no rustc .comment)';
      const toolchainArg = elf.rustc ? rustupToolchainFor(elf.rustc) : null;
      const where = tc.version
        ? `not found in the sysroot of ${tc.version} (${own.join(', ')})`
        : 'not found: rustc is not on PATH, so no Rust sysroot could be searched';
      return `${t.name}: ${what}; ${where}; the plugin was built by ${built}: install that toolchain (rustup toolchain install ${toolchainArg ?? '<version>'}) or build the plugin as a cdylib (crate-type = ["cdylib"], which links std statically)`;
    }
    return `${t.name}: ${what}, not found (${describeSearch(t)}); cargo puts it in target/<profile>/deps of the workspace that built it: ${useDir('<that dir>')}, or build the plugin as a cdylib`;
  }
  const fix = t.name.includes('/')
    ? `the plugin names it by path; make the file exist there or relink the plugin`
    : `install the package that provides it, or ${useDir('<dir containing it>')}, or relink the plugin with -Wl,-rpath,'$ORIGIN' and put it next to ${basename(pluginPath)}`;
  return `${t.name}: not found (${describeSearch(t)}); ${fix}`;
}

function missingError(path: string, elf: ElfInfo, traces: ResolveTrace[]): MissingDependencyError {
  const missing = traces.filter((t) => t.path === null);
  const lines = missing.map((t) => `  - ${explainOne(t, elf, path)}`);
  let note = '';
  const startup = initialLdLibraryPath();
  const now = process.env.LD_LIBRARY_PATH;
  if ((startup ?? '') !== (now ?? '')) {
    note = `\n(LD_LIBRARY_PATH was changed after node started, to ${JSON.stringify(now ?? '')}; the loader only reads it at startup, so set it before starting node or use the libraryPath option)`;
  }
  return new MissingDependencyError(
    `cannot load ${path}: the dynamic loader would not find ${missing.length === 1 ? 'its NEEDED library' : `${missing.length} of its NEEDED libraries`} ${missing.map((t) => t.name).join(', ')}:\n${lines.join('\n')}${note}`,
    missing.map((t) => t.name),
    { path },
  );
}

// ---------------------------------------------------------------------------------------------
// Preflight

function checkOptions(options: PreflightOptions): void {
  if (options === null || typeof options !== 'object') throw new DeclarationError(`the options of open() must be an object, got ${String(options)}`);
  const lp = options.libraryPath;
  if (lp !== undefined && (!Array.isArray(lp) || lp.some((d) => typeof d !== 'string' || d === ''))) {
    throw new DeclarationError(`the libraryPath option must be an array of directory paths (non-empty strings), got ${JSON.stringify(lp)}`);
  }
  if (options.integrity !== undefined) parseIntegrity(options.integrity);
}

/**
 * Checks a plugin before dlopen: stat/realpath (PluginNotFoundError), permissions
 * (InsecurePluginError, unless `allowInsecure`), `integrity` (IntegrityError), ELF header and
 * dynamic section (PluginFormatError, PluginArchError), and NEEDED resolution
 * (MissingDependencyError naming every missing library, with how to fix each).
 */
export function preflight(path: string, options: PreflightOptions = {}): PreflightResult {
  checkOptions(options);
  const { realPath } = locatePlugin(path);
  if (!options.allowInsecure) checkPermissions(realPath);
  let sha256: string | undefined;
  if (options.integrity !== undefined) sha256 = checkIntegrity(realPath, options.integrity).sha256;
  const elf = readElf(path);
  if (elf.pie) {
    // glibc ≥ 2.30 refuses to dlopen a PIE executable; say so before dlopen's terse message.
    throw new PluginFormatError(
      'ERR_PLUGIN_NOT_SHARED_OBJECT',
      `${path} is a position-independent executable (DF_1_PIE), not a shared library, and glibc refuses to dlopen it; build the crate as a library: [lib] crate-type = ["cdylib"] in Cargo.toml (or link C code with cc -shared -fPIC)`,
      { path },
    );
  }
  const traces = traceNeeded(elf, realPath, { libraryPath: options.libraryPath });
  if (traces.some((t) => t.path === null)) throw missingError(path, elf, traces);
  return {
    path,
    realPath,
    elf,
    kind: pluginKind(elf),
    rustc: elf.rustc,
    needed: traces.map(({ name, path: p, via }) => ({ name, path: p, via })),
    // Hashing a large plugin costs milliseconds: only when asked for.
    get sha256(): string {
      return (sha256 ??= hashFile(realPath, ['sha256']).sha256.toString('hex'));
    },
  };
}
