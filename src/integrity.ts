// Integrity: a plugin's pinned hash (SRI or hex), checked against the bytes rustplug loads.

import { createHash } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';

import { openNonBlocking, regularFileStat } from './elf.js';
import { IntegrityError, IntegrityOptionError } from './errors.js';

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

function badIntegrity(value: unknown, why: string): IntegrityOptionError {
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value) : String(value);
  return new IntegrityOptionError(
    `invalid integrity option ${shown}: ${why}. Expected 'sha256-<base64>' (also sha384-/sha512-, as in Subresource Integrity) or 'sha256:<hex>'; compute it with: npx rustplug sri <file>`,
  );
}

/**
 * Parses an integrity value: one or more whitespace-separated `sha256-<base64>`,
 * `sha384-<base64>`, `sha512-<base64>` (SRI; `?options` suffixes ignored) or `<algo>:<hex>`
 * tokens. Throws IntegrityOptionError (ERR_PLUGIN_BAD_INTEGRITY) when malformed.
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

/** Hashes an open file with several algorithms in one streaming pass (64 KiB positioned reads). */
export function hashFd<A extends string>(fd: number, algorithms: readonly A[]): Record<A, Buffer> {
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
}

/** Hashes a file (opened non-blocking; a FIFO or directory is refused, not read). */
export function hashFile<A extends string>(path: string, algorithms: readonly A[]): Record<A, Buffer> {
  const fd = openNonBlocking(path);
  try {
    regularFileStat(fd, path);
    return hashFd(fd, algorithms);
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
 * Checks `path` (or the open `fd` of it) against an integrity value. Of the listed hashes, those of the strongest
 * algorithm count (as in SRI); one of them must match. Returns the file's sha256 (hex), which is
 * computed in the same pass. Throws IntegrityError (ERR_PLUGIN_INTEGRITY) on mismatch.
 */
export function checkIntegrity(path: string, integrity: string, fd?: number): { sha256: string } {
  const wanted = parseIntegrity(integrity);
  const strongest = wanted.reduce((a, b) => (STRENGTH[b.algorithm] > STRENGTH[a.algorithm] ? b : a)).algorithm;
  const candidates = wanted.filter((w) => w.algorithm === strongest);
  const algos = [...new Set<IntegrityAlgorithm>(['sha256', strongest])];
  const digests = fd === undefined ? hashFile(path, algos) : hashFd(fd, algos);
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
