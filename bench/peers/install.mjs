#!/usr/bin/env node
// Installs the peers bench/ compares rustplug with (bench/peers/package.json, exact versions) into
// bench/peers/node_modules, on demand: `npm run bench` calls this, `npm ci` of the repository never
// does (deno and bun are ~100 MB each; ffi-napi's install script fails to compile on Node 20, and
// its prebuilt binaries work).
//
//   node bench/peers/install.mjs [--force]
//
// `npm install --ignore-scripts --no-package-lock` (a lock file would list deno's platform packages,
// which npm does not record on Linux, and `npm ci` then refuses it), then the two postinstall
// scripts that are needed (bun's copies its platform binary into place; deno's checks its own). A
// peer that still does not work is reported by the benchmark that needs it, with the reason;
// nothing here fails the benchmark run.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const stamp = join(dir, '.installed');
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : -1);

export function peersInstalled() {
  return mtime(stamp) >= mtime(join(dir, 'package.json')) && existsSync(join(dir, 'node_modules'));
}

export function installPeers({ force = false, log = console.log } = {}) {
  if (!force && peersInstalled()) return { ok: true, skipped: true };
  log('bench: installing the peers into bench/peers/node_modules (npm install --ignore-scripts; deno and bun are ~100 MB each)');
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
  const r = spawnSync(npm[0], [...npm.slice(1), 'install', '--ignore-scripts', '--no-package-lock', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
  if (r.status !== 0) return { ok: false, reason: `npm install in bench/peers failed (exit ${r.status ?? r.signal}${r.error ? `: ${r.error.message}` : ''})` };
  const problems = [];
  for (const [pkg, script] of [
    ['bun', 'install.js'],
    ['deno', 'install.cjs'],
  ]) {
    const cwd = join(dir, 'node_modules', pkg);
    if (!existsSync(join(cwd, script))) continue;
    const p = spawnSync(process.execPath, [script], { cwd, stdio: 'inherit' });
    if (p.status !== 0) problems.push(`${pkg}'s ${script} failed (exit ${p.status ?? p.signal})`);
  }
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  return { ok: true, problems };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = installPeers({ force: process.argv.includes('--force') });
  if (!r.ok) {
    console.error(`bench: ${r.reason}`);
    process.exit(1);
  }
  for (const p of r.problems ?? []) console.warn(`bench: ${p}`);
}
