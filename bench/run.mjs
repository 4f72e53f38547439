#!/usr/bin/env node
// Runs every benchmark, each in its own `node --expose-gc` process (so one benchmark's heap or
// threads cannot skew another's), and prints a compact table. Figures are ratios against a baseline
// measured in the same process; nothing here fails on a figure (a benchmark measures, a test
// asserts). Exit code 1 only when a benchmark could not run.
//
//   node --expose-gc bench/run.mjs [--only sync-call,future-wake] [--write]
//   npm run bench [-- --write]
//
// --write puts the summary table into README.md between `<!-- bench:start -->` and
// `<!-- bench:end -->`, or into bench/RESULTS.md when README.md has no such markers.
// dist/ is rebuilt first (tsc -p tsconfig.build.json) when it is missing or older than src/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { printResult, root } from './common.mjs';
import { buildEnv, nodeDir, nodeGypCommand } from '../scripts/node-toolchain.mjs';

const BENCHES = ['sync-call', 'future-ready', 'future-wake', 'future-many', 'koffi-async'];
// Benchmarks whose figures are cross-thread wake latencies run twice: pinned to CPU 0 with taskset
// (the paths' own costs; see future-wake.mjs for why) and on all CPUs.
const PINNED = new Set(['future-wake', 'koffi-async']);

const args = process.argv.slice(2);
const write = args.includes('--write');
const onlyArg = args.find((a) => a.startsWith('--only'));
const only = onlyArg ? (onlyArg.includes('=') ? onlyArg.split('=')[1] : args[args.indexOf(onlyArg) + 1]).split(',') : BENCHES;
for (const name of only) {
  if (!BENCHES.includes(name)) {
    console.error(`bench: unknown benchmark '${name}' (one of ${BENCHES.join(', ')})`);
    process.exit(2);
  }
}

// ---- prerequisites ----------------------------------------------------------------------------
const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

function ensureDist() {
  const src = join(root, 'src');
  const stale = [];
  for (const f of readdirSync(src)) {
    if (!f.endsWith('.ts') || f.endsWith('.d.ts')) continue;
    const out = join(root, 'dist', f.replace(/\.ts$/, '.js'));
    if (mtime(out) < mtime(join(src, f))) stale.push(f);
  }
  const configs = ['tsconfig.json', 'tsconfig.build.json'].map((f) => mtime(join(root, f)));
  const index = mtime(join(root, 'dist', 'index.js'));
  if (stale.length === 0 && index >= Math.max(...configs)) return;
  console.log(`bench: building dist/ (${index < 0 ? 'missing' : `stale: ${stale.join(', ') || 'tsconfig'}`})`);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    // tsc still emits on type errors; measure what it emitted, but say so.
    if (mtime(join(root, 'dist', 'index.js')) < 0) {
      console.error('bench: tsc failed and produced no dist/index.js');
      process.exit(1);
    }
    console.warn('bench: tsc reported errors (see above); benchmarking the emitted dist/ anyway');
  }
}

ensureDist();
if (!existsSync(join(root, 'build', 'Release', 'rustplug.node'))) {
  console.error('bench: the native addon is not built (build/Release/rustplug.node): run `npm install` or `npm run build`');
  process.exit(1);
}

// The ping-pong baseline lives in its own addon (bench/native/), never in the shipped one. Built
// like the addon: npm's node-gyp with this Node's own headers (scripts/node-toolchain.mjs).
function ensureBenchAddon() {
  const out = join(root, 'bench', 'native', 'build', 'Release', 'rustplug_bench.node');
  const src = join(root, 'bench', 'native', 'pingpong.cc');
  if (mtime(out) >= mtime(src)) return;
  console.log('bench: building the benchmark-only addon (bench/native)');
  const [cmd, gyp] = nodeGypCommand();
  const prefix = nodeDir();
  const r = spawnSync(cmd, [gyp, 'rebuild', `--nodedir=${prefix}`, '-C', join(root, 'bench', 'native')], { cwd: root, stdio: 'inherit', env: buildEnv(prefix) });
  if (r.status !== 0) {
    console.error('bench: could not build bench/native (node-gyp); the wake benchmarks need it');
    process.exit(1);
  }
}
ensureBenchAddon();

