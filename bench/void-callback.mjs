// Issue 9: a persistent `void` callback called from a foreign thread: rustplug's
// `lib.callback({ parameters: ['u32'], result: 'void' }, fn)` against koffi's registered callback
// (`koffi.register(fn, koffi.pointer(proto))`) called the same way: `void_calls_on_thread(cb, N)`
// starts a std thread that calls cb(0..N) back to back. Two figures per series:
//  * caller side: ns per call on the calling thread, timed by the plugin itself (the future's
//    value). rustplug queues the call and returns; koffi 3.3.4 forwards a foreign-thread call to
//    the JS thread and blocks the caller until JS has run it, so its caller-side cost is the whole
//    delivery;
//  * end to end: ns per call from the plugin call until JS has run the N-th callback.
// Why not mitata here: the caller-side figure is measured inside the plugin and comes back as the
// future's value, so each sample is one batch of N calls timed by the plugin, and the end-to-end
// figure of the same batch must be paired with it; mitata runs a function more times than it
// reports (an untimed first call, warmup samples) and would unpair them. So one batch is one
// sample, timed here with the monotonic clock; the rounds are interleaved and the ratios taken
// round by round as in the other benchmarks.
import koffi from 'koffi';

import { open } from '../dist/index.js';
import { cpuLabel, fixtures, fmt, formatNumber, interleaved, keepAlive, main, ratios, ratioText, requireFixtures, summary } from './common.mjs';

const now = () => process.hrtime.bigint();

export async function run({ rounds = 15, calls = 2_000 } = {}) {
  requireFixtures();
  const lib = open(fixtures.asyncPlugin, {
    void_calls_on_thread: { parameters: ['function', 'u32'], result: { future: 'u64' } },
  });
  const { void_calls_on_thread } = lib.symbols;

  let got = 0;
  let done;
  const onCall = () => {
    if (++got === calls) done?.();
  };
  const rustplugCb = lib.callback({ parameters: ['u32'], result: 'void' }, onCall);
  const koffiCb = koffi.register(onCall, koffi.pointer(koffi.proto('void bench_void_cb(uint32_t)')));
  const pointers = { rustplug: rustplugCb.pointer, koffi: BigInt(koffi.address(koffiCb)) };

  // Queued calls do not keep the loop alive by themselves (a persistent callback's ref is the
  // caller's choice): hold it while a batch is delivered.
  const release = keepAlive();
  const caller = { rustplug: [], koffi: [] };
  const batch = (which) => async () => {
    got = 0;
    const delivered = new Promise((r) => (done = r));
    const t0 = now();
    const ns = Number(await void_calls_on_thread(pointers[which], calls));
    await delivered;
    const total = Number(now() - t0);
    if (got !== calls) throw new Error(`void-callback: ${got} calls arrived, expected ${calls}`);
    caller[which].push(ns / calls);
    return total / calls;
  };
  await batch('rustplug')();
  await batch('koffi')();
  caller.rustplug.length = 0;
  caller.koffi.length = 0;
  const e2e = await interleaved({ rustplug: batch('rustplug'), koffi: batch('koffi') }, { rounds, warmup: 1 });
  // interleaved() also ran the warmup rounds: keep the timed rounds' caller figures only.
  for (const k of ['rustplug', 'koffi']) caller[k] = caller[k].slice(-rounds);
  release();
  rustplugCb.close();
  koffi.unregister(koffiCb);
  lib.close();

  const cr = summary(caller.rustplug);
  const ck = summary(caller.koffi);
  const er = summary(e2e.rustplug);
  const ek = summary(e2e.koffi);
  const rc = summary(ratios(caller.koffi, caller.rustplug));
  const re = summary(ratios(e2e.koffi, e2e.rustplug));
  const cpus = cpuLabel();
  return {
    name: 'void-callback',
    title: `Persistent void callback from a foreign thread (${cpus}): ${calls.toLocaleString('en-US')} calls per batch, ${rounds} interleaved rounds (median [q1–q3])`,
    rows: [
      { label: 'rustplug lib.callback: caller side', value: fmt(cr, ' ns/call') },
      { label: 'koffi.register: caller side (blocks until JS ran)', value: fmt(ck, ' ns/call') },
      { label: 'koffi / rustplug, caller side', value: fmt(rc, '×', 1) },
      { label: 'rustplug lib.callback: end to end', value: fmt(er, ' ns/call') },
      { label: 'koffi.register: end to end', value: fmt(ek, ' ns/call') },
      { label: 'koffi / rustplug, end to end', value: fmt(re, '×', 2) },
    ],
    table: [
      {
        measure: `Persistent \`void\` callback called from a foreign thread, per call: caller side; end to end (until JS ran it), ${cpus}`,
        short: `void callback, ${cpus}`,
        rustplug: `\`lib.callback\`: ${formatNumber(cr.median)} ns; ${formatNumber(er.median)} ns`,
        baseline: `\`koffi.register\`: ${formatNumber(ck.median)} ns; ${formatNumber(ek.median)} ns`,
        ratio: `koffi / rustplug ${ratioText(rc, 1)}; ${ratioText(re)}`,
      },
    ],
    figures: { callerNs: { rustplug: cr, koffi: ck }, endToEndNs: { rustplug: er, koffi: ek }, koffiOverRustplugCaller: rc, koffiOverRustplugEndToEnd: re },
    targets: [],
  };
}

await main(import.meta.url, run);
