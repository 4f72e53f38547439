import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { InsecurePluginError, IntegrityError, IntegrityOptionError, PluginNotFoundError } from '../src/errors.js';
import { checkIntegrity, formatIntegrity, hashFile, parseIntegrity, sriOf } from '../src/integrity.js';
import { checkPermissions } from '../src/permissions.js';
import { makeTempDir } from './helpers/elf-fixtures.js';
import { thrown } from './helpers/plugins.js';


let dir: string;
let file: string;
let big: string;
const content = Buffer.from('hello rustplug\n');
const digest = (algo: string, data: Buffer) => createHash(algo).update(data).digest();

beforeAll(() => {
  dir = makeTempDir();
  file = join(dir, 'data.bin');
  writeFileSync(file, content);
  big = join(dir, 'big.bin');
  // Larger than the 64 KiB read buffer, not a multiple of it.
  const b = Buffer.alloc(200_003);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
  writeFileSync(big, b);
});

describe('sriOf / hashFile', () => {
  it('matches node:crypto and sha256sum', () => {
    expect(sriOf(file)).toBe(`sha256-${digest('sha256', content).toString('base64')}`);
    expect(sriOf(file, 'sha384')).toBe(`sha384-${digest('sha384', content).toString('base64')}`);
    expect(sriOf(file, 'sha512')).toBe(`sha512-${digest('sha512', content).toString('base64')}`);
    const sum = execFileSync('sha256sum', [big], { encoding: 'utf8' }).split(' ')[0];
    expect(hashFile(big, ['sha256']).sha256.toString('hex')).toBe(sum);
  });

  it('hashes several algorithms in one pass', () => {
    const h = hashFile(big, ['sha256', 'sha512']);
    expect(Object.keys(h).sort()).toEqual(['sha256', 'sha512']);
    expect(h.sha512.length).toBe(64);
  });

  it('missing file and directory are PluginNotFoundErrors', () => {
    expect(thrown(() => sriOf(join(dir, 'nope')))).toMatchObject({ code: 'ERR_PLUGIN_NOT_FOUND' });
    expect(thrown(() => sriOf(dir))).toBeInstanceOf(PluginNotFoundError);
    expect(thrown(() => sriOf(dir))).toMatchObject({ code: 'ERR_PLUGIN_NOT_A_FILE' });
  });
});

describe('parseIntegrity', () => {
  const d256 = digest('sha256', content);

  it('accepts SRI and hex forms', () => {
    expect(parseIntegrity(`sha256-${d256.toString('base64')}`)).toEqual([
      { algorithm: 'sha256', digest: d256, form: 'sri', text: `sha256-${d256.toString('base64')}` },
    ]);
    expect(parseIntegrity(`sha256:${d256.toString('hex').toUpperCase()}`)[0]).toMatchObject({ algorithm: 'sha256', digest: d256, form: 'hex' });
    // Unpadded base64 and an SRI option suffix are fine; several tokens are allowed.
    const unpadded = d256.toString('base64').replace(/=+$/, '');
    expect(parseIntegrity(`sha256-${unpadded}?foo  sha512-${digest('sha512', content).toString('base64')}`)).toHaveLength(2);
  });

  it.each([
    ['', 'it is empty'],
    ['md5-1B2M2Y8AsgTpgAmY7PhCfg==', "unsupported hash algorithm 'md5'"],
    ['sha256-abc', 'a sha256 digest is 32 bytes (44 base64 characters)'],
    ['sha256:abcd', 'a sha256 digest has 64 hex digits, this one has 4'],
    [`sha384-${digest('sha256', content).toString('base64')}`, 'a sha384 digest is 48 bytes'],
    ['sha256_deadbeef', "'sha256_deadbeef' is neither"],
  ])('rejects %j', (value, why) => {
    const e = thrown(() => parseIntegrity(value)) as IntegrityOptionError;
    expect(e).toBeInstanceOf(IntegrityOptionError);
    expect(e.code).toBe('ERR_PLUGIN_BAD_INTEGRITY');
    expect(e.message).toContain(why);
    expect(e.message).toContain('npx rustplug sri <file>');
  });

  it('rejects a non-string', () => {
    expect(thrown(() => parseIntegrity(42))).toMatchObject({ code: 'ERR_PLUGIN_BAD_INTEGRITY', message: expect.stringContaining('must be a string, not number') });
  });
});

