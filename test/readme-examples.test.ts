// The README's examples work when copied: every ```rust, ```toml and runnable ```js block is
// tagged `example=<name> file=<path>`; each example is written out as a crate next to a
// `rustplug` checkout (a symlink to this repository), built with cargo, and its main.mjs run with
// node, which must print what the block's `// …` comments say.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { REPO } from './helpers/plugins.js';

interface Block {
  lang: string;
  example: string | null;
  file: string | null;
  body: string;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const re = /^```(\S*)([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let m; (m = re.exec(markdown)); ) {
    const attrs = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\S+)/g)].map((a) => [a[1], a[2]]));
    out.push({ lang: m[1]!, example: attrs.example ?? null, file: attrs.file ?? null, body: m[3]! });
  }
  return out;
}

const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
const all = blocks(readme);
// Built under the repository (ignored by git), outside rust-fixtures' Cargo workspace, so cargo
// reuses the build from one run to the next.
const root = join(REPO, 'target', 'readme-examples');

/** Writes `path` only when its content changed (cargo rebuilds on mtime). */
function put(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  writeFileSync(path, text);
}

function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path)) symlinkSync(target, path);
}

describe('README examples', () => {
  it('every Rust and TOML block belongs to an example with a file', () => {
    const untagged = all.filter((b) => (b.lang === 'rust' || b.lang === 'toml') && (b.example === null || b.file === null));
    expect(untagged.map((b) => b.body.split('\n')[0])).toEqual([]);
    expect(new Set(all.filter((b) => b.example !== null).map((b) => b.example))).toEqual(new Set(['tick']));
  });

  it('tick: the crate builds with cargo and main.mjs prints what its comments say', () => {
    const files = all.filter((b) => b.example === 'tick');
    expect(files.map((b) => b.file).sort()).toEqual(['Cargo.toml', 'build.rs', 'main.mjs', 'src/lib.rs']);
    const crate = join(root, 'tick-plugin');
    for (const b of files) put(join(crate, b.file!), b.body);
    // `../rustplug` is this checkout; `import 'rustplug'` resolves to it; crates come from
    // Debian's sources offline, as for the fixtures.
    link(REPO, join(root, 'rustplug'));
    link(REPO, join(root, 'node_modules', 'rustplug'));
    put(join(root, '.cargo', 'config.toml'), readFileSync(join(REPO, 'rust-fixtures', '.cargo', 'config.toml'), 'utf8'));
    const env = { ...process.env };
    for (const k of ['CARGO_TARGET_DIR', 'CARGO_BUILD_TARGET_DIR', 'CARGO_BUILD_TARGET', 'RUSTFLAGS']) delete env[k];
    const build = spawnSync('cargo', ['build', '--release', '--offline'], { cwd: crate, env, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);

    const main = files.find((b) => b.file === 'main.mjs')!.body;
    const expected = [...main.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!);
    const out = execFileSync(process.execPath, ['main.mjs'], { cwd: crate, encoding: 'utf8', env: { ...process.env, RUST_BACKTRACE: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out.trimEnd().split('\n')).toEqual(expected);
  }, 300_000);
});
