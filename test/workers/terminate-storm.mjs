// Child process for test/future-workers.test.ts: starts workers that keep thousands of futures in
// flight (test/workers/future-worker.mjs, mode 'storm' or 'tight'), terminates them mid-flight,
// waits for the plugins' threads, and prints the process-wide counters as one JSON line.
//   node test/workers/terminate-storm.mjs <libasync_plugin.so> <libc_async.so> <mode> <rounds> <workersPerRound>
// It runs in its own process because a termination can leak one future (see the test).
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

import { futureStats, open } from '../../dist/index.js';

const [asyncPlugin, cAsync, mode = 'storm', rounds = '3', perRound = '2'] = process.argv.slice(2);
const lib = open(asyncPlugin, {
  futures_alive: { parameters: [], result: 'i64' },
  wakers_alive: { parameters: [], result: 'i64' },
  threads_alive: { parameters: [], result: 'i64' },
  thread_sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
});
const script = new URL('./future-worker.mjs', import.meta.url);
const errors = [];
let terminations = 0;
for (let r = 0; r < Number(rounds); r++) {
  const ws = Array.from({ length: Number(perRound) }, (_, k) => {
    const w = new Worker(script, { workerData: { asyncPlugin, cAsync, mode, seed: r * 100 + k + 1 } });
    w.on('error', (e) => errors.push(String(e)));
    return w;
  });
  // The first message, or the worker's early exit (an error, reported below).
  const firsts = await Promise.all(
    ws.map((w) => new Promise((res) => (w.once('message', res), w.once('exit', (code) => res({ type: 'exit', code }))))),
  );
  for (const m of firsts) {
    if (m.type !== 'ready') errors.push(`worker ended before it was ready: ${JSON.stringify(m)}`);
    else if (m.unexpected) errors.push(`worker saw ${m.unexpected} rejection(s) that were not AbortErrors`);
  }
  await sleep(Number(r % 3) * 5);
  await Promise.all(ws.map((w) => w.terminate()));
  terminations += ws.length;
}
const end = Date.now() + 5000;
while (lib.symbols.threads_alive() !== 0 && Date.now() < end) await sleep(5);
while ((lib.symbols.wakers_alive() !== 0 || futureStats().wakerCells !== 0) && Date.now() < end) await sleep(5);
// This thread's own hub still works.
const value = await lib.symbols.thread_sleep_u64(1, 11);
// Its thread counts itself out just after the wake.
const end2 = Date.now() + 5000;
while (lib.symbols.threads_alive() !== 0 && Date.now() < end2) await sleep(5);
process.stdout.write(
  JSON.stringify({
    terminations,
    errors,
    value,
    threadsAlive: lib.symbols.threads_alive(),
    futuresAlive: lib.symbols.futures_alive(),
    wakersAlive: lib.symbols.wakers_alive(),
    stats: futureStats(),
  }) + '\n',
);
