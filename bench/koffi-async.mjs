// 2d. koffi's own asynchronous call (`.async`, run on libuv's thread pool) of a trivial function,
// wrapped in a promise, as the peer of rustplug's futures: `add` through koffi's .async against
// awaiting a Ready future (`ready_u64`) and a future woken from a plugin thread (`remote_u64`).
// Sequential awaits, each one a sample of its own (mitata without batching); the median of each
// round, interleaved rounds, ratios round by round. Figures only (no target). Like future-wake,
// bench/run.mjs runs it on one CPU and on all CPUs (cross-thread wakes on a VM; see future-wake.mjs).
import koffi from 'koffi';

import { open } from '../dist/index.js';
import { cpuLabel, fixtures, fmt, formatNumber, interleaved, latencies, main, perRound, ratios, requireFixtures, summary } from './common.mjs';

export async function run({ rounds = 21, calls = 500 } = {}) {
  requireFixtures();
  const add = koffi.load(fixtures.basic).func('int32_t add(int32_t, int32_t)');
  const addAsync = (i) => new Promise((resolve, reject) => add.async(i, 1, (err, v) => (err ? reject(err) : resolve(v))));
  const lib = open(fixtures.asyncPlugin, {
    ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
    remote_u64: { parameters: ['u64'], result: { future: 'u64' } },
  });
  const { ready_u64, remote_u64 } = lib.symbols;
  const ready = (i) => ready_u64(i + 1);
  const remote = (i) => remote_u64(i + 1);
  for (let i = 0; i < 100; i++) {
    const [k, r, w] = [await addAsync(i), await ready(i), await remote(i)];
    if (k !== i + 1 || r !== i + 1 || w !== i + 1) throw new Error('koffi-async: wrong values');
  }

  let i = 0;
  const each = (op) => () => latencies(() => op(i++ & 0xffff), calls);
  const samples = await interleaved({ koffi: each(addAsync), ready: each(ready), remote: each(remote) }, { rounds, warmup: 2 });
  lib.close();

  const kr = perRound(samples.koffi, 0.5);
  const rr = perRound(samples.ready, 0.5);
  const wr = perRound(samples.remote, 0.5);
  const k = summary(kr);
  const r = summary(rr);
  const w = summary(wr);
  const kReady = summary(ratios(kr, rr));
  const kRemote = summary(ratios(kr, wr));
  const cpus = cpuLabel();
  return {
    name: 'koffi-async',
    title: `koffi .async peer (${cpus}): sequential awaits, ${rounds} interleaved rounds × ${calls.toLocaleString('en-US')}, median of each round (median [q1–q3] over rounds)`,
    rows: [
      { label: 'await koffi add.async(i, 1) (thread pool)', value: fmt(k, ' ns/call') },
      { label: 'await ready_u64(i) (Ready at once)', value: fmt(r, ' ns/call') },
      { label: 'await remote_u64(i) (woken by a plugin thread)', value: fmt(w, ' ns/call') },
      { label: 'koffi.async / Ready future', value: fmt(kReady, '×', 1) },
      { label: 'koffi.async / woken future', value: fmt(kRemote, '×', 2) },
    ],
    table: [
      {
        measure: `koffi \`.async\` call of \`add\` (peer), ${cpus}`,
        short: `koffi .async, ${cpus}`,
        rustplug: `Ready ${formatNumber(r.median)} ns; woken ${formatNumber(w.median)} ns`,
        baseline: `koffi \`.async\`: ${formatNumber(k.median)} ns`,
        ratio: `koffi / Ready ${kReady.median.toFixed(1)}×; koffi / woken ${kRemote.median.toFixed(2)}×`,
      },
    ],
    figures: { koffiNs: k, readyNs: r, remoteNs: w, koffiOverReady: kReady, koffiOverRemote: kRemote },
    targets: [],
  };
}

await main(import.meta.url, run);
