// dist/ as compiled from src/: the fixture build imports dist/cargo.js, and the tests' child
// processes and worker threads import dist/index.js. Compiled (the local typescript, as `npm run
// build` does) only when a source is newer than its output, so a no-op check costs a few stats.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function stale() {
  const src = join(root, 'src');
  const dist = join(root, 'dist');
  for (const name of readdirSync(src)) {
    if (!name.endsWith('.ts')) continue;
    const out = join(dist, name.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(src, name)).mtimeMs) return true;
  }
  return false;
}

/** Compiles src/ into dist/ when stale; `who` names the caller in messages. Throws when dist/ stays stale. */
export function freshDist(who) {
  if (!stale()) return;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) throw new Error(`${who}: dist/ is missing or older than src/, and ${tsc} is not installed (npm install)`);
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  // tsc still emits on type errors; those are reported by `npm test`'s own typecheck.
  if (r.status !== 0) process.stderr.write(`${who}: tsc -p tsconfig.build.json reported errors:\n${r.stdout}${r.stderr}`);
  if (stale()) throw new Error(`${who}: tsc -p tsconfig.build.json left dist/ older than src/`);
}