// ---- run ----------------------------------------------------------------------------------------
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
if (!hasTaskset) console.warn('bench: taskset (util-linux) is not available: the pinned (1 CPU) runs are skipped');
const runs = only.flatMap((name) => (PINNED.has(name) && hasTaskset ? [{ name, pin: '0' }, { name }] : [{ name }]));

const results = [];
let failed = false;
const started = Date.now();
for (const { name, pin } of runs) {
  const t0 = Date.now();
  const node = [process.execPath, '--expose-gc', join(root, 'bench', `${name}.mjs`), '--json'];
  const [cmd, ...cmdArgs] = pin === undefined ? node : ['taskset', '-c', pin, ...node];
  const r = spawnSync(cmd, cmdArgs, {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
    timeout: 5 * 60 * 1000,
  });
  const line = (r.stdout ?? '').trim().split('\n').filter(Boolean).pop();
  let result;
  try {
    result = r.status === 0 && line ? JSON.parse(line) : undefined;
  } catch {
    result = undefined;
  }
  if (!result) {
    failed = true;
    console.error(`\nbench: ${name}${pin === undefined ? '' : ` (pinned to CPU ${pin})`} failed (exit ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''})`);
    if (r.stdout) console.error(r.stdout);
    continue;
  }
  printResult(result);
  console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  results.push(result);
}

// ---- summary --------------------------------------------------------------------------------------
const machine = `${cpus().length} cores (${cpus()[0]?.model?.trim() ?? 'unknown CPU'}), Linux, Node ${process.version}`;
const rows = results.flatMap((r) => r.table ?? []);
const targets = results.flatMap((r) => r.targets ?? []);

function textTable(header, body) {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

const plain = (s) => s.replace(/`/g, '');
console.log(`\nSummary — ${machine}, ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(textTable(['', 'rustplug', 'baseline', 'ratio'], rows.map((r) => [r.short ?? r.measure, r.rustplug, r.baseline, r.ratio].map(plain))));
if (targets.length) {
  console.log('');
  console.log(textTable(['target', 'goal', 'measured', ''], targets.map((t) => [t.name, t.goal, t.value, t.met ? 'met' : 'NOT met'])));
}

if (write && results.length) {
  const md = [
    `Measured with \`npm run bench -- --write\` on ${machine}.`,
    'Medians over interleaved rounds, baselines in the same process; brackets hold the interquartile',
    'range of the per-round ratios (benchmark sources: `bench/`). Cross-thread',
    'wakes are measured pinned to one CPU (`taskset -c 0`: the paths\' own costs) and on both CPUs',
    '(on this VM a wake that crosses to a halted vCPU costs tens of µs, varying between rounds).',
    'Absolute times on this VM vary up to ~1.8× from run to run; compare within a row.',
    '',
    '| Measure | rustplug | Baseline | Ratio |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.measure} | ${r.rustplug} | ${r.baseline} | ${r.ratio} |`),
    '',
    '| Target | Goal | Measured | |',
    '|---|---|---|---|',
    ...targets.map((t) => `| ${t.name} | ${t.goal} | ${t.value} | ${t.met ? 'met' : 'not met'} |`),
  ].join('\n');
  const readme = join(root, 'README.md');
  const text = existsSync(readme) ? readFileSync(readme, 'utf8') : '';
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) {
    writeFileSync(readme, `${text.slice(0, i + start.length)}\n${md}\n${text.slice(j)}`);
    console.log('\nbench: wrote the table into README.md');
  } else {
    const out = join(root, 'bench', 'RESULTS.md');
    writeFileSync(out, `# Benchmark results\n\n${md}\n`);
    console.log(`\nbench: README.md has no ${start} … ${end} markers; wrote bench/RESULTS.md`);
  }
}

process.exit(failed ? 1 : 0);
