// 1. Sync call overhead: rustplug's validating wrapper `lib.symbols.add(1, 2)` against koffi called
// directly on the same function (`koffi.load(path).func('int32_t add(int32_t, int32_t)')`), in the
// same process: mitata times each (the same thunk for both, as `rustplug bench` does), within
// interleaved rounds. Target: wrapper ≤ 1.10× raw koffi.
import koffi from 'koffi';

import { open } from '../dist/index.js';
import { callSample, callThunk, fixtures, fmt, interleaved, main, ratios, requireFixtures, summary, target } from './common.mjs';

export async function run({ rounds = 31, ms = 50 } = {}) {
  requireFixtures();
  const lib = open(fixtures.basic, { add: { parameters: ['i32', 'i32'], result: 'i32' } });
  const wrapped = lib.symbols.add;
  const raw = koffi.load(fixtures.basic).func('int32_t add(int32_t, int32_t)');
  if (wrapped(1, 2) !== 3 || raw(1, 2) !== 3) throw new Error('sync-call: the two paths disagree');

  const w = await callThunk(wrapped, [1, 2]);
  const k = await callThunk(raw, [1, 2]);
  const samples = await interleaved({ wrapped: () => callSample(w, ms), raw: () => callSample(k, ms) }, { rounds, warmup: 3 });
  lib.close();

  const wr = summary(samples.wrapped);
  const r = summary(samples.raw);
  const ratio = summary(ratios(samples.wrapped, samples.raw));
  return {
    name: 'sync-call',
    title: `Sync call: add(1, 2), mitata medians (≥ ${ms} ms each), ${rounds} interleaved rounds (median [q1–q3])`,
    rows: [
      { label: 'rustplug lib.symbols.add', value: fmt(wr, ' ns/call', 1) },
      { label: "koffi.load().func('int32_t add(...)')", value: fmt(r, ' ns/call', 1) },
      { label: 'ratio wrapper / raw koffi', value: fmt(ratio, '×', 3) },
    ],
    figures: { wrappedNs: wr, rawNs: r, ratio },
    table: [
      {
        measure: 'Sync call `add(1, 2)`',
        short: 'sync call',
        rustplug: `${wr.median.toFixed(1)} ns`,
        baseline: `koffi \`.func()\` direct: ${r.median.toFixed(1)} ns`,
        ratio: `${ratio.median.toFixed(2)}× [${ratio.q1.toFixed(2)}–${ratio.q3.toFixed(2)}]`,
      },
    ],
    targets: [target('wrapper ≤ 1.10× raw koffi', '≤ 1.10×', `${ratio.median.toFixed(3)}×`, ratio.median <= 1.1)],
  };
}

await main(import.meta.url, run);
