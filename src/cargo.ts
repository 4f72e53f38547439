// `rustplug/cargo`: build a plugin crate with cargo from a test suite and get the paths of what
// cargo built. Cargo decides what is up to date; the paths are the ones cargo reports in its JSON
// messages (never guessed from target/); builds of one crate are serialised across processes
// (parallel vitest workers) by a lock file.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { CargoBuildError } from './errors.js';
import type { CargoDiagnostic } from './errors.js';

export type { CargoDiagnostic } from './errors.js';
export { CargoBuildError } from './errors.js';

/** Crate types `cargo rustc --crate-type` accepts for a library target. */
export type CargoCrateType = 'cdylib' | 'dylib' | 'staticlib' | 'rlib' | 'lib' | 'proc-macro';

export interface CargoBuildOptions {
  /** `--release` (default `false`: cargo's dev profile). */
  release?: boolean;
  /** `--profile <name>` instead (wins over `release`). */
  profile?: string;
  /**
   * Build the library target as this crate type (`cargo rustc --lib --crate-type <t>`), whatever
   * the manifest says. Default: the manifest's own crate types (`cargo build --lib`).
   */
  crateType?: CargoCrateType;
  /**
   * Extra flags for rustc, passed to cargo as `CARGO_ENCODED_RUSTFLAGS` (so they apply to every
   * crate of the build and take the place of `RUSTFLAGS`). Cargo rebuilds what they change.
   * A string is split on whitespace.
   */
  rustflags?: readonly string[] | string;
  /**
   * Arguments for the rustc that compiles the crate itself and no other crate of the build
   * (`cargo rustc --lib … -- <args>`): `['-C', 'prefer-dynamic']` links a Rust dylib against
   * libstd-<hash>.so without rebuilding its dependencies with the flag, which `rustflags` would.
   */
  rustcArgs?: readonly string[];
  /** `--features` (a list, or cargo's comma/space separated string). */
  features?: readonly string[] | string;
  /** `--no-default-features`. */
  noDefaultFeatures?: boolean;
  /** `--all-features`. */
  allFeatures?: boolean;
  /** `--package <spec>` when `crateDir` is a workspace root rather than the crate's directory. */
  package?: string;
  /** `--target <triple>`. */
  target?: string;
  /** `--target-dir <dir>`. Default: cargo's (`CARGO_TARGET_DIR`, config, or `<workspace>/target`). */
  targetDir?: string;
  /** `--offline`. Default: whatever cargo's config says. */
  offline?: boolean;
  /** `--locked`. */
  locked?: boolean;
  /** The cargo binary (default `$CARGO`, else `cargo` on `PATH`). */
  cargo?: string;
  /** Environment for cargo (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Each compiler diagnostic (warnings and errors), as cargo reports it, while the build runs. */
  onDiagnostic?: (diagnostic: CargoDiagnostic) => void;
  /** Stops waiting for the lock, or kills cargo, and rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** How long to wait for another process's build of the same crate (default 10 minutes). */
  lockTimeout?: number;
}

/** One `compiler-artifact` message of the build. */
export interface CargoArtifact {
  /** The package id cargo reported (`package_id`). */
  packageId: string;
  /** The manifest of the package (`manifest_path`). */
  manifestPath: string;
  /** Target name (`target.name`) and kinds/crate types (`target.kind`, `target.crate_types`). */
  name: string;
  kind: readonly string[];
  crateTypes: readonly string[];
  /** The files cargo reports for it, in its order. */
  filenames: readonly string[];
  /** `true` when cargo did not rebuild it. */
  fresh: boolean;
}

export interface CargoBuildResult {
  /**
   * The shared library cargo built for the crate (its `.so`): the first `cdylib` or `dylib`
   * file among the crate's artifacts. `undefined` for a build without one (e.g. `staticlib`).
   */
  library: string | undefined;
  /** Every file cargo reported for the crate's own library target. */
  files: readonly string[];
  /** The crate's library artifact (the package at `crateDir`, or `package`). */
  artifact: CargoArtifact;
  /** Every artifact of the build (dependencies too), in cargo's order. */
  artifacts: readonly CargoArtifact[];
  /** `true` when cargo rebuilt nothing at all. */
  fresh: boolean;
  /** Warnings (and other non-error diagnostics) cargo reported for crates it compiled this time. */
  diagnostics: readonly CargoDiagnostic[];
  /** The cargo command line that ran. */
  command: readonly string[];
}

const SHARED_EXT = /\.(so|dylib|dll)$/;
const LIB_KINDS = new Set(['lib', 'rlib', 'dylib', 'cdylib', 'staticlib', 'proc-macro']);

function list(v: readonly string[] | string | undefined): string[] {
  if (v === undefined) return [];
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  return [...v];
}

function abortError(signal: AbortSignal): Error {
  const e = new Error('cargoBuild was aborted', { cause: signal.reason });
  e.name = 'AbortError';
  (e as Error & { code?: string }).code = 'ABORT_ERR';
  return e;
}

