// 2c. Many concurrent futures.
//
// Throughput: 10 000 futures started at once and awaited with Promise.all, woken from plugin
// threads: `sleep_us_u64(0..1000 µs)` (tokio workers; tokio's timer rounds up to 1 ms) and
// `remote_u64` (one persistent plugin thread), against 10 000 `ready_u64` (Ready at the first poll:
// the cost of starting and settling alone), interleaved rounds. Settles per second = 10 000 / time
// from the first call to the last settlement: mitata times waves (three per round, their median).
//
// Memory per pending future, with 10 000 `never()` futures pending (each holds one waker clone),
// then all aborted:
//  * the hub's own accounting, `futureStats().bytesPerPending`;
//  * native heap: glibc's mallinfo2() in-use bytes (all arenas) after - before, divided by 10 000.
//    That includes the plugin's boxed future (measured alone: 10 000 `never()` called through
//    koffi, not polled, then dropped) and everything the host allocates natively: the hub's task,
//    waker cell and map entry, and Node-API's deferred and references. Host-native = native heap
//    minus the plugin's box. Target: < 256 bytes.
//  * RSS after - before (everything: native heap, V8 heap pages, allocator slack), and the same
//    minus the plugin's box; V8 heapUsed after - before (the promise, the driver's closures, the
//    library's pending map, the abort listener), for context.
import { setMaxListeners } from 'node:events';

import koffi from 'koffi';

import { futureStats, open } from '../dist/index.js';
import { FfiFuture } from '../dist/abi.js';
import { fixtures, fmt, formatNumber, gc, interleaved, main, mitataSample, requireFixtures, summary, target } from './common.mjs';

const MallInfo2 = koffi.struct('bench_mallinfo2', {
  arena: 'size_t',
  ordblks: 'size_t',
  smblks: 'size_t',
  hblks: 'size_t',
  hblkhd: 'size_t',
  usmblks: 'size_t',
  fsmblks: 'size_t',
  uordblks: 'size_t',
  fordblks: 'size_t',
  keepcost: 'size_t',
});
const mallinfo2 = koffi.load('libc.so.6').func('mallinfo2', MallInfo2, []);
/** Bytes the process has in use from malloc: small chunks (all arenas) + mmapped chunks. */
const mallocInUse = () => {
  const m = mallinfo2();
  return Number(m.uordblks) + Number(m.hblkhd);
};

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Collects garbage, lets finalizers and other threads' frees happen, collects again. */
const settleAll = async () => {
  gc();
  await tick();
  await sleep(20);
  gc();
};

