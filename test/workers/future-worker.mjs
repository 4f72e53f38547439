// Worker thread for test/future-workers.test.ts. workerData: { asyncPlugin, cAsync (the fixtures'
// paths), mode, seed? }.
// Posts { type: 'ready' | 'done', ... } messages; see each mode.
import { parentPort, workerData } from 'node:worker_threads';

import { AbortError, futureStats, open } from '../../dist/index.js';

const lib = open(workerData.asyncPlugin, {
  sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  sleep_us_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  sleep_point: { parameters: ['u32', 'f64', 'f64'], result: { future: { struct: { x: 'f64', y: 'f64' } } } },
  thread_sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  delayed_string: { parameters: ['string', 'u32'], result: { future: 'string' }, free: 'async_free_string' },
  ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
  wake_twice: { parameters: [], result: { future: 'u32' } },
  spurious: { parameters: ['u32'], result: { future: 'u32' } },
  never: { parameters: [], result: { future: 'void' } },
  late_wake: { parameters: ['u32'], result: { future: 'u32' } },
  pending_then_late_wake: { parameters: ['u32'], result: { future: 'u32' } },
});
const c = open(workerData.cAsync, {
  c_sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
});
const s = lib.symbols;
const { mode, seed = 1 } = workerData;
const post = (m) => parentPort.postMessage(m);
const num = (v) => (typeof v === 'bigint' ? `${v}n` : v);

// Small deterministic PRNG (mulberry32), so a failing run can be repeated.
let state = seed >>> 0;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

/** Starts every kind of future that stays pending for a while (long enough that a slow machine,
 *  e.g. a sanitizer build, still finds them pending when it checks). */
function holdAll() {
  const ps = [
    s.never(),
    s.never({ ref: false }),
    s.sleep_u64(2000, 1),
    s.sleep_point(2000, 1, 2),
    s.thread_sleep_u64(2000, 1),
    s.thread_sleep_u64(50, 1), // its wake arrives while the worker is being torn down, or after
    c.symbols.c_sleep_u64(2000, 1),
    s.delayed_string(`worker ${seed}`, 2000),
    s.pending_then_late_wake(150),
    s.late_wake(100), // settles at once; its wake comes 100 ms later
  ];
  for (const p of ps) p.catch(() => {});
  return ps.length;
}

switch (mode) {
  case 'work': {
    // Many futures of every waking kind; checks its own values and reports its hub's counters.
    const jobs = [];
    for (let i = 0; i < 200; i++) {
      const k = i % 7;
      if (k === 0) jobs.push([s.sleep_u64(1 + (i % 5), i), i]);
      else if (k === 1) jobs.push([s.sleep_us_u64(Math.floor(rand() * 2000), 2n ** 60n + BigInt(i)), 2n ** 60n + BigInt(i)]);
      else if (k === 2) jobs.push([s.thread_sleep_u64(i % 6, i), i]);
      else if (k === 3) jobs.push([c.symbols.c_sleep_u64(i % 4, i), i]);
      else if (k === 4) jobs.push([s.sleep_point(1, i, seed), { x: i, y: seed }]);
      else if (k === 5) jobs.push([s.delayed_string(`w${seed}-${i}`, 1 + (i % 3)), `echo: w${seed}-${i}`]);
      else jobs.push([i % 2 ? s.wake_twice() : s.spurious(3), i % 2 ? 2 : 3]);
    }
    const values = await Promise.all(jobs.map(([p]) => p));
    const bad = values.map((v, i) => [i, v, jobs[i][1]]).filter(([, v, want]) => JSON.stringify(num(v)) !== JSON.stringify(num(want)));
    post({ type: 'done', count: values.length, bad: bad.map(([i, v, w]) => `${i}: ${JSON.stringify(num(v))} != ${JSON.stringify(num(w))}`), stats: futureStats() });
    break;
  }
  case 'hold': {
    // Pending futures of every kind; the parent terminates us.
    const n = holdAll();
    post({ type: 'ready', started: n, stats: futureStats() });
    break;
  }
  case 'storm': {
    // Keeps up to 4000 short futures in flight, 10% aborted, until the parent terminates us.
    let settled = 0;
    let unexpected = 0;
    let inFlight = 0;
    let i = 0;
    const spawn = () => {
      for (let k = 0; k < 200 && inFlight < 4000; k++, i++) {
        const ac = new AbortController();
        const opts = { signal: ac.signal };
        const p = i % 50 === 0 ? s.thread_sleep_u64(Math.floor(rand() * 3), i, opts) : s.sleep_us_u64(Math.floor(rand() * 2000), i, opts);
        inFlight++;
        p.then(
          () => (inFlight--, settled++),
          (e) => {
            inFlight--;
            settled++;
            if (!(e instanceof AbortError)) unexpected++;
          },
        );
        if (rand() < 0.1) setTimeout(() => ac.abort(), Math.floor(rand() * 3));
      }
    };
    setInterval(spawn, 1);
    spawn();
    setTimeout(() => post({ type: 'ready', settled, unexpected, pending: futureStats().pending }), 30);
    break;
  }
  case 'tight': {
    // Back-to-back calls of futures that are ready at once, in a loop the parent interrupts with
    // terminate(): the kind of code most likely to be stopped between a plugin call and the hub.
    // One call of each first: koffi.decode() of the struct poll function happens then. (koffi's
    // own API calls abort the process if a termination lands inside them; rustplug makes them
    // once per worker and symbol, not per call.)
    s.ready_u64(0);
    s.sleep_point(0, 0, 0).catch(() => {});
    post({ type: 'ready' });
    for (let i = 0; ; i++) {
      s.ready_u64(i);
      s.sleep_point(0, i, i).catch(() => {});
    }
  }
  case 'exit-naturally': {
    // Only unref'd futures pending: the worker's loop ends and its environment is torn down.
    const ps = [s.never({ ref: false }), s.sleep_u64(5000, 1, { ref: false }), s.thread_sleep_u64(50, 1, { ref: false })];
    for (const p of ps) p.catch(() => {});
    post({ type: 'ready', stats: futureStats() });
    break;
  }
  case 'process-exit': {
    holdAll();
    post({ type: 'ready', stats: futureStats() });
    setTimeout(() => process.exit(5), 10);
    break;
  }
  case 'throw': {
    holdAll();
    post({ type: 'ready', stats: futureStats() });
    setTimeout(() => {
      throw new Error('worker failed on purpose');
    }, 10);
    break;
  }
  case 'close': {
    // close() inside the worker rejects its pending futures; then the worker ends normally.
    const ps = [s.never(), s.sleep_u64(5000, 1), s.thread_sleep_u64(30, 1), c.symbols.c_sleep_u64(30, 1)];
    const codes = ps.map((p) => p.then(() => 'resolved', (e) => e.code));
    lib.close();
    c.close();
    post({ type: 'done', codes: await Promise.all(codes), stats: futureStats() });
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
