// 2a. Awaiting a future that is Ready at the first poll (`ready_u64`, `ready_u32`, declared
// `{ future: 'u64' }` / `{ future: 'u32' }`) against `await Promise.resolve(x)` in the same loop
// shape, interleaved rounds. Targets: < 1 µs per await and ≤ 10× the baseline. On the 2-vCPU VM
// these figures were taken on, absolute times vary up to ~1.8× from one run to the next (pinned or
// not; koffi's call and the baseline alike); compare within a run.
import { open } from '../dist/index.js';
import { fixtures, fmt, formatNumber, interleaved, main, now, perOp, ratios, requireFixtures, summary, target } from './common.mjs';

export async function run({ rounds = 31, awaits = 20_000 } = {}) {
  requireFixtures();
  const lib = open(fixtures.asyncPlugin, {
    ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
    ready_u32: { parameters: ['u32'], result: { future: 'u32' } },
  });
  const { ready_u64, ready_u32 } = lib.symbols;

  let sink = 0;
  const loopU64 = async (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += await ready_u64(i);
    return s;
  };
  const loopU32 = async (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += await ready_u32(i);
    return s;
  };
  const loopBaseline = async (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += await Promise.resolve(i);
    return s;
  };
  const expect = await loopBaseline(1000);
  if ((await loopU64(1000)) !== expect || (await loopU32(1000)) !== expect) throw new Error('future-ready: wrong values');

  const timed = (loop) => async () => {
    const t0 = now();
    sink += await loop(awaits);
    return perOp(t0, awaits);
  };
  const samples = await interleaved(
    { u64: timed(loopU64), u32: timed(loopU32), baseline: timed(loopBaseline) },
    { rounds, warmup: 3 },
  );
  lib.close();

  const u64 = summary(samples.u64);
  const u32 = summary(samples.u32);
  const base = summary(samples.baseline);
  const r64 = summary(ratios(samples.u64, samples.baseline));
  const r32 = summary(ratios(samples.u32, samples.baseline));
  return {
    name: 'future-ready',
    title: `Ready future: await f(i), ${rounds} interleaved rounds × ${awaits.toLocaleString('en-US')} sequential awaits (median [q1–q3])`,
    rows: [
      { label: 'await ready_u64(i)', value: fmt(u64, ' ns/await') },
      { label: 'await ready_u32(i)', value: fmt(u32, ' ns/await') },
      { label: 'await Promise.resolve(i)', value: fmt(base, ' ns/await') },
      { label: 'ratio ready_u64 / Promise.resolve', value: fmt(r64, '×', 1) },
      { label: 'ratio ready_u32 / Promise.resolve', value: fmt(r32, '×', 1) },
    ],
    figures: { u64Ns: u64, u32Ns: u32, baselineNs: base, ratioU64: r64, ratioU32: r32, sink },
    table: [
      {
        measure: 'Await a Ready future `ready_u64` (`ready_u32`)',
        short: 'ready future',
        rustplug: `${formatNumber(u64.median)} ns (${formatNumber(u32.median)} ns)`,
        baseline: `\`await Promise.resolve(i)\`: ${formatNumber(base.median)} ns`,
        ratio: `${r64.median.toFixed(1)}× [${r64.q1.toFixed(1)}–${r64.q3.toFixed(1)}]`,
      },
    ],
    targets: [
      target('< 1 µs per await (ready_u64)', '< 1000 ns', `${u64.median.toFixed(0)} ns`, u64.median < 1000),
      target('≤ 10× await Promise.resolve (ready_u64)', '≤ 10×', `${r64.median.toFixed(1)}×`, r64.median <= 10),
    ],
  };
}

await main(import.meta.url, run);
