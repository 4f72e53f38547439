// `rustplug sizes <crate-dir>`: builds a crate's library four ways — cdylib and dylib, each with
// and without -C prefer-dynamic, at opt-level s — and measures each file (size, NEEDED). Private
// to the CLI: one cargo call per variant into a target dir of its own, artifacts as cargo reports
// them (--message-format=json), copied aside because the four builds share one output name.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';

import { pluginKind, readElf } from './elf.js';

export type SizesErrorCode = 'ERR_SIZES_NOT_A_CRATE' | 'ERR_SIZES_NO_LIBRARY' | 'ERR_SIZES_NO_CARGO' | 'ERR_SIZES_BUILD';

/** A crate that could not be built and measured; the CLI prints `code: message`, then `hint`. */
export class SizesError extends Error {
  readonly code: SizesErrorCode;
  readonly hint: string;
  /** Cargo's diagnostics, for a failed build. */
  readonly output: string;
  constructor(code: SizesErrorCode, message: string, hint: string, output = '') {
    super(message);
    this.code = code;
    this.hint = hint;
    this.output = output;
  }
  override get name(): string {
    return 'SizesError';
  }
}

export interface BuildVariant {
  crateType: 'cdylib' | 'dylib';
  preferDynamic: boolean;
}

/** The four builds, in table order. */
export const VARIANTS: readonly BuildVariant[] = [
  { crateType: 'cdylib', preferDynamic: false },
  { crateType: 'cdylib', preferDynamic: true },
  { crateType: 'dylib', preferDynamic: false },
  { crateType: 'dylib', preferDynamic: true },
];

/** NEEDED names of Rust dylibs: libstd-<hash>.so, lib<crate>-<hash>.so (what -C prefer-dynamic adds). */
export const rustDylibsOf = (needed: readonly string[]) => needed.filter((n) => /^lib\w+-[0-9a-f]{16}\.so$/.test(n));

/** The optimization every variant is built with (the whole crate graph, through the release profile). */
export const OPT_LEVEL = 's';

export const variantLabel = (v: BuildVariant) => `${v.crateType}${v.preferDynamic ? ' -C prefer-dynamic' : ''}`;

/** One built variant, measured. `file`, `sizeBytes`, `kind`, `needed`, `rustc` as for a file given to sizes. */
export interface BuiltSize extends BuildVariant {
  crate: string;
  optLevel: typeof OPT_LEVEL;
  file: string;
  sizeBytes: number;
  kind: string;
  needed: number;
  neededLibraries: string[];
  rustc: string | null;
}

interface CargoPackage {
  id: string;
  name: string;
  manifest_path: string;
  targets: { name: string; kind: string[] }[];
}

const LIB_KINDS = ['lib', 'rlib', 'dylib', 'cdylib', 'staticlib'];
const DEBIAN_REGISTRY = '/usr/share/cargo/registry';

/**
 * Cargo arguments for where crates come from, chosen as scripts/build-fixtures.mjs chooses:
 * RUSTPLUG_CRATES=debian|crates-io, else crates.io when this user's cargo has a crates.io index
 * (it has reached crates.io before), else Debian's crate sources, offline. Debian's registry is
 * set on the command line (--config) unless a cargo config above the crate (or in CARGO_HOME)
 * already replaces crates.io — a vendored or mirrored crate keeps its own sources.
 */
export function cratesSourceArgs(crateDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const chosen = env.RUSTPLUG_CRATES;
  const cargoHome = env.CARGO_HOME || join(homedir(), '.cargo');
  if (chosen === 'crates-io') return [];
  if (chosen !== 'debian') {
    const index = join(cargoHome, 'registry', 'index');
    if (existsSync(index) && readdirSync(index).some((d) => d.includes('crates.io'))) return [];
  }
  if (!existsSync(DEBIAN_REGISTRY)) return [];
  const configs = [join(cargoHome, 'config.toml'), join(cargoHome, 'config')];
  for (let d = resolve(crateDir); ; d = dirname(d)) {
    configs.push(join(d, '.cargo', 'config.toml'), join(d, '.cargo', 'config'));
    if (dirname(d) === d) break;
  }
  const replaced = configs.some((f) => {
    try {
      return /^\s*replace-with\s*=/m.test(readFileSync(f, 'utf8'));
    } catch {
      return false;
    }
  });
  if (replaced) return ['--offline'];
  return ['--offline', '--config', 'source.crates-io.replace-with="debian"', '--config', `source.debian.directory="${DEBIAN_REGISTRY}"`];
}

