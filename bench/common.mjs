// Shared by the benchmarks: fixture paths, formatting, and the standalone entry point. A benchmark
// measures and reports; nothing here asserts or fails on a figure. The timing harness (mitata
// within interleaved rounds, and the statistics) is src/harness.ts, imported from dist/: the same
// code `rustplug bench` times a symbol with.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { quantile } from '../dist/harness.js';

export { awaitSample, callSample, callThunk, interleaved, latencies, mitataSample, quantile, ratios, summary } from '../dist/harness.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The benchmark-only addon (bench/native: the uv_async_send ping-pong baseline), built by run.mjs. */
export function benchAddon() {
  return createRequire(import.meta.url)('./native/build/Release/rustplug_bench.node');
}
// Where the fixture build put each library (rust-fixtures/target/fixtures.json), never a guess.
const builtMap = join(root, 'rust-fixtures', 'target', 'fixtures.json');
const built = existsSync(builtMap) ? JSON.parse(readFileSync(builtMap, 'utf8')) : {};
export const fixtures = {
  basic: built.basic,
  asyncPlugin: built.async_plugin,
};

export function requireFixtures() {
  for (const [name, p] of Object.entries(fixtures)) {
    if (typeof p !== 'string' || !existsSync(p)) throw new Error(`fixture ${name} is missing from ${builtMap}: run \`node scripts/build-fixtures.mjs\` (npm run bench does)`);
  }
}

/** The CPUs this process may run on, e.g. "0" when run.mjs pinned it with taskset, or "0-1". */
export function cpuList() {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** "1 CPU (0)" or "2 CPUs (0-1)". */
export function cpuLabel() {
  const list = cpuList();
  const n = list.split(',').reduce((acc, part) => {
    const [a, b] = part.split('-').map(Number);
    return acc + (Number.isFinite(b) ? b - a + 1 : 1);
  }, 0);
  return `${n} CPU${n === 1 ? '' : 's'}`;
}

/** Full collection between timed segments when node runs with --expose-gc (npm run bench does). */
export const gc = typeof globalThis.gc === 'function' ? () => globalThis.gc() : () => {};

/** The q-quantile of each round's sorted latencies (harness.latencies). */
export const perRound = (rounds, q) => rounds.map((r) => quantile(r, q));

/** A figure with its spread: "1.03× [1.01–1.06]". */
export function fmt(stat, unit = '', digits = 0) {
  const f = (x) => formatNumber(x, digits);
  return `${f(stat.median)}${unit} [${f(stat.q1)}–${f(stat.q3)}]`;
}

export function formatNumber(x, digits = 0) {
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A target line: { target, value, met } with `value` already formatted. */
export const target = (name, goal, value, met) => ({ name, goal, value, met });

/** A libuv handle that keeps the loop alive while a benchmark awaits unref'd work (benchPing). */
export function keepAlive() {
  const t = setInterval(() => {}, 1 << 30);
  return () => clearInterval(t);
}

/** Standalone use: `node --expose-gc bench/x.mjs [--json]` runs that benchmark alone. */
export async function main(metaUrl, run) {
  if (process.argv[1] === undefined || pathToFileURL(process.argv[1]).href !== metaUrl) return;
  const result = await run();
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    printResult(result);
  }
}

export function printResult(result) {
  console.log(`\n${result.title}`);
  const w = Math.max(...result.rows.map((r) => r.label.length));
  for (const r of result.rows) console.log(`  ${r.label.padEnd(w)}  ${r.value}`);
  for (const t of result.targets ?? []) console.log(`  target ${t.name}: ${t.goal} → ${t.value} ${t.met ? 'MET' : 'NOT MET'}`);
  for (const n of result.notes ?? []) console.log(`  note: ${n}`);
}

/** A ratio with its spread for a table cell: "1.03× [1.01–1.06]". */
export const ratioText = (s, digits = 2) => `${s.median.toFixed(digits)}× [${s.q1.toFixed(digits)}–${s.q3.toFixed(digits)}]`;