describe('checkIntegrity', () => {
  it('passes on a match and returns the sha256', () => {
    expect(checkIntegrity(file, sriOf(file))).toEqual({ sha256: digest('sha256', content).toString('hex') });
    expect(checkIntegrity(file, sriOf(file, 'sha512')).sha256).toBe(digest('sha256', content).toString('hex'));
  });

  it('reports a mismatch in the form it was given', () => {
    const other = sriOf(big);
    const e = thrown(() => checkIntegrity(file, other)) as IntegrityError;
    expect(e).toBeInstanceOf(IntegrityError);
    expect(e.code).toBe('ERR_PLUGIN_INTEGRITY');
    expect(e.expected).toBe(other);
    expect(e.actual).toBe(sriOf(file));
    expect(e.path).toBe(file);
    expect(e.message).toContain(`expected ${other}, but the file hashes to ${sriOf(file)}`);
    expect(e.message).toContain(`npx rustplug sri ${file}`);
    const hex = `sha256:${digest('sha256', Buffer.from('x')).toString('hex')}`;
    const h = thrown(() => checkIntegrity(file, hex)) as IntegrityError;
    expect(h.expected).toBe(hex);
    expect(h.actual).toBe(formatIntegrity('sha256', digest('sha256', content), 'hex'));
  });

  it('with several hashes, only the strongest algorithm counts', () => {
    const good256 = sriOf(file);
    const bad512 = sriOf(big, 'sha512');
    expect(thrown(() => checkIntegrity(file, `${good256} ${bad512}`))).toBeInstanceOf(IntegrityError);
    expect(checkIntegrity(file, `${bad512} ${sriOf(file, 'sha512')}`).sha256).toHaveLength(64);
  });
});

describe('checkPermissions', () => {
  it('accepts 0644 and 0755 files in 0700/0755 directories', () => {
    const d = makeTempDir();
    const f = join(d, 'ok.so');
    writeFileSync(f, 'x');
    chmodSync(f, 0o644);
    expect(() => checkPermissions(f)).not.toThrow();
    chmodSync(d, 0o755);
    chmodSync(f, 0o755);
    expect(() => checkPermissions(f)).not.toThrow();
  });

  it('refuses other-writable files and directories, naming the path and the fix', () => {
    const d = makeTempDir();
    const sub = join(d, 'sub');
    mkdirSync(sub);
    const f = join(sub, 'p.so');
    writeFileSync(f, 'x');
    chmodSync(f, 0o602);
    const e = thrown(() => checkPermissions(f)) as InsecurePluginError;
    expect(e).toBeInstanceOf(InsecurePluginError);
    expect(e.message).toBe(
      `refusing to load ${f}: the file is writable by all users (mode 0602), so another user could replace code that would run inside this process. Fix: chmod go-w ${f}; or, if this is intended, pass { allowInsecure: true } to skip this check`,
    );
    chmodSync(f, 0o644);
    chmodSync(sub, 0o757);
    const de = thrown(() => checkPermissions(f)) as InsecurePluginError;
    expect(de.path).toBe(f);
    expect(de.message).toContain(`the directory ${sub} is writable by all users without the sticky bit (mode 0757)`);
    expect(de.message).toContain(`Fix: chmod go-w ${sub} (or chmod +t ${sub})`);
    chmodSync(sub, 0o1757);
    expect(() => checkPermissions(f)).not.toThrow();
  });

  it('checks the real path, not the directory of a symlink', () => {
    const d = makeTempDir();
    const open = join(d, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const safe = join(d, 'safe');
    mkdirSync(safe);
    const f = join(safe, 'p.so');
    writeFileSync(f, 'x');
    symlinkSync(f, join(open, 'link.so'));
    expect(() => checkPermissions(f)).not.toThrow();
    // The caller passes the real path; for the symlink's own directory it would refuse.
    expect(thrown(() => checkPermissions(join(open, 'link.so')))).toBeInstanceOf(InsecurePluginError);
  });
});
