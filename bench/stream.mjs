// Issue 9: items per second through a stream against the same items through one future each.
//  * ready at once: `naturals()` (an infinite FfiStream<u64>, every poll_next Ready) read with
//    `for await` until N items, then `break` (drops it), against N sequential `await ready_u64(i)`;
//  * woken: `remote_items(N)` (each item woken by remote_u64's persistent plugin thread: one
//    cross-thread wake per item) against N sequential `await remote_u64(i)`.
// mitata times one batch of N items per sample (median of its samples); interleaved rounds,
// ratios round by round. Figures only. bench/run.mjs runs it on one CPU and on all CPUs (the woken
// series are cross-thread wakes on a VM; see future-wake.mjs).
import { open } from '../dist/index.js';
import { cpuLabel, fixtures, fmt, formatNumber, interleaved, main, mitataSample, ratios, ratioText, requireFixtures, summary } from './common.mjs';

export async function run({ rounds = 15, items = 2_000 } = {}) {
  requireFixtures();
  const lib = open(fixtures.asyncPlugin, {
    naturals: { parameters: [], result: { stream: 'u64' } },
    remote_items: { parameters: ['u32'], result: { stream: 'u64' } },
    ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
    remote_u64: { parameters: ['u64'], result: { future: 'u64' } },
    streams_alive: { parameters: [], result: 'i64' },
  });
  const { naturals, remote_items, ready_u64, remote_u64, streams_alive } = lib.symbols;
  const expect = (items * (items - 1)) / 2;
  const checked = (f) => async () => {
    const s = await f();
    if (s !== expect) throw new Error(`stream: wrong sum ${s}`);
  };
  const streamReady = checked(async () => {
    let s = 0;
    let k = 0;
    for await (const v of naturals()) {
      s += v;
      if (++k === items) break;
    }
    return s;
  });
  const streamWoken = checked(async () => {
    let s = 0;
    for await (const v of remote_items(items)) s += v;
    return s;
  });
  const futuresReady = checked(async () => {
    let s = 0;
    for (let i = 0; i < items; i++) s += await ready_u64(i);
    return s;
  });
  const futuresWoken = checked(async () => {
    let s = 0;
    for (let i = 0; i < items; i++) s += await remote_u64(i);
    return s;
  });
  for (const f of [streamReady, streamWoken, futuresReady, futuresWoken]) await f();

  const opts = { min_samples: 5, min_cpu_time: 50e6 };
  const samples = await interleaved(
    {
      streamReady: () => mitataSample(streamReady, opts),
      futuresReady: () => mitataSample(futuresReady, opts),
      streamWoken: () => mitataSample(streamWoken, opts),
      futuresWoken: () => mitataSample(futuresWoken, opts),
    },
    { rounds, warmup: 1 },
  );
  const alive = Number(streams_alive());
  lib.close();

  const perSec = (ns) => ns.map((x) => (items * 1e9) / x);
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summary(perSec(v))]));
  // Items/s ratio stream / futures = time futures / time stream.
  const rReady = summary(ratios(samples.futuresReady, samples.streamReady));
  const rWoken = summary(ratios(samples.futuresWoken, samples.streamWoken));
  const k = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);
  const cpus = cpuLabel();
  return {
    name: 'stream',
    title: `Stream vs one future per item (${cpus}): ${items.toLocaleString('en-US')} items per sample, mitata medians, ${rounds} interleaved rounds (median [q1–q3])`,
    rows: [
      { label: 'for await naturals() (Ready items)', value: fmt(s.streamReady, ' items/s') },
      { label: 'await ready_u64(i) × N', value: fmt(s.futuresReady, ' items/s') },
      { label: 'stream / futures, Ready', value: fmt(rReady, '×', 2) },
      { label: 'for await remote_items(N) (woken items)', value: fmt(s.streamWoken, ' items/s') },
      { label: 'await remote_u64(i) × N', value: fmt(s.futuresWoken, ' items/s') },
      { label: 'stream / futures, woken', value: fmt(rWoken, '×', 2) },
      { label: 'streams alive after close', value: String(alive) },
    ],
    table: [
      {
        measure: `Stream vs one future per item, items/s: Ready (\`naturals\` / \`ready_u64\`); woken (\`remote_items\` / \`remote_u64\`), ${cpus}`,
        short: `stream vs futures, ${cpus}`,
        rustplug: `stream ${k(s.streamReady.median)}/s; ${k(s.streamWoken.median)}/s`,
        baseline: `futures ${k(s.futuresReady.median)}/s; ${k(s.futuresWoken.median)}/s`,
        ratio: `${ratioText(rReady)}; ${ratioText(rWoken)}`,
      },
    ],
    figures: { itemsPerSec: s, streamOverFuturesReady: rReady, streamOverFuturesWoken: rWoken, items, formatted: formatNumber(items) },
    targets: [],
  };
}

await main(import.meta.url, run);
