// 2b. A future woken from another thread against a raw uv_async_send ping-pong in the same addon.
// `remote_u64` (async-plugin): the first poll hands a waker clone to one persistent plugin thread
// that wakes it at once; the second poll is Ready. `benchPing()` (bench/native/pingpong.cc, its own addon): a persistent
// helper thread does uv_async_send and the promise resolves in the async callback. Both helper
// threads wait on a mutex + condvar. Sequential round trips, each one a sample of its own (mitata
// without batching: the round's latency distribution), interleaved rounds. Target: ≤ 1.3×.
//
// Each round trip wakes a sleeping thread twice. When the two threads sit on different vCPUs of a
// VM whose idle vCPUs halt at once, each wake also pays a vCPU wake-up in the hypervisor (tens of
// µs, the same for both paths, but it depends on where the scheduler put each helper thread, so it
// varies from round to round). bench/run.mjs therefore runs this benchmark twice: pinned to one CPU
// (taskset -c 0: wakes are plain context switches, the figures are the paths' own costs) and on all
// CPUs. The 10th percentile and the median of each round are reported, ratios round by round.
import { futureStats, open } from '../dist/index.js';
import { benchAddon } from './common.mjs';
import {
  fixtures,
  fmt,
  formatNumber,
  cpuLabel,
  interleaved,
  keepAlive,
  latencies,
  main,
  perRound,
  ratios,
  requireFixtures,
  summary,
  target,
} from './common.mjs';

export async function run({ rounds = 31, trips = 1_000 } = {}) {
  requireFixtures();
  const lib = open(fixtures.asyncPlugin, { remote_u64: { parameters: ['u64'], result: { future: 'u64' } } });
  const { remote_u64 } = lib.symbols;
  // benchPing's uv_async_t is unref'd: keep the loop alive while it is awaited (for both series).
  const release = keepAlive();
  const { benchPing } = benchAddon();
  const ping = () => benchPing();

  let sum = 0;
  for (let i = 0; i < 100; i++) sum += await remote_u64(i);
  if (sum !== 4950) throw new Error('future-wake: wrong values');

  let i = 0;
  const future = () => remote_u64(i++);
  const before = futureStats();
  const samples = await interleaved({ future: () => latencies(future, trips), ping: () => latencies(ping, trips) }, { rounds, warmup: 2 });
  const after = futureStats();
  release();
  lib.close();

  const f10 = perRound(samples.future, 0.1);
  const p10 = perRound(samples.ping, 0.1);
  const f50 = perRound(samples.future, 0.5);
  const p50 = perRound(samples.ping, 0.5);
  const fut10 = summary(f10);
  const ping10 = summary(p10);
  const fut50 = summary(f50);
  const ping50 = summary(p50);
  const ratio10 = summary(ratios(f10, p10));
  const ratio50 = summary(ratios(f50, p50));
  const pinned = cpuLabel() === '1 CPU';
  const polls = after.polls - before.polls;
  const wakes = after.wakes - before.wakes;
  const settled = after.settled - before.settled;
  return {
    name: 'future-wake',
    title: `Woken future (${cpuLabel()}): sequential round trips, ${rounds} interleaved rounds × ${trips.toLocaleString('en-US')}, p10 and p50 of each round (median [q1–q3] over rounds)`,
    rows: [
      { label: 'await remote_u64(i), p10', value: fmt(fut10, ' ns/round trip') },
      { label: 'await benchPing(), p10', value: fmt(ping10, ' ns/round trip') },
      { label: 'ratio future / ping, p10', value: fmt(ratio10, '×', 2) },
      { label: 'await remote_u64(i), p50', value: fmt(fut50, ' ns/round trip') },
      { label: 'await benchPing(), p50', value: fmt(ping50, ' ns/round trip') },
      { label: 'ratio future / ping, p50', value: fmt(ratio50, '×', 2) },
      { label: 'polls, wakes per settled future', value: `${(polls / settled).toFixed(2)}, ${(wakes / settled).toFixed(2)}` },
    ],
    table: [
      {
        measure: `Future woken by a plugin thread \`remote_u64\`, round trip (p10; p50), ${cpuLabel()}`,
        short: `woken future, ${cpuLabel()}`,
        rustplug: `${formatNumber(fut10.median)} ns; ${formatNumber(fut50.median)} ns`,
        baseline: `\`uv_async_send\` ping-pong: ${formatNumber(ping10.median)} ns; ${formatNumber(ping50.median)} ns`,
        ratio: `${ratio10.median.toFixed(2)}× [${ratio10.q1.toFixed(2)}–${ratio10.q3.toFixed(2)}]; ${ratio50.median.toFixed(2)}× [${ratio50.q1.toFixed(2)}–${ratio50.q3.toFixed(2)}]`,
      },
    ],
    figures: { futureP10: fut10, pingP10: ping10, ratioP10: ratio10, futureP50: fut50, pingP50: ping50, ratioP50: ratio50, pollsPerFuture: polls / settled, wakesPerFuture: wakes / settled },
    // The target is judged where the figures are the paths' own costs: pinned to one CPU.
    targets: pinned
      ? [target('woken future ≤ 1.3× uv_async_send ping-pong (p50, 1 CPU)', '≤ 1.3×', `${ratio50.median.toFixed(2)}×`, ratio50.median <= 1.3)]
      : [],
    notes: pinned
      ? []
      : ['on more than one CPU these figures depend on which vCPU each helper thread sleeps on (see future-wake.mjs); the target is judged on the pinned run'],
  };
}

await main(import.meta.url, run);