// ---- the lock ----------------------------------------------------------------------------------

function lockDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = join(tmpdir(), `rustplug-cargo-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res, rej) => {
    if (signal?.aborted) return rej(abortError(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      rej(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Takes `<tmpdir>/rustplug-cargo-<uid>/<hash of the crate's real path>.lock` (created with
 * O_EXCL, holding `pid host`); a lock whose process is gone (same host) is taken over. Returns
 * the release function.
 */
async function acquireLock(key: string, timeout: number, signal?: AbortSignal): Promise<() => void> {
  const path = join(lockDir(), `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.lock`);
  const host = hostname();
  const started = Date.now();
  let wait = 20;
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid} ${host}\n${key}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // Held: by a live process, wait; by a dead one on this host, take it over.
    let owner: { pid: number; host: string } | undefined;
    let ino: number;
    try {
      ino = statSync(path).ino;
      const [pid, h] = readFileSync(path, 'utf8').split('\n')[0]!.split(' ');
      owner = { pid: Number(pid), host: h ?? '' };
    } catch {
      continue; // released meanwhile: try again at once
    }
    const dead = owner.host === host && Number.isInteger(owner.pid) && owner.pid > 0 && !alive(owner.pid);
    // A file without a pid: a writer that died between creating and writing it (or garbage).
    const empty = !(owner.pid > 0) && Date.now() - started > 2000;
    if (dead || empty) {
      try {
        // Remove the file we judged, not one a new owner created since.
        if (statSync(path).ino === ino) unlinkSync(path);
      } catch {
        // someone else took it over first
      }
      continue;
    }
    if (Date.now() - started > timeout) {
      throw new CargoBuildError(`cargoBuild: waited ${Math.round(timeout / 1000)} s for another build of ${key} (lock ${path}, held by pid ${owner.pid} on ${owner.host})`, {
        diagnostics: [],
        stderr: '',
        exitCode: null,
        command: [],
      });
    }
    await sleep(wait, signal);
    wait = Math.min(wait * 2, 250);
  }
}

// In one process, calls for the same crate queue here instead of polling the lock file.
const queues = new Map<string, Promise<unknown>>();

// ---- the build ---------------------------------------------------------------------------------

interface CargoMessage {
  reason: string;
  package_id?: string;
  manifest_path?: string;
  target?: { name: string; kind: string[]; crate_types: string[]; src_path: string };
  filenames?: string[];
  fresh?: boolean;
  message?: {
    level: string;
    message: string;
    rendered?: string | null;
    code?: { code: string } | null;
    spans?: { file_name: string; line_start: number; column_start: number; is_primary: boolean }[];
  };
  success?: boolean;
}

function diagnosticOf(m: CargoMessage): CargoDiagnostic | undefined {
  if (!m.message) return undefined;
  const primary = m.message.spans?.find((s) => s.is_primary);
  return {
    level: m.message.level,
    message: m.message.message,
    rendered: m.message.rendered ?? m.message.message,
    code: m.message.code?.code,
    packageId: m.package_id,
    file: primary?.file_name,
    line: primary?.line_start,
    column: primary?.column_start,
  };
}

/**
 * Builds the crate in `crateDir` with cargo (`--message-format=json`) and returns the files cargo
 * reports for its library target. Cargo decides what to rebuild (a second call with nothing
 * changed rebuilds nothing and returns the same paths, `fresh: true`). A failed build rejects
 * with a `CargoBuildError` (`ERR_CARGO_BUILD`) holding the compiler's diagnostics and cargo's own
 * stderr. Calls for the same crate — from this process or from others, e.g. parallel vitest
 * workers — run one at a time (a lock file per crate).
 */
export async function cargoBuild(crateDir: string, options: CargoBuildOptions = {}): Promise<CargoBuildResult> {
  let dir: string;
  try {
    dir = realpathSync(resolve(crateDir));
  } catch (e) {
    throw new CargoBuildError(`cargoBuild: no crate directory at ${crateDir}`, { diagnostics: [], stderr: '', exitCode: null, command: [], cause: e });
  }
  const manifest = join(dir, 'Cargo.toml');
  const key = options.package === undefined ? dir : `${dir}#${options.package}`;
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(async () => {
    const release = await acquireLock(key, options.lockTimeout ?? 10 * 60 * 1000, options.signal);
    try {
      return await runCargo(dir, manifest, options);
    } finally {
      release();
    }
  });
  queues.set(key, run);
  try {
    return await run;
  } finally {
    if (queues.get(key) === run) queues.delete(key);
  }
}

