// A Rust panic cannot unwind out of an `extern "C"` function: the process aborts. That is tested
// in a child node process (importing the built dist/); a panic caught inside the plugin is fine.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { open } from '../src/index.js';
import { PLUGINS, REPO, tempDir } from './helpers/plugins.js';

let dir: string;

beforeAll(() => {
  // The child imports the package as users do: the compiled dist/.
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'pipe' });
  expect(existsSync(join(REPO, 'dist', 'index.js'))).toBe(true);
  dir = tempDir();
}, 60_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `body` (an ES module importing { open } from the built package) in a child node; no core dumps. */
function runChild(name: string, body: string) {
  const script = join(dir, name);
  writeFileSync(script, `import { open } from ${JSON.stringify(pathToFileURL(join(REPO, 'dist', 'index.js')).href)};\n${body}\n`);
  return spawnSync('/bin/sh', ['-c', 'ulimit -c 0 && exec "$0" "$@"', process.execPath, script], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('panics', () => {
  it('a panic escaping an extern "C" fn aborts the process (SIGABRT) with the panic message', () => {
    const r = runChild(
      'panic.mjs',
      `const lib = open(${JSON.stringify(PLUGINS.basic)}, { panic_now: { parameters: [], result: 'void' } });
console.log('before');
lib.symbols.panic_now();
console.log('after: must not print');`,
    );
    expect(r.error).toBeUndefined();
    expect(r.stdout).toBe('before\n');
    expect(r.signal).toBe('SIGABRT');
    expect(r.status).toBe(null);
    expect(r.stderr).toContain('panic_now: this aborts the process');
    expect(r.stderr).toMatch(/panicked at/);
    expect(r.stderr).toMatch(/cannot unwind/);
  });

  it('the same child without the panic exits normally (the harness itself is sound)', () => {
    const r = runChild(
      'ok.mjs',
      `const lib = open(${JSON.stringify(PLUGINS.basic)}, { add: { parameters: ['i32', 'i32'], result: 'i32' } });
console.log(lib.symbols.add(2, 3));`,
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBe(null);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('5\n');
  });

  it('a panic caught inside the plugin returns -1 in-process and the plugin stays usable', () => {
    const lib = open(PLUGINS.basic, {
      caught_panic: { parameters: [], result: 'i32' },
      add: { parameters: ['i32', 'i32'], result: 'i32' },
    });
    expect(lib.symbols.caught_panic()).toBe(-1);
    expect(lib.symbols.caught_panic()).toBe(-1);
    expect(lib.symbols.add(1, 2)).toBe(3);
    lib.close();
  });
});
