// 2a. Awaiting a future that is Ready at the first poll (`ready_u64`, `ready_u32`, declared
// `{ future: 'u64' }` / `{ future: 'u32' }`) against `await Promise.resolve(x)`: mitata times one
// call and one await per iteration for each (as `rustplug bench` times a future), within
// interleaved rounds. Targets: < 1 µs per await and ≤ 10× the baseline. On the 2-vCPU VM these
// figures were taken on, absolute times vary up to ~1.8× from one run to the next (pinned or not;
// koffi's call and the baseline alike); compare within a run.
import { open } from '../dist/index.js';
import { awaitSample, callThunk, fixtures, fmt, formatNumber, interleaved, main, ratios, requireFixtures, summary, target } from './common.mjs';

export async function run({ rounds = 31, ms = 50 } = {}) {
  requireFixtures();
  const lib = open(fixtures.asyncPlugin, {
    ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
    ready_u32: { parameters: ['u32'], result: { future: 'u32' } },
  });
  const { ready_u64, ready_u32 } = lib.symbols;

  if ((await ready_u64(7)) !== 7 || (await ready_u32(7)) !== 7) throw new Error('future-ready: wrong values');

  // Thunks whose Promise mitata awaits: the same shape for all three.
  const promise = (p) => p;
  const u64 = await callThunk(ready_u64, [7], promise);
  const u32 = await callThunk(ready_u32, [7], promise);
  const baseline = await callThunk((x) => Promise.resolve(x), [7], promise);
  const samples = await interleaved(
    { u64: () => awaitSample(u64, ms), u32: () => awaitSample(u32, ms), baseline: () => awaitSample(baseline, ms) },
    { rounds, warmup: 3 },
  );
  lib.close();

  const u64s = summary(samples.u64);
  const u32s = summary(samples.u32);
  const base = summary(samples.baseline);
  const r64 = summary(ratios(samples.u64, samples.baseline));
  const r32 = summary(ratios(samples.u32, samples.baseline));
  return {
    name: 'future-ready',
    title: `Ready future: await f(7), mitata medians (≥ ${ms} ms each), ${rounds} interleaved rounds (median [q1–q3])`,
    rows: [
      { label: 'await ready_u64(7)', value: fmt(u64s, ' ns/await') },
      { label: 'await ready_u32(7)', value: fmt(u32s, ' ns/await') },
      { label: 'await Promise.resolve(7)', value: fmt(base, ' ns/await') },
      { label: 'ratio ready_u64 / Promise.resolve', value: fmt(r64, '×', 1) },
      { label: 'ratio ready_u32 / Promise.resolve', value: fmt(r32, '×', 1) },
    ],
    figures: { u64Ns: u64s, u32Ns: u32s, baselineNs: base, ratioU64: r64, ratioU32: r32 },
    table: [
      {
        measure: 'Await a Ready future `ready_u64` (`ready_u32`)',
        short: 'ready future',
        rustplug: `${formatNumber(u64s.median)} ns (${formatNumber(u32s.median)} ns)`,
        baseline: `\`await Promise.resolve(x)\`: ${formatNumber(base.median)} ns`,
        ratio: `${r64.median.toFixed(1)}× [${r64.q1.toFixed(1)}–${r64.q3.toFixed(1)}]`,
      },
    ],
    targets: [
      target('< 1 µs per await (ready_u64)', '< 1000 ns', `${u64s.median.toFixed(0)} ns`, u64s.median < 1000),
      target('≤ 10× await Promise.resolve (ready_u64)', '≤ 10×', `${r64.median.toFixed(1)}×`, r64.median <= 10),
    ],
  };
}

await main(import.meta.url, run);
