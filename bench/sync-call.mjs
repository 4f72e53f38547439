// 1. Sync call overhead: rustplug's validating wrapper `lib.symbols.add(i, 1)` against koffi called
// directly on the same function (`koffi.load(path).func('int32_t add(int32_t, int32_t)')`), in the
// same process, interleaved rounds. Target: wrapper ≤ 1.10× raw koffi.
import koffi from 'koffi';

import { open } from '../dist/index.js';
import { fixtures, fmt, interleaved, main, now, perOp, ratios, requireFixtures, summary, target } from './common.mjs';

export async function run({ rounds = 61, calls = 100_000 } = {}) {
  requireFixtures();
  const lib = open(fixtures.basic, { add: { parameters: ['i32', 'i32'], result: 'i32' } });
  const wrapped = lib.symbols.add;
  const raw = koffi.load(fixtures.basic).func('int32_t add(int32_t, int32_t)');

  let sink = 0;
  // Same loop shape for both; the result feeds a sink so nothing is dead code.
  const loopWrapped = (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = (s + wrapped(i, 1)) | 0;
    return s;
  };
  const loopRaw = (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = (s + raw(i, 1)) | 0;
    return s;
  };
  if (loopWrapped(1000) !== loopRaw(1000)) throw new Error('sync-call: the two paths disagree');

  const samples = await interleaved(
    {
      wrapped: async () => {
        const t0 = now();
        sink ^= loopWrapped(calls);
        return perOp(t0, calls);
      },
      raw: async () => {
        const t0 = now();
        sink ^= loopRaw(calls);
        return perOp(t0, calls);
      },
    },
    { rounds, warmup: 3 },
  );
  lib.close();

  const w = summary(samples.wrapped);
  const r = summary(samples.raw);
  const ratio = summary(ratios(samples.wrapped, samples.raw));
  return {
    name: 'sync-call',
    title: `Sync call: add(i, 1), ${rounds} interleaved rounds × ${calls.toLocaleString('en-US')} calls (median [q1–q3])`,
    rows: [
      { label: 'rustplug lib.symbols.add', value: fmt(w, ' ns/call', 1) },
      { label: "koffi.load().func('int32_t add(...)')", value: fmt(r, ' ns/call', 1) },
      { label: 'ratio wrapper / raw koffi', value: fmt(ratio, '×', 3) },
    ],
    figures: { wrappedNs: w, rawNs: r, ratio, sink },
    table: [
      {
        measure: 'Sync call `add(i, 1)`',
        short: 'sync call',
        rustplug: `${w.median.toFixed(1)} ns`,
        baseline: `koffi \`.func()\` direct: ${r.median.toFixed(1)} ns`,
        ratio: `${ratio.median.toFixed(2)}× [${ratio.q1.toFixed(2)}–${ratio.q3.toFixed(2)}]`,
      },
    ],
    targets: [target('wrapper ≤ 1.10× raw koffi', '≤ 1.10×', `${ratio.median.toFixed(3)}×`, ratio.median <= 1.1)],
  };
}

await main(import.meta.url, run);
