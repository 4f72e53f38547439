// Integrity (pinned hash) and file-permission checks of a plugin before it is loaded.

import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

import { DeclarationError, InsecurePluginError, IntegrityError, PluginNotFoundError } from './errors.js';

export type IntegrityAlgorithm = 'sha256' | 'sha384' | 'sha512';

const DIGEST_BYTES: Record<IntegrityAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };
const STRENGTH: Record<IntegrityAlgorithm, number> = { sha256: 1, sha384: 2, sha512: 3 };

/** One parsed hash of an integrity value. */
export interface IntegrityHash {
  algorithm: IntegrityAlgorithm;
  digest: Buffer;
  /** 'sri' for `sha256-<base64>`, 'hex' for `sha256:<hex>`. */
  form: 'sri' | 'hex';
  /** The token as written. */
  text: string;
}

function isAlgorithm(s: string): s is IntegrityAlgorithm {
  return s === 'sha256' || s === 'sha384' || s === 'sha512';
}

function badIntegrity(value: unknown, why: string): DeclarationError {
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value) : String(value);
  return new DeclarationError(
    `invalid integrity option ${shown}: ${why}. Expected 'sha256-<base64>' (also sha384-/sha512-, as in Subresource Integrity) or 'sha256:<hex>'; compute it with: npx rustplug sri <file>`,
  );
}

/**
 * Parses an integrity value: one or more whitespace-separated `sha256-<base64>`,
 * `sha384-<base64>`, `sha512-<base64>` (SRI; `?options` suffixes ignored) or `<algo>:<hex>`
 * tokens. Throws DeclarationError (ERR_PLUGIN_BAD_DECLARATION) when malformed.
 */
export function parseIntegrity(value: unknown): IntegrityHash[] {
  if (typeof value !== 'string') throw badIntegrity(value, `it must be a string, not ${value === null ? 'null' : typeof value}`);
  const tokens = value.trim().split(/\s+/).filter(Boolean);
  if (tokens.length === 0) throw badIntegrity(value, 'it is empty');
  return tokens.map((token) => {
    const hex = /^([a-z0-9]+):([0-9a-fA-F]*)$/.exec(token);
    if (hex) {
      const algo = hex[1]!;
      if (!isAlgorithm(algo)) throw badIntegrity(value, `unsupported hash algorithm '${algo}' (use sha256, sha384 or sha512)`);
      const digits = hex[2]!;
      if (digits.length !== DIGEST_BYTES[algo] * 2) {
        throw badIntegrity(value, `a ${algo} digest has ${DIGEST_BYTES[algo] * 2} hex digits, this one has ${digits.length}`);
      }
      return { algorithm: algo, digest: Buffer.from(digits, 'hex'), form: 'hex' as const, text: token };
    }
    const sri = /^([a-z0-9]+)-([A-Za-z0-9+/]*={0,2})(\?.*)?$/.exec(token);
    if (sri) {
      const algo = sri[1]!;
      if (!isAlgorithm(algo)) throw badIntegrity(value, `unsupported hash algorithm '${algo}' (use sha256, sha384 or sha512)`);
      const b64 = sri[2]!;
      const digest = Buffer.from(b64, 'base64');
      const expectedLen = Math.ceil((DIGEST_BYTES[algo] * 4) / 3);
      if (digest.length !== DIGEST_BYTES[algo] || b64.replace(/=+$/, '').length !== expectedLen) {
        throw badIntegrity(value, `a ${algo} digest is ${DIGEST_BYTES[algo]} bytes (${Math.ceil(DIGEST_BYTES[algo] / 3) * 4} base64 characters), this one does not decode to that`);
      }
      return { algorithm: algo, digest, form: 'sri' as const, text: token };
    }
    throw badIntegrity(value, `'${token}' is neither '<algo>-<base64>' nor '<algo>:<hex>'`);
  });
}

/** Formats a digest in the given form: `sha256-<base64>` or `sha256:<hex>`. */
export function formatIntegrity(algorithm: IntegrityAlgorithm, digest: Buffer, form: 'sri' | 'hex' = 'sri'): string {
  return form === 'sri' ? `${algorithm}-${digest.toString('base64')}` : `${algorithm}:${digest.toString('hex')}`;
}

function openForRead(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new PluginNotFoundError('ERR_PLUGIN_NOT_FOUND', `no plugin file at ${path}: it does not exist`, { path, cause: e });
    }
    throw new PluginNotFoundError('ERR_PLUGIN_NOT_FOUND', `cannot read ${path}: ${(e as Error).message}`, { path, cause: e });
  }
}

