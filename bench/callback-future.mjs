// Issue 9: a Rust → JS → Rust callback-future round trip against a future woken from a plugin
// thread, sequential awaits:
//  * `js_round_trip(cb, i)`: a tokio task calls the JS async function `cb` (queued to the JS
//    thread), awaits its Promise as a Rust future (the settlement wakes the tokio task), and the
//    outer future completes (a wake back to the JS thread): two thread hops each way;
//  * `js_inline_round_trip(cb, i)`: `cb` called and awaited inside the first poll, on the JS thread;
//  * `remote_u64(i)`: one wake from a plugin thread (the reference).
// mitata times each await (median of its samples); interleaved rounds, ratios round by round.
// bench/run.mjs runs it on one CPU and on all CPUs.
import { open } from '../dist/index.js';
import { cpuLabel, fixtures, fmt, formatNumber, interleaved, main, mitataSample, ratios, ratioText, requireFixtures, summary } from './common.mjs';

export async function run({ rounds = 15 } = {}) {
  requireFixtures();
  const jsU64 = { callback: { parameters: ['u32'], result: { future: 'u64' } } };
  const lib = open(fixtures.asyncPlugin, {
    js_round_trip: { parameters: [jsU64, 'u32'], result: { future: 'u64' } },
    js_inline_round_trip: { parameters: [jsU64, 'u32'], result: { future: 'u64' } },
    remote_u64: { parameters: ['u64'], result: { future: 'u64' } },
  });
  const { js_round_trip, js_inline_round_trip, remote_u64 } = lib.symbols;
  const cb = async (x) => x + 1;
  if ((await js_round_trip(cb, 41)) !== 42 || (await js_inline_round_trip(cb, 41)) !== 42 || (await remote_u64(42)) !== 42) {
    throw new Error('callback-future: wrong values');
  }
  let i = 0;
  const opts = { min_cpu_time: 100e6 };
  const samples = await interleaved(
    {
      tokio: () => mitataSample(() => js_round_trip(cb, i++ & 0xffff), opts),
      inline: () => mitataSample(() => js_inline_round_trip(cb, i++ & 0xffff), opts),
      remote: () => mitataSample(() => remote_u64(i++ & 0xffff), opts),
    },
    { rounds, warmup: 1 },
  );
  lib.close();
  const t = summary(samples.tokio);
  const n = summary(samples.inline);
  const r = summary(samples.remote);
  const rt = summary(ratios(samples.tokio, samples.remote));
  const rn = summary(ratios(samples.inline, samples.remote));
  const cpus = cpuLabel();
  return {
    name: 'callback-future',
    title: `Rust → JS → Rust callback futures (${cpus}): sequential awaits, mitata medians, ${rounds} interleaved rounds (median [q1–q3])`,
    rows: [
      { label: 'await js_round_trip(async cb, i) (from a tokio worker)', value: fmt(t, ' ns') },
      { label: 'await js_inline_round_trip(async cb, i) (JS thread)', value: fmt(n, ' ns') },
      { label: 'await remote_u64(i) (woken by a plugin thread)', value: fmt(r, ' ns') },
      { label: 'ratio tokio round trip / remote_u64', value: fmt(rt, '×', 2) },
      { label: 'ratio inline round trip / remote_u64', value: fmt(rn, '×', 2) },
    ],
    table: [
      {
        measure: `Callback future round trip Rust → JS → Rust: from a tokio worker (\`js_round_trip\`); on the JS thread (\`js_inline_round_trip\`), ${cpus}`,
        short: `callback future, ${cpus}`,
        rustplug: `${formatNumber(t.median)} ns; ${formatNumber(n.median)} ns`,
        baseline: `future woken by a plugin thread \`remote_u64\`: ${formatNumber(r.median)} ns`,
        ratio: `${ratioText(rt)}; ${ratioText(rn)}`,
      },
    ],
    figures: { tokioNs: t, inlineNs: n, remoteNs: r, tokioOverRemote: rt, inlineOverRemote: rn },
    targets: [],
  };
}

await main(import.meta.url, run);
