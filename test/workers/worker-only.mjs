// Child process for test/future-workers.test.ts: the main thread imports rustplug but never uses
// it, so only workers load the addon. Each worker leaves a future and a stream waiting on tokio
// timers and is terminated; the timers' tasks are cancelled later on plugin threads, which then
// drop their waker clones: the addon's waker code must still be mapped (Node dlcloses an addon
// when the last environment that loaded it goes away, unless the addon pins itself).
//   node test/workers/worker-only.mjs <libasync_plugin.so>
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';

import { open } from '../../dist/index.js';

const path = isMainThread ? process.argv[2] : workerData.path;

if (isMainThread) {
  for (let i = 0; i < 8; i++) {
    await new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { path } });
      w.on('message', () => w.terminate());
      w.on('error', reject);
      w.on('exit', resolve);
    });
  }
  await sleep(200);  // the cancelled timer tasks run on the plugin's threads meanwhile
  console.log('ok');
} else {
  const s = open(path, {
    sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
    ticks: { parameters: ['u32', 'u32'], result: { stream: 'u64' } },
  }).symbols;
  s.sleep_u64(10_000, 1).catch(() => {});
  s.ticks(10_000, 2).next().catch(() => {});
  await sleep(5);
  parentPort.postMessage('waiting');
}
