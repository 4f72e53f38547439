// Vitest global setup: child processes and worker threads in the future tests import dist/, so
// compile src/ into dist/ first when any source is newer than its output.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { repoRoot } from './helpers/elf-fixtures.js';

function stale(): boolean {
  const src = join(repoRoot, 'src');
  const dist = join(repoRoot, 'dist');
  for (const name of readdirSync(src)) {
    if (!name.endsWith('.ts')) continue;
    const out = join(dist, name.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(src, name)).mtimeMs) return true;
  }
  return false;
}

export default function setup(): void {
  if (!stale()) return;
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: repoRoot, encoding: 'utf8' });
  // tsc still emits on type errors; those are reported by `npm test`'s own typecheck.
  if (r.status !== 0) process.stderr.write(`global-setup: tsc -p tsconfig.build.json reported errors:\n${r.stdout}${r.stderr}`);
  if (!existsSync(join(repoRoot, 'dist', 'index.js'))) throw new Error('global-setup: dist/index.js was not built');
}
