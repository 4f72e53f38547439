// Child process for test/stream.test.ts: streams consumed in worker threads, one worker
// terminated while its streams wait on a plugin thread. Prints one JSON line:
// { items, streamsAlive, threadsAlive } once every plugin thread has finished.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';

import { open } from '../../dist/index.js';

const decls = {
  ticks: { parameters: ['u32', 'u32'], result: { stream: 'u64' } },
  thread_items: { parameters: ['u32', 'u32'], result: { stream: 'u64' } },
  naturals: { parameters: [], result: { stream: 'u64' } },
  streams_alive: { parameters: [], result: 'i64' },
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
      w.on('exit', () => resolve(0));
    });
  const [a, b] = await Promise.all([run('consume'), run('consume')]);
  await run('terminate');
  const lib = open(path, decls);
  const end = Date.now() + 10_000;
  while ((lib.symbols.threads_alive() !== 0 || lib.symbols.streams_alive() !== 0) && Date.now() < end) await sleep(10);
  console.log(JSON.stringify({ items: a + b, streamsAlive: Number(lib.symbols.streams_alive()), threadsAlive: Number(lib.symbols.threads_alive()) }));
} else {
  const { path, mode } = workerData;
  const s = open(path, decls).symbols;
  if (mode === 'consume') {
    let n = 0;
    for await (const v of s.thread_items(40, 20)) n += v === n ? 1 : 1000;
    for await (const v of s.ticks(1, 10)) n += v >= 0 ? 1 : 1000;
    parentPort.postMessage(n);
  } else {
    // Streams left waiting on a plugin thread and on tokio, and one never asked: the worker
    // goes away under them.
    const a = s.thread_items(200, 2000);
    const b = s.ticks(10_000, 2);
    s.naturals();
    a.next();
    b.next();
    await sleep(5);
    parentPort.postMessage('waiting');
  }
}
