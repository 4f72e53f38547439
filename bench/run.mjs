#!/usr/bin/env node
// `npm run bench`: everything in one go, nothing here fails on a figure (a benchmark measures, a
// test asserts). Exit code 1 only when a benchmark could not run.
//
//  1. compare-sync / compare-async (bench/compare/): rustplug against raw koffi, a Node-API floor
//     addon, plain JS and the peers (ffi-rs, ffi-napi, Deno.dlopen, bun:ffi), every system in fresh
//     processes, interleaved rounds, timed by mitata; ratios to rustplug round by round;
//  2. memory (bench/compare/memory.mjs): per pending future at 100 000 and 1 000 000 in flight;
//  3. rustplug's own paths, each benchmark in its own `node --expose-gc` process, baselines in the
//     same process (sync-call, future-*, koffi-async, and issue 9's stream, callback-future,
//     void-callback); cross-thread ones run pinned to one CPU and on all CPUs.
//
//   node --expose-gc bench/run.mjs [--only compare-sync,stream] [--quick] [--no-peers] [--write]
//   npm run bench [-- --write]
//
// Results go to bench/results/ (latest.json, latest.md, sync.svg, async.svg). --write also puts
// the chart and tables into README.md between `<!-- bench:start -->` and `<!-- bench:end -->`.
// The peers are installed on demand into bench/peers/node_modules (bench/peers/install.mjs);
// --no-peers skips them. dist/ is rebuilt first (tsc -p tsconfig.build.json) when it is missing or
// older than src/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildEnv, nodeDir, nodeGypCommand } from '../scripts/node-toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const COMPARE = ['compare-sync', 'compare-async', 'memory'];
const DETAIL = ['sync-call', 'future-ready', 'future-wake', 'future-many', 'koffi-async', 'stream', 'callback-future', 'void-callback'];
const BENCHES = [...COMPARE, ...DETAIL];
// Benchmarks whose figures are cross-thread wake latencies run twice: pinned to CPU 0 with taskset
// (the paths' own costs; see future-wake.mjs for why) and on all CPUs.
const PINNED = new Set(['future-wake', 'koffi-async', 'stream', 'callback-future', 'void-callback']);

const args = process.argv.slice(2);
const write = args.includes('--write');
const quick = args.includes('--quick');
const noPeers = args.includes('--no-peers');
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
// Imported once dist/ is built: the harness the benchmarks time with is dist/harness.js.
const { printResult } = await import('./common.mjs');
const { SYSTEMS, runAsync, runMemory, runSync } = await import('./compare/run.mjs');
const { installPeers } = await import('./peers/install.mjs');
const { asyncChart, asyncTable, detailTable, memoryTable, notRun, syncChart, syncTable, targetsTable, versionsList } = await import('./report.mjs');

if (!existsSync(join(root, 'build', 'Release', 'rustplug.node'))) {
  console.error('bench: the native addon is not built (build/Release/rustplug.node): run `npm install` or `npm run build`');
  process.exit(1);
}

// The ping-pong baseline lives in its own addon (bench/native/), never in the shipped one. Built
// like the addon: npm's node-gyp with this Node's own headers (scripts/node-toolchain.mjs).
function ensureBenchAddon() {
  const out = join(root, 'bench', 'native', 'build', 'Release', 'rustplug_bench.node');
  const dir = join(root, 'bench', 'native');
  const newest = Math.max(...readdirSync(dir).filter((f) => /\.(cc|gyp)$/.test(f)).map((f) => mtime(join(dir, f))));
  if (mtime(out) >= newest) return;
  console.log('bench: building the benchmark-only addon (bench/native)');
  const [cmd, gyp] = nodeGypCommand();
  const prefix = nodeDir();
  const r = spawnSync(cmd, [gyp, 'rebuild', `--nodedir=${prefix}`, '-C', join(root, 'bench', 'native')], { cwd: root, stdio: 'inherit', env: buildEnv(prefix) });
  if (r.status !== 0) {
    console.error('bench: could not build bench/native (node-gyp); the floor and wake benchmarks need it');
    process.exit(1);
  }
}
ensureBenchAddon();