/** Hashes a file with several algorithms in one streaming pass (64 KiB positioned reads). */
export function hashFile<A extends string>(path: string, algorithms: readonly A[]): Record<A, Buffer> {
  const fd = openForRead(path);
  try {
    if (!fstatSync(fd).isFile()) {
      throw new PluginNotFoundError('ERR_PLUGIN_NOT_A_FILE', `${path} is not a regular file; pass the path of the plugin's .so file`, { path });
    }
    const hashes = algorithms.map((a) => createHash(a));
    const buf = Buffer.allocUnsafe(64 * 1024);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      for (const h of hashes) h.update(buf.subarray(0, n));
      pos += n;
    }
    const out = {} as Record<A, Buffer>;
    algorithms.forEach((a, i) => (out[a] = hashes[i]!.digest()));
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The SRI integrity string of a file, e.g. `sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`. */
export function sriOf(path: string, algo: IntegrityAlgorithm = 'sha256'): string {
  if (!isAlgorithm(algo)) throw badIntegrity(`${String(algo)}-`, `unsupported hash algorithm '${String(algo)}' (use sha256, sha384 or sha512)`);
  return formatIntegrity(algo, hashFile(path, [algo])[algo], 'sri');
}

/**
 * Checks `path` against an integrity value. Of the listed hashes, those of the strongest
 * algorithm count (as in SRI); one of them must match. Returns the file's sha256 (hex), which is
 * computed in the same pass. Throws IntegrityError (ERR_PLUGIN_INTEGRITY) on mismatch.
 */
export function checkIntegrity(path: string, integrity: string): { sha256: string } {
  const wanted = parseIntegrity(integrity);
  const strongest = wanted.reduce((a, b) => (STRENGTH[b.algorithm] > STRENGTH[a.algorithm] ? b : a)).algorithm;
  const candidates = wanted.filter((w) => w.algorithm === strongest);
  const algos = [...new Set<IntegrityAlgorithm>(['sha256', strongest])];
  const digests = hashFile(path, algos);
  const actual = digests[strongest];
  if (!candidates.some((c) => c.digest.equals(actual))) {
    const first = candidates[0]!;
    const expected = candidates.length === 1 ? first.text : candidates.map((c) => c.text).join(' ');
    const actualText = formatIntegrity(strongest, actual, first.form);
    throw new IntegrityError(
      `${path} does not match its pinned integrity: expected ${expected}, but the file hashes to ${actualText}. The file changed since the value was recorded (rebuilt or replaced); if the new file is trusted, update the integrity option (npx rustplug sri ${path})`,
      expected,
      actualText,
      { path },
    );
  }
  return { sha256: digests.sha256.toString('hex') };
}

// ---------------------------------------------------------------------------------------------
// Permissions

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function currentUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

function insecure(path: string, problem: string, fix: string): InsecurePluginError {
  return new InsecurePluginError(
    `refusing to load ${path}: ${problem}, so another user could replace code that would run inside this process. Fix: ${fix}; or, if this is intended, pass { allowInsecure: true } to skip this check`,
    { path },
  );
}

function ownerProblem(st: Stats, what: string, path: string, plugin: string, uid: number | null): InsecurePluginError | null {
  if (uid === null || st.uid === 0 || st.uid === uid) return null;
  return insecure(
    plugin,
    `${what} ${path} is owned by uid ${st.uid}, not by root or by this process's user (uid ${uid})`,
    `chown ${uid} ${path}`,
  );
}

/**
 * Refuses (InsecurePluginError, ERR_PLUGIN_INSECURE) a plugin that other users could replace:
 * the file is group- or other-writable or owned by someone other than root or the current user;
 * or a directory above its real path is owned by such a user, or is group- or other-writable
 * without the sticky bit. `realPath` must be the resolved real path of the plugin.
 */
export function checkPermissions(realPath: string): void {
  const uid = currentUid();
  const st = statSync(realPath);
  if (st.mode & 0o022) {
    const who = [st.mode & 0o020 ? 'its group' : '', st.mode & 0o002 ? 'all users' : ''].filter(Boolean).join(' and ');
    throw insecure(realPath, `the file is writable by ${who} (mode ${octal(st.mode)})`, `chmod go-w ${realPath}`);
  }
  const owner = ownerProblem(st, 'the file', realPath, realPath, uid);
  if (owner) throw owner;
  let dir = dirname(realPath);
  for (;;) {
    const ds = statSync(dir);
    const sticky = (ds.mode & 0o1000) !== 0;
    if (!sticky && ds.mode & 0o022) {
      const who = [ds.mode & 0o020 ? 'its group' : '', ds.mode & 0o002 ? 'all users' : ''].filter(Boolean).join(' and ');
      throw insecure(
        realPath,
        `the directory ${dir} is writable by ${who} without the sticky bit (mode ${octal(ds.mode)}), so files in it can be replaced`,
        `chmod go-w ${dir} (or chmod +t ${dir})`,
      );
    }
    const downer = ownerProblem(ds, 'the directory', dir, realPath, uid);
    if (downer) throw downer;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
}
