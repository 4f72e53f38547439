// Memory per pending future at 100 000 and 1 000 000 in flight: `node --expose-gc
// bench/compare/memory.mjs <count>` starts <count> `never()` futures (each Pending, holding one
// waker clone), measures, then closes the library (which drops them all). Prints one JSON line.
//   native: glibc mallinfo2() in-use bytes (all arenas + mmapped chunks) after − before, per future,
//           and the same minus the plugin's own boxed future (measured alone: never() called
//           through koffi, not polled, then dropped): what rustplug allocates natively;
//   js:     V8 heapUsed after − before, per future (the promise and rustplug's JS side);
//   rss:    RSS after − before, per future (everything, allocator slack included).
import koffi from 'koffi';

import { FfiFuture } from '../../dist/abi.js';
import { futureStats, open } from '../../dist/index.js';
import { asyncPaths } from './cases.mjs';

const count = Number(process.argv[2] ?? 100000);
const MallInfo2 = koffi.struct('bench_mem_mallinfo2', Object.fromEntries(
  ['arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost'].map((k) => [k, 'size_t']),
));
const mallinfo2 = koffi.load('libc.so.6').func('mallinfo2', MallInfo2, []);
const inUse = () => {
  const m = mallinfo2();
  return Number(m.uordblks) + Number(m.hblkhd);
};
const gc = globalThis.gc ?? (() => {});
const settle = async () => {
  gc();
  await new Promise((r) => setTimeout(r, 20));
  gc();
};

// The plugin's box alone, per future (10 000 of them).
const lib0 = open(asyncPaths.asyncPlugin, { never: { parameters: [], result: { future: 'void' } } });
const rawNever = koffi.decode(lib0.address('never'), koffi.proto(FfiFuture, []));
const dropProto = koffi.proto('void bench_mem_drop(uint64_t)');
await settle();
let m0 = inUse();
const raw = Array.from({ length: 10000 }, () => rawNever());
const pluginBox = (inUse() - m0) / raw.length;
for (const f of raw) koffi.call(BigInt(f.drop_fn), dropProto, f.fut_ptr);
raw.length = 0;

// Warm the path, then measure.
{
  const lib = open(asyncPaths.asyncPlugin, { never: { parameters: [], result: { future: 'void' } } });
  const ps = Array.from({ length: 1000 }, () => lib.symbols.never().catch(() => {}));
  lib.close();
  await Promise.all(ps);
}
const lib = open(asyncPaths.asyncPlugin, {
  never: { parameters: [], result: { future: 'void' } },
  futures_alive: { parameters: [], result: 'i64' },
});
const { never } = lib.symbols;
await settle();
m0 = inUse();
const r0 = process.memoryUsage.rss();
const h0 = process.memoryUsage().heapUsed;
const ps = new Array(count);
for (let i = 0; i < count; i++) ps[i] = never();
await settle();
const m1 = inUse();
const r1 = process.memoryUsage.rss();
const h1 = process.memoryUsage().heapUsed;
const stats = futureStats();
const pending = stats.pending;
const alive = Number(lib.symbols.futures_alive());
lib.close();
const outcomes = await Promise.allSettled(ps);
if (pending !== count || alive !== count || outcomes.some((o) => o.status !== 'rejected')) {
  throw new Error(`memory: expected ${count} pending (hub ${pending}, plugin ${alive})`);
}
console.log(
  JSON.stringify({
    count,
    nativePerFuture: (m1 - m0) / count,
    pluginBox,
    hostNativePerFuture: (m1 - m0) / count - pluginBox,
    jsHeapPerFuture: (h1 - h0) / count,
    rssPerFuture: (r1 - r0) / count,
    bytesPerPending: stats.bytesPerPending ?? null,
  }),
);
process.exit(0);