// ---- peers --------------------------------------------------------------------------------------
const peerSystems = Object.keys(SYSTEMS).filter((k) => SYSTEMS[k].peer);
let systems = Object.keys(SYSTEMS);
const peerProblems = {};
if (only.some((n) => n.startsWith('compare'))) {
  if (noPeers) {
    systems = systems.filter((s) => !SYSTEMS[s].peer);
    for (const p of peerSystems) peerProblems[p] = 'left out (--no-peers)';
  } else {
    const r = installPeers();
    if (!r.ok) {
      console.warn(`bench: ${r.reason}; the peers are left out`);
      systems = systems.filter((s) => !SYSTEMS[s].peer);
      for (const p of peerSystems) peerProblems[p] = r.reason;
    }
    for (const p of r.problems ?? []) console.warn(`bench: ${p}`);
  }
}

// ---- run ----------------------------------------------------------------------------------------
const started = Date.now();
const log = (m) => console.log(m);
const out = { date: new Date().toISOString(), machine: '', node: process.version, sync: undefined, async: undefined, memory: undefined, details: [] };
let failed = false;

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

if (only.includes('compare-sync')) {
  console.log(`\nbench: sync calls, every system in fresh processes${hasTaskset ? ', each pinned to CPU 0' : ''}`);
  out.sync = runSync({ rounds: quick ? 2 : 5, ms: quick ? 60 : 150, systems, log, pin: hasTaskset ? '0' : undefined });
  Object.assign(out.sync.failed, peerProblems);
}
if (only.includes('compare-async')) {
  console.log('\nbench: async calls, every system in fresh processes');
  out.async = runAsync({ rounds: quick ? 1 : 3, ms: quick ? 60 : 150, systems: systems.filter((s) => !SYSTEMS[s].async), log });
  Object.assign(out.async.failed, Object.fromEntries(Object.entries(peerProblems).filter(([s]) => !SYSTEMS[s].async)));
}
if (only.includes('memory')) {
  console.log('\nbench: memory per pending future');
  out.memory = runMemory({ counts: quick ? [100000] : [100000, 1000000], log });
}

const details = only.filter((n) => DETAIL.includes(n));
if (details.length && !hasTaskset) console.warn('bench: taskset (util-linux) is not available: the pinned (1 CPU) runs are skipped');
const runs = details.flatMap((name) => (PINNED.has(name) && hasTaskset ? [{ name, pin: '0' }, { name }] : [{ name }]));

const results = out.details;
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
out.machine = machine;
const rows = results.flatMap((r) => r.table ?? []);
const targets = results.flatMap((r) => r.targets ?? []);
// Issue 11's sync targets, judged in the comparison run: rustplug / raw koffi, round by round.
if (out.sync?.systems.includes('koffi')) {
  const sync = [];
  for (const [c, goal] of [
    ['add', 0.8],
    ['nop', 0.65],
  ]) {
    const cells = out.sync.rows.find((x) => x.lib === 'rust' && x.case === c)?.cells;
    const r = cells?.koffi?.ratio;
    if (!r) continue;
    // What Node-API itself allows: the floor addon's time over koffi's in the same run. A goal
    // below it cannot be met by any Node-API call path.
    const floor = cells.napi?.ns && cells.koffi.ns ? `; Node-API floor ${(cells.napi.ns.median / cells.koffi.ns.median).toFixed(2)}×` : '';
    sync.push({ name: `sync \`${c}\` ≤ ${goal.toFixed(2)}× raw koffi (fresh processes)`, goal: `≤ ${goal.toFixed(2)}×`, value: `${(1 / r.median).toFixed(2)}×${floor}`, met: 1 / r.median <= goal });
  }
  targets.unshift(...sync);
}
out.targets = targets;