export async function run({ rounds = 15, count = 10_000, memoryRepeats = 5 } = {}) {
  requireFixtures();
  const lib = open(fixtures.asyncPlugin, {
    sleep_us_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
    remote_u64: { parameters: ['u64'], result: { future: 'u64' } },
    ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
    never: { parameters: [], result: { future: 'void' } },
    futures_alive: { parameters: [], result: 'i64' },
  });
  const { sleep_us_u64, remote_u64, ready_u64, never, futures_alive } = lib.symbols;

  // ---- throughput ----
  const delays = Array.from({ length: count }, (_, i) => (i * 7919) % 1001); // 0..1000 µs, spread
  const expectSum = (count * (count - 1)) / 2;
  const check = (values) => {
    let s = 0;
    for (const v of values) s += v;
    if (s !== expectSum) throw new Error(`future-many: wrong values (sum ${s})`);
  };
  const wave = (start) => async () => {
    let values;
    const ns = await mitataSample(
      async () => {
        const ps = new Array(count);
        for (let i = 0; i < count; i++) ps[i] = start(i);
        values = await Promise.all(ps);
      },
      { min_samples: 3, max_samples: 3, min_cpu_time: 0 },
    );
    // The last wave's values, checked outside the timed section.
    check(values);
    return (count * 1e9) / ns;
  };
  const statsBefore = futureStats();
  const samples = await interleaved(
    {
      sleep: wave((i) => sleep_us_u64(delays[i], i)),
      remote: wave((i) => remote_u64(i)),
      ready: wave((i) => ready_u64(i)),
    },
    { rounds, warmup: 2 },
  );
  const statsAfter = futureStats();
  const woken = statsAfter.wakes - statsBefore.wakes;
  const drains = statsAfter.drains - statsBefore.drains;

  const sleep = summary(samples.sleep);
  const remote = summary(samples.remote);
  const ready = summary(samples.ready);
  const sleepVsReady = summary(samples.sleep.map((x, i) => x / samples.ready[i]));
  const remoteVsReady = summary(samples.remote.map((x, i) => x / samples.ready[i]));

  // ---- memory ----
  const FfiNever = koffi.decode(lib.address('never'), koffi.proto(FfiFuture, []));
  const dropProto = koffi.proto('void bench_drop_fn(uint64_t)');
  const mem = { hostNative: [], malloc: [], plugin: [], rss: [], rssHost: [], heap: [] };
  let hub;
  // Warm the paths (JIT, the hub's map) before the first measurement.
  {
    const ac = new AbortController();
    setMaxListeners(1000, ac.signal);
    const ps = Array.from({ length: 200 }, () => never({ signal: ac.signal }).catch(() => {}));
    await tick();
    ac.abort();
    await Promise.all(ps);
  }
  for (let rep = 0; rep < memoryRepeats; rep++) {
    // The plugin's side alone: boxed futures, never polled.
    await settleAll();
    const p0 = mallocInUse();
    const raw = new Array(count);
    for (let i = 0; i < count; i++) raw[i] = FfiNever();
    const pluginBytes = mallocInUse() - p0;
    for (const f of raw) koffi.call(BigInt(f.drop_fn), dropProto, f.fut_ptr);
    raw.length = 0;

    // Through rustplug: pending, each holding a waker clone.
    await settleAll();
    const m0 = mallocInUse();
    const r0 = process.memoryUsage.rss();
    const h0 = process.memoryUsage().heapUsed;
    const ac = new AbortController();
    setMaxListeners(count + 1, ac.signal); // one abort listener per pending future is the point
    const ps = new Array(count);
    for (let i = 0; i < count; i++) ps[i] = never({ signal: ac.signal });
    await settleAll();
    const m1 = mallocInUse();
    const r1 = process.memoryUsage.rss();
    const h1 = process.memoryUsage().heapUsed;
    hub = futureStats();
    if (hub.pending !== count || Number(futures_alive()) !== count) {
      throw new Error(`future-many: expected ${count} pending, hub has ${hub.pending}, plugin ${futures_alive()}`);
    }
    ac.abort();
    const outcomes = await Promise.allSettled(ps);
    if (outcomes.some((o) => o.status !== 'rejected' || o.reason?.name !== 'AbortError')) throw new Error('future-many: abort did not reject them all');
    if (futureStats().pending !== 0 || Number(futures_alive()) !== 0) throw new Error('future-many: futures left after abort');

    mem.plugin.push(pluginBytes / count);
    mem.malloc.push((m1 - m0) / count);
    mem.hostNative.push((m1 - m0 - pluginBytes) / count);
    mem.rss.push((r1 - r0) / count);
    mem.rssHost.push((r1 - r0 - pluginBytes) / count);
    mem.heap.push((h1 - h0) / count);
  }
  lib.close();

  const host = summary(mem.hostNative);
  const m = Object.fromEntries(Object.entries(mem).map(([k, v]) => [k, summary(v)]));
  const b = (s) => `${formatNumber(s.median)} B [${formatNumber(s.min)}–${formatNumber(s.max)}]`;
  const n = count.toLocaleString('en-US');
  const k = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);
  return {
    name: 'future-many',
    title: `${n} concurrent futures: ${rounds} interleaved rounds (median [q1–q3]); memory over ${memoryRepeats} runs (median [min–max])`,
    rows: [
      { label: `sleep_us_u64(0..1000 µs) ×${n} (tokio wakes)`, value: fmt(sleep, ' settles/s') },
      { label: `remote_u64 ×${n} (one plugin thread wakes)`, value: fmt(remote, ' settles/s') },
      { label: `ready_u64 ×${n} (Ready at once, baseline)`, value: fmt(ready, ' settles/s') },
      { label: 'sleep / ready throughput', value: fmt(sleepVsReady, '×', 2) },
      { label: 'remote / ready throughput', value: fmt(remoteVsReady, '×', 2) },
      { label: 'wakes per drain, sleep + remote rounds (batching)', value: (woken / Math.max(drains, 1)).toFixed(1) },
      { label: 'hub accounting: bytesPerPending', value: `${hub.bytesPerPending} B` },
      { label: 'native heap (malloc) per pending never()', value: b(m.malloc) },
      { label: '  of which plugin (boxed future)', value: b(m.plugin) },
      { label: '  host-native (malloc − plugin)', value: b(m.hostNative) },
      { label: 'RSS delta per pending', value: b(m.rss) },
      { label: '  minus the plugin box (host: native + V8 heap)', value: b(m.rssHost) },
      { label: 'V8 heapUsed delta per pending', value: b(m.heap) },
    ],
    table: [
      {
        measure: `${n} concurrent futures, settles/s: \`sleep_us_u64(0..1000 µs)\`; \`remote_u64\``,
        short: `${n} futures/s`,
        rustplug: `${k(sleep.median)}/s; ${k(remote.median)}/s`,
        baseline: `${n} \`ready_u64\`: ${k(ready.median)}/s`,
        ratio: `${sleepVsReady.median.toFixed(2)}×; ${remoteVsReady.median.toFixed(2)}×`,
      },
      {
        measure: `Native memory per pending future (${n} \`never()\`)`,
        short: 'memory/pending',
        rustplug: `host ${host.median.toFixed(0)} B (hub's accounting: ${hub.bytesPerPending} B)`,
        baseline: `plugin's box ${m.plugin.median.toFixed(0)} B; RSS − plugin box ${m.rssHost.median.toFixed(0)} B (V8 heap ${m.heap.median.toFixed(0)} B)`,
        ratio: '—',
      },
    ],
    figures: {
      settlesPerSec: { sleep, remote, ready },
      sleepVsReady,
      remoteVsReady,
      wokenPerDrain: woken / Math.max(drains, 1),
      memory: { bytesPerPending: hub.bytesPerPending, ...m },
    },
    targets: [
      target('< 256 B host-native per pending future (measured)', '< 256 B', `${host.median.toFixed(0)} B`, host.median < 256),
      target('< 256 B per pending future (hub accounting)', '< 256 B', `${hub.bytesPerPending} B`, hub.bytesPerPending < 256),
    ],
  };
}

await main(import.meta.url, run);
