// Child process for test/js-callback.test.ts: callbacks in worker threads. One worker sums
// through a JS async function; another is terminated while tokio tasks of the plugin wait on its
// callbacks' Promises (which never settle) and a thread keeps calling a persistent callback.
// Prints { sum, alive, futuresAlive, threadsAlive } once the plugin is quiet.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';

import { callbackStats, open } from '../../dist/index.js';

const decls = {
  sum_js: { parameters: [{ callback: { parameters: ['u32'], result: { future: 'u64' } } }, 'u32'], result: { future: 'u64' } },
  compute_on_thread: { parameters: [{ callback: { parameters: ['f64'], result: 'f64' } }, 'f64'], result: { future: 'f64' } },
  futures_alive: { parameters: [], result: 'i64' },
  threads_alive: { parameters: [], result: 'i64' },
};

if (isMainThread) {
  const path = process.argv[2];
  const run = (mode) =>
    new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { path, mode } });
      w.on('message', (m) => {
        if (m === 'waiting') w.terminate();
        else resolve(m);
      });
      w.on('error', reject);
      w.on('exit', () => resolve(undefined));
    });
  const sum = await run('sum');
  await run('terminate');
  const lib = open(path, decls);
  const end = Date.now() + 10_000;
  const quiet = () => lib.symbols.futures_alive() === 0 && lib.symbols.threads_alive() === 0 && callbackStats().alive === 0;
  while (!quiet() && Date.now() < end) await sleep(10);
  console.log(
    JSON.stringify({
      sum,
      alive: callbackStats().alive,
      futuresAlive: Number(lib.symbols.futures_alive()),
      threadsAlive: Number(lib.symbols.threads_alive()),
    }),
  );
} else {
  const { path, mode } = workerData;
  const s = open(path, decls).symbols;
  if (mode === 'sum') {
    parentPort.postMessage(await s.sum_js(async (i) => i, 100));
  } else {
    s.sum_js(() => new Promise(() => {}), 50).catch(() => {});
    // A plugin thread waits for this worker's JS to compute a result; the worker goes away.
    s.compute_on_thread((x) => x, 1).catch(() => {});
    await sleep(20);
    parentPort.postMessage('waiting');
    await new Promise(() => {});
  }
}