function textTable(header, body) {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

const plain = (s) => s.replace(/`/g, '');
console.log(`\nSummary — ${machine}, ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (out.sync) console.log(`\n${plain(syncTable(out.sync, 'rust'))}`);
if (out.async) console.log(`\n${plain(asyncTable(out.async))}`);
if (out.memory) console.log(`\n${plain(memoryTable(out.memory))}`);
if (rows.length) console.log(`\n${textTable(['', 'rustplug', 'baseline', 'ratio'], rows.map((r) => [r.short ?? r.measure, r.rustplug, r.baseline, r.ratio].map(plain)))}`);
if (targets.length) {
  console.log('');
  console.log(textTable(['target', 'goal', 'measured', ''], targets.map((t) => [t.name, t.goal, t.value, t.met ? 'met' : 'NOT met'])));
}

// ---- results: JSON, Markdown, SVG -------------------------------------------------------------------
function markdown(imgDir) {
  const parts = [
    `Measured with \`npm run bench -- --write\` on ${machine}, ${out.date.slice(0, 10)}${out.sync || out.async ? `. Versions: ${versionsList(out)}` : ''}.`,
    'Every figure is a median over interleaved rounds with the interquartile range over rounds in',
    'brackets; every ratio is taken round by round against rustplug in the same run (benchmark',
    'sources: `bench/`; raw results: `bench/results/latest.json`). Absolute times on this shared VM',
    'vary up to ~1.8× between runs; compare within a row.',
  ];
  if (out.sync) {
    parts.push(
      '',
      `![Sync FFI calls, time per call by system](${imgDir}sync.svg)`,
      '',
      `**Sync calls** (each system in fresh processes${out.sync.pinned === undefined ? '' : ` pinned to CPU ${out.sync.pinned} (\`taskset\`: this VM's two vCPUs differ by up to 1.5× per call)`}, ${out.sync.rounds} interleaved rounds, mitata; cell: time per call · ratio to rustplug):`,
      '',
      syncTable(out.sync, 'rust'),
      '',
      syncTable(out.sync, 'c'),
    );
  }
  if (out.async) {
    parts.push(
      '',
      `![Async calls, time per call by system](${imgDir}async.svg)`,
      '',
      `**Async calls** (${out.async.rounds} interleaved rounds; time per call amortised over the calls in flight · ratio to rustplug's woken future):`,
      '',
      asyncTable(out.async),
    );
  }
  if (out.memory) parts.push('', '**Memory per pending future** (`never()`: Pending, holding one waker clone; dropped by `close()`):', '', memoryTable(out.memory));
  if (rows.length) {
    parts.push(
      '',
      "**rustplug's own paths**, each benchmark in one process with its baseline beside it (cross-thread",
      "wakes pinned to one CPU with `taskset -c 0`, the paths' own costs, and on both CPUs, where a wake",
      'that crosses to a halted vCPU costs tens of µs):',
      '',
      detailTable(results),
    );
  }
  if (targets.length) parts.push('', targetsTable(targets));
  const missing = notRun(out);
  if (missing.length) parts.push('', 'Not compared, and why:', '', ...missing);
  return parts.join('\n');
}

const resultsDir = join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(out, null, 1)}\n`);
writeFileSync(join(resultsDir, 'latest.md'), `# Benchmark results\n\n${markdown('')}\n`);
if (out.sync) writeFileSync(join(resultsDir, 'sync.svg'), syncChart(out));
if (out.async) writeFileSync(join(resultsDir, 'async.svg'), asyncChart(out));
console.log('\nbench: wrote bench/results/latest.json, latest.md' + (out.sync ? ', sync.svg' : '') + (out.async ? ', async.svg' : ''));

if (write && (results.length || out.sync || out.async)) {
  const md = markdown('bench/results/');
  const readme = join(root, 'README.md');
  const text = existsSync(readme) ? readFileSync(readme, 'utf8') : '';
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) {
    writeFileSync(readme, `${text.slice(0, i + start.length)}\n${md}\n${text.slice(j)}`);
    console.log('bench: wrote the chart and tables into README.md');
  } else {
    console.log(`bench: README.md has no ${start} … ${end} markers; see bench/results/latest.md`);
  }
}

process.exit(failed ? 1 : 0);