function cargoArgs(manifest: string, o: CargoBuildOptions): string[] {
  const rustcArgs = o.rustcArgs ?? [];
  // Only `cargo rustc` takes a crate type or arguments for the crate's own rustc.
  const args = o.crateType === undefined && rustcArgs.length === 0 ? ['build', '--lib'] : ['rustc', '--lib'];
  if (o.crateType !== undefined) args.push('--crate-type', o.crateType);
  args.push('--manifest-path', manifest, '--message-format=json');
  if (o.package !== undefined) args.push('--package', o.package);
  if (o.profile !== undefined) args.push('--profile', o.profile);
  else if (o.release) args.push('--release');
  const features = list(o.features);
  if (features.length) args.push('--features', features.join(','));
  if (o.noDefaultFeatures) args.push('--no-default-features');
  if (o.allFeatures) args.push('--all-features');
  if (o.target !== undefined) args.push('--target', o.target);
  if (o.targetDir !== undefined) args.push('--target-dir', resolve(o.targetDir));
  if (o.offline) args.push('--offline');
  if (o.locked) args.push('--locked');
  if (rustcArgs.length) args.push('--', ...rustcArgs);
  return args;
}

function runCargo(dir: string, manifest: string, o: CargoBuildOptions): Promise<CargoBuildResult> {
  const cargo = o.cargo ?? process.env.CARGO ?? 'cargo';
  const args = cargoArgs(manifest, o);
  const command = [cargo, ...args];
  const env: NodeJS.ProcessEnv = { ...(o.env ?? process.env) };
  const flags = list(o.rustflags);
  if (o.rustflags !== undefined) {
    env.CARGO_ENCODED_RUSTFLAGS = flags.join('\x1f');
    delete env.RUSTFLAGS;
  }
  return new Promise((resolvePromise, reject) => {
    const signal = o.signal;
    if (signal?.aborted) return reject(abortError(signal));
    const child = spawn(cargo, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const artifacts: CargoArtifact[] = [];
    const diagnostics: CargoDiagnostic[] = [];
    let stderr = '';
    let spawnError: Error | undefined;
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      spawnError = e;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      // Keep the tail: cargo's own errors (a bad manifest, a missing crate) are at the end.
      stderr = (stderr + s).slice(-256 * 1024);
    });
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      let m: CargoMessage;
      try {
        m = JSON.parse(line) as CargoMessage;
      } catch {
        return;
      }
      if (m.reason === 'compiler-artifact' && m.target && m.filenames) {
        artifacts.push({
          packageId: m.package_id ?? '',
          manifestPath: m.manifest_path ?? '',
          name: m.target.name,
          kind: m.target.kind,
          crateTypes: m.target.crate_types,
          filenames: m.filenames,
          fresh: m.fresh === true,
        });
      } else if (m.reason === 'compiler-message') {
        const d = diagnosticOf(m);
        if (d) {
          diagnostics.push(d);
          try {
            o.onDiagnostic?.(d);
          } catch {
            // a listener's error must not break the build
          }
        }
      }
    });
    let exit: [number | null, NodeJS.Signals | null] | undefined;
    let closed = false;
    const finish = () => {
      if (!exit || !closed) return;
      signal?.removeEventListener('abort', onAbort);
      const [code] = exit;
      if (signal?.aborted) return reject(abortError(signal));
      if (spawnError) {
        return reject(
          new CargoBuildError(`cargoBuild: cannot run ${cargo}: ${spawnError.message}`, { diagnostics, stderr, exitCode: null, command, cause: spawnError }),
        );
      }
      const errors = diagnostics.filter((d) => d.level === 'error' || d.level === 'error: internal compiler error');
      if (code !== 0) {
        const shown = errors.length ? errors.map((d) => d.rendered.trimEnd()).join('\n\n') : stderr.trim().split('\n').slice(-20).join('\n');
        return reject(
          new CargoBuildError(
            `cargoBuild: \`${command.join(' ')}\` failed (exit ${code ?? exit[1]}) in ${dir}${errors.length ? ` with ${errors.length} error${errors.length === 1 ? '' : 's'}` : ''}:\n${shown}`,
            { diagnostics, stderr, exitCode: code, command },
          ),
        );
      }
      // The crate's own library: the package at crateDir (by manifest), or with `package`, the
      // last library artifact (cargo reports the root unit last: everything else is its dependency).
      const libs = artifacts.filter((a) => a.kind.some((k) => LIB_KINDS.has(k)));
      const own = o.package === undefined ? libs.filter((a) => resolve(a.manifestPath) === manifest) : libs;
      const artifact = own[own.length - 1];
      if (!artifact) {
        return reject(
          new CargoBuildError(`cargoBuild: cargo succeeded but reported no library artifact for ${manifest}${o.package ? ` (package ${o.package})` : ''}`, {
            diagnostics,
            stderr,
            exitCode: code,
            command,
          }),
        );
      }
      const want = o.crateType;
      const library = artifact.filenames.find((f) => SHARED_EXT.test(f) && (want === undefined || want === 'cdylib' || want === 'dylib'));
      resolvePromise({
        library,
        files: artifact.filenames,
        artifact,
        artifacts,
        fresh: artifacts.every((a) => a.fresh),
        diagnostics: diagnostics.filter((d) => d.level !== 'error'),
        command,
      });
    };
    lines.on('close', () => {
      closed = true;
      finish();
    });
    child.on('close', (code, sig) => {
      exit = [code, sig];
      finish();
    });
  });
}