function cargo(args: string[], cwd: string, env: NodeJS.ProcessEnv): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.env.CARGO || 'cargo', args, { cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) {
    throw new SizesError('ERR_SIZES_NO_CARGO', `cannot run cargo: ${r.error.message}`, 'install Rust (https://rustup.rs) or put cargo on PATH (or set CARGO)');
  }
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** Builds the library of the package in `crateDir` four ways and measures each; `log` hears what is being built. */
export function buildSizes(dir: string, log: (line: string) => void = () => {}): BuiltSize[] {
  const crateDir = resolve(dir);
  const manifest = join(crateDir, 'Cargo.toml');
  if (!existsSync(manifest)) {
    throw new SizesError('ERR_SIZES_NOT_A_CRATE', `${dir} has no Cargo.toml`, 'pass the directory of a Rust package (the one with its Cargo.toml), or .so files to measure as they are');
  }
  const env: NodeJS.ProcessEnv = { ...process.env, CARGO_PROFILE_RELEASE_OPT_LEVEL: OPT_LEVEL };
  // Outputs go where we say and are read from cargo's report: nothing from the env moves them.
  for (const k of ['CARGO_TARGET_DIR', 'CARGO_BUILD_TARGET_DIR']) delete env[k];
  const source = cratesSourceArgs(crateDir);

  const meta = cargo(['metadata', '--format-version', '1', '--no-deps', '--manifest-path', manifest, ...source], crateDir, env);
  if (meta.status !== 0) {
    throw new SizesError('ERR_SIZES_BUILD', `cargo metadata failed for ${manifest}`, 'fix the manifest (cargo metadata shows the same error)', meta.stderr);
  }
  const { packages, target_directory: targetDirectory } = JSON.parse(meta.stdout) as { packages: CargoPackage[]; target_directory: string };
  const real = realpathSync(manifest);
  const pkg = packages.find((p) => p.manifest_path === real || p.manifest_path === manifest);
  if (!pkg) {
    const members = packages.map((p) => relative(crateDir, dirname(p.manifest_path)) || '.');
    throw new SizesError(
      'ERR_SIZES_NOT_A_CRATE',
      `${manifest} is a workspace manifest, not a package`,
      members.length ? `pass a member's directory: ${members.join(', ')}` : 'pass the directory of a package with a [lib] target',
    );
  }
  const lib = pkg.targets.find((t) => t.kind.some((k) => LIB_KINDS.includes(k)));
  if (!lib) {
    throw new SizesError('ERR_SIZES_NO_LIBRARY', `package ${pkg.name} (${dir}) has no library target`, 'a plugin is a library: add src/lib.rs (or a [lib] section) to the package');
  }

  const targetDir = join(targetDirectory, 'rustplug-sizes');
  const outDir = join(targetDir, 'sizes', pkg.name);
  const rows: BuiltSize[] = [];
  for (const v of VARIANTS) {
    log(`building ${pkg.name} as ${variantLabel(v)} (opt-level ${OPT_LEVEL})`);
    const args = ['rustc', '--lib', '--release', '--crate-type', v.crateType, '--message-format=json-render-diagnostics', '--manifest-path', manifest, '--target-dir', targetDir, ...source];
    const r = cargo([...args, '--', ...(v.preferDynamic ? ['-C', 'prefer-dynamic'] : [])], crateDir, env);
    if (r.status !== 0) {
      throw new SizesError(
        'ERR_SIZES_BUILD',
        `cargo rustc --crate-type ${v.crateType}${v.preferDynamic ? ' -- -C prefer-dynamic' : ''} failed for ${pkg.name} (exit ${r.status})`,
        `the crate must build as a ${v.crateType}: cargo's messages are above (cd ${dir} && cargo build --release shows the same)`,
        r.stderr,
      );
    }
    const built = artifact(r.stdout, pkg, lib.name);
    if (!built) {
      throw new SizesError('ERR_SIZES_BUILD', `cargo reported no shared library for ${pkg.name} as a ${v.crateType}`, 'check that the package builds a [lib] for this machine', r.stderr);
    }
    // Every variant writes the same lib<name>.so: keep a copy of each.
    const copyDir = join(outDir, `${v.crateType}${v.preferDynamic ? '-prefer-dynamic' : ''}`);
    mkdirSync(copyDir, { recursive: true });
    const file = join(copyDir, basename(built));
    const tmp = `${file}.tmp-${process.pid}`;
    copyFileSync(built, tmp);
    renameSync(tmp, file);
    const elf = readElf(file, { anyArch: true });
    rows.push({
      crate: pkg.name,
      ...v,
      optLevel: OPT_LEVEL,
      file,
      sizeBytes: statSync(file).size,
      kind: pluginKind(elf),
      needed: elf.needed.length,
      neededLibraries: [...elf.needed],
      rustc: elf.rustc,
    });
  }
  return rows;
}

/** The shared library cargo's JSON messages report for the package's lib target. */
function artifact(stdout: string, pkg: CargoPackage, libName: string): string | undefined {
  let found: string | undefined;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let m: { reason?: string; package_id?: string; target?: { name?: string }; filenames?: string[] };
    try {
      m = JSON.parse(line);
    } catch {
      continue;
    }
    if (m.reason !== 'compiler-artifact' || m.package_id !== pkg.id || m.target?.name !== libName) continue;
    found = m.filenames?.find((f) => f.endsWith('.so')) ?? found;
  }
  return found;
}
