// The Rust toolchains installed here, as places to find a Rust dylib's `libstd-<hash>.so` (and
// the compiler's other `lib<crate>-<hash>.so`): the active toolchain's sysroot
// (`rustc --print sysroot`, asked once per process) and every rustup toolchain. A hash names one
// exact build of std, so whichever toolchain has the file has the right one.

import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

import { hostRustTarget } from './elf.js';

/** `open()`'s `sysroot` option: undefined (search the toolchains), false (don't), or one sysroot dir. */
export type SysrootOption = false | string | undefined;

export interface Toolchain {
  /** `rustc -V` of the active toolchain, or the rustup toolchain's directory name. */
  name: string;
  sysroot: string;
  /** Where its shared libraries are: `<sysroot>/lib/rustlib/<target>/lib`, `<sysroot>/lib`. */
  libDirs: string[];
}

interface Active {
  sysroot: string | null;
  version: string | null;
}
let active: Active | undefined;

function runRustc(args: string[]): string | null {
  try {
    const out = execFileSync(process.env.RUSTC || 'rustc', args, {
      encoding: 'utf8',
      timeout: 15_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const s = out.trim();
    return s === '' ? null : s;
  } catch {
    return null;
  }
}

/** `rustc --print sysroot` and `rustc -V` of the rustc on PATH (or $RUSTC); cached; nulls when there is none. */
export function rustToolchain(): Active {
  if (!active) {
    const sysroot = runRustc(['--print', 'sysroot']);
    active = { sysroot, version: sysroot === null ? null : runRustc(['-V']) };
  }
  return active;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function libDirsOf(sysroot: string): string[] {
  const target = hostRustTarget();
  return [...(target ? [join(sysroot, 'lib', 'rustlib', target, 'lib')] : []), join(sysroot, 'lib')].filter(isDir);
}

/** `<sysroot>/lib/rustlib/<host target>/lib` of the active toolchain, where `libstd-<hash>.so` lives, or null. */
export function rustSysrootLibDir(): string | null {
  const { sysroot } = rustToolchain();
  const target = hostRustTarget();
  if (!sysroot || !target) return null;
  const dir = join(sysroot, 'lib', 'rustlib', target, 'lib');
  return isDir(dir) ? dir : null;
}

/** The toolchains the `sysroot` option lets rustplug search, in order: the active one, then the
 *  other rustup toolchains by name; or only the named sysroot; or none. */
export function toolchains(option: SysrootOption): Toolchain[] {
  if (option === false) return [];
  if (typeof option === 'string') {
    const sysroot = resolve(option);
    return [{ name: sysroot, sysroot, libDirs: libDirsOf(sysroot) }];
  }
  const out: Toolchain[] = [];
  const tc = rustToolchain();
  if (tc.sysroot) out.push({ name: tc.version ?? tc.sysroot, sysroot: tc.sysroot, libDirs: libDirsOf(tc.sysroot) });
  const home = process.env.RUSTUP_HOME || join(homedir(), '.rustup');
  let names: string[] = [];
  try {
    names = readdirSync(join(home, 'toolchains')).sort();
  } catch {
    /* no rustup */
  }
  for (const n of names) {
    const sysroot = join(home, 'toolchains', n);
    if (sysroot === tc.sysroot || !isDir(sysroot)) continue;
    out.push({ name: n, sysroot, libDirs: libDirsOf(sysroot) });
  }
  return out;
}

const RUST_DYLIB = /^lib([A-Za-z0-9_]+)-([0-9a-f]{8,})\.so$/;

/** `lib<crate>-<hash>.so`: the file name rustc gives a dylib of the standard library (or any dylib). */
export function isRustDylibName(name: string): boolean {
  return RUST_DYLIB.test(name);
}

/** The crate name of a `lib<crate>-<hash>.so`, or null. */
export function rustDylibCrate(name: string): string | null {
  return RUST_DYLIB.exec(name)?.[1] ?? null;
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
