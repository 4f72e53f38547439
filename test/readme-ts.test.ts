// Every TypeScript block of the README, as a reader copies it: type-checked with tsc --strict
// against the built package (imported as 'rustplug'), then run with Node from the repository root
// (the examples open rust-fixtures/ by relative path). A block that throws or rejects fails.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readmeBlocks } from './helpers/readme-blocks.js';
// The examples open the fixtures by relative path: importing the map builds them when missing.
import './helpers/fixtures.js';
import { REPO, tempDir } from './helpers/plugins.js';

// A block that is a vitest file ('// file: examples/…' on its first line) is that file, which
// npm test runs; here it is only checked to be the file, word for word.
const FILE_BLOCK = /^\/\/ file: (examples\/\S+)/;
const all = readmeBlocks(['ts', 'typescript']);
const fileBlocks = all.filter((b) => FILE_BLOCK.test(b.code));
const blocks = all.filter((b) => !FILE_BLOCK.test(b.code));
let dir: string;

beforeAll(() => {
  dir = tempDir();
  // 'rustplug' resolves to this checkout (package.json exports -> dist/), as for an installed copy.
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(REPO, join(dir, 'node_modules', 'rustplug'));
  symlinkSync(join(REPO, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
  blocks.forEach((b, i) => writeFileSync(join(dir, `block${i}.mts`), b.code));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('the README has TypeScript examples', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(2);
});

it.each(fileBlocks.map((b) => [`README.md:${b.line}`, b] as const))('%s is the example file it names, word for word', (_, b) => {
  const [first, ...rest] = b.code.split('\n');
  const file = FILE_BLOCK.exec(first!)![1]!;
  expect(rest.join('\n')).toBe(readFileSync(join(REPO, file), 'utf8'));
});

it('every TypeScript block type-checks with tsc --strict (no `as const` anywhere)', () => {
  for (const b of blocks) expect(b.code, `README.md:${b.line}`).not.toContain('as const');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], skipLibCheck: true }, include: ['*.mts'] }),
  );
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
  // Name the README line of each error (blockN.mts -> the block's fence line).
  const text = `${r.stdout}${r.stderr}`.replace(/block(\d+)\.mts\((\d+),/g, (_, n, l) => `README.md:${blocks[Number(n)]!.line + Number(l)} (block ${n}, line ${l},`);
  expect(text).toBe('');
  expect(r.status).toBe(0);
}, 60_000);

describe('every TypeScript block runs', () => {
  it.each(blocks.map((b, i) => [`README.md:${b.line} (${b.heading})`, i] as const))('%s', (_, i) => {
    const js = ts.transpileModule(blocks[i]!.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const file = join(dir, `block${i}.mjs`);
    writeFileSync(file, js);
    // Run from the repository root; 'rustplug' is resolved from the block's own directory.
    const r = spawnSync(process.execPath, [file], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  });
});
