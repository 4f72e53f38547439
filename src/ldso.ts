// Facts about this system's dynamic loader that its search depends on: the hwcaps
// subdirectories it tries in every search directory, what $PLATFORM and $LIB expand to, its
// system search path, and LD_LIBRARY_PATH as it read it at startup. ld.so states most of them
// itself (`ld.so --help`), so they are taken from there, once per process.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { hostTarget } from './elf.js';

const MULTIARCH: Record<string, string> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  ia32: 'i386-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  riscv64: 'riscv64-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
  s390x: 's390x-linux-gnu',
  loong64: 'loongarch64-linux-gnu',
};

const INTERPRETERS: Record<string, string> = {
  x64: '/lib64/ld-linux-x86-64.so.2',
  arm64: '/lib/ld-linux-aarch64.so.1',
  ia32: '/lib/ld-linux.so.2',
  arm: '/lib/ld-linux-armhf.so.3',
  riscv64: '/lib/ld-linux-riscv64-lp64d.so.1',
  ppc64: '/lib64/ld64.so.2',
  s390x: '/lib/ld64.so.1',
  loong64: '/lib64/ld-linux-loongarch-lp64d.so.1',
};

export interface LdSo {
  /** The program interpreter (always mapped, matched by its soname). */
  interpreter: string;
  /** Subdirectories tried in each search directory before the directory itself, best first:
   *  `glibc-hwcaps/<level>` and the legacy hwcaps combinations (glibc < 2.37). */
  subdirs: string[];
  /** What `$PLATFORM` expands to. */
  platform: string;
  /** What `$LIB` expands to. */
  lib: string;
  /** The system search path (after ld.so.cache). */
  systemDirs: string[];
}

function guessedSystemDirs(): string[] {
  const multi = MULTIARCH[process.arch];
  return [...(multi ? [`/lib/${multi}`, `/usr/lib/${multi}`] : []), ...(hostTarget()?.class === 64 && !multi ? ['/lib64', '/usr/lib64'] : []), '/lib', '/usr/lib'];
}

/** Legacy hwcaps subdirectories: every combination of the names, `tls` first, in the order
 *  ld.so tries them (all names, then dropping from the end, like counting down in binary). */
function legacyCombinations(names: string[]): string[] {
  const ordered = [...names.filter((n) => n === 'tls'), ...names.filter((n) => n !== 'tls')];
  const out: string[] = [];
  for (let mask = (1 << ordered.length) - 1; mask > 0; mask--) {
    const parts = ordered.filter((_, i) => mask & (1 << (ordered.length - 1 - i)));
    out.push(`${parts.join('/')}/`);
  }
  return out;
}

/** Parses the output of `ld.so --help` (glibc ≥ 2.33). */
export function parseLdSoHelp(text: string, interpreter: string): LdSo {
  const section = (title: string): string[] => {
    const at = text.indexOf(title);
    if (at < 0) return [];
    const lines = text.slice(at).split('\n').slice(1);
    const end = lines.findIndex((l) => !l.startsWith('  '));
    return (end < 0 ? lines : lines.slice(0, end)).map((l) => l.trim());
  };
  const searched = (lines: string[]) => lines.filter((l) => /\bsearched\b/.test(l)).map((l) => l.split(' ')[0]!);
  const levels = searched(section('Subdirectories of glibc-hwcaps directories'));
  const legacyLines = section('Legacy HWCAP subdirectories');
  const platform = legacyLines.find((l) => l.includes('AT_PLATFORM'))?.split(' ')[0] ?? hostTarget()?.machine ?? process.arch;
  const systemDirs = section('Shared library search path:')
    .filter((l) => l.endsWith('(system search path)'))
    .map((l) => l.replace(/ \(system search path\)$/, ''));
  const multi = MULTIARCH[process.arch];
  return {
    interpreter,
    subdirs: [...levels.map((l) => `glibc-hwcaps/${l}/`), ...legacyCombinations(searched(legacyLines))],
    platform,
    lib: multi && systemDirs.includes(`/lib/${multi}`) ? `lib/${multi}` : hostTarget()?.class === 64 && !multi ? 'lib64' : 'lib',
    systemDirs: systemDirs.length ? systemDirs : guessedSystemDirs(),
  };
}

let ldso: LdSo | undefined;

/** This system's loader facts (asks `ld.so --help` once per process; guesses if it cannot). */
export function ldSo(): LdSo {
  if (ldso) return ldso;
  const interpreter = INTERPRETERS[process.arch] ?? '/lib/ld-linux.so.2';
  let text = '';
  try {
    text = execFileSync(interpreter, ['--help'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    /* an older or non-glibc loader: no hwcaps subdirectories, guessed dirs */
  }
  ldso = parseLdSoHelp(text, interpreter);
  return ldso;
}

let startupLdLibraryPath: string | null | undefined;

/** LD_LIBRARY_PATH as it was when this process started (what ld.so uses), or undefined if unset. */
export function initialLdLibraryPath(): string | undefined {
  if (startupLdLibraryPath === undefined) {
    try {
      const env = readFileSync('/proc/self/environ', 'latin1').split('\0');
      const hit = env.find((kv) => kv.startsWith('LD_LIBRARY_PATH='));
      startupLdLibraryPath = hit === undefined ? null : Buffer.from(hit.slice('LD_LIBRARY_PATH='.length), 'latin1').toString('utf8');
    } catch {
      startupLdLibraryPath = process.env.LD_LIBRARY_PATH ?? null;
    }
  }
  return startupLdLibraryPath ?? undefined;
}

/** Splits LD_LIBRARY_PATH as glibc does (':' or ';'; an empty element is the current directory). */
export function splitLdLibraryPath(value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  return value.split(/[:;]/).map((d) => d || '.');
}

/**
 * Splits an RPATH/RUNPATH string and expands `$ORIGIN`, `${ORIGIN}`, `$LIB`, `${LIB}`,
 * `$PLATFORM`, `${PLATFORM}` as ld.so does. `origin` is the directory of the object as the
 * loader names it (the path it was opened by, symlinks not resolved). An empty element means the
 * current directory.
 */
export function expandSearchPath(value: string, origin: string): string[] {
  const { lib, platform } = ldSo();
  return value.split(':').map(
    (element) =>
      element.replace(/\$(\{(ORIGIN|LIB|PLATFORM)\}|ORIGIN(?![A-Za-z0-9_])|LIB(?![A-Za-z0-9_])|PLATFORM(?![A-Za-z0-9_]))/g, (_m, braced: string, inner?: string) => {
        const token = inner ?? braced;
        if (token === 'ORIGIN') return origin;
        if (token === 'LIB') return lib;
        return platform;
      }) || '.',
  );
}
