// Futures in worker_threads: each worker has its own hub; workers terminated (or failing, or
// exiting) with pending futures drop them, and the plugins' late wakes find nothing to reach.
// The plugins' counters are process-global, so the main thread sees the workers' futures too.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { futureStats } from '../src/index.js';
import { QUIET, asyncPluginPath, cAsyncPath, openAsync, openCAsync, quiesce, rejection, runNode, workersDir, type AsyncLib, type CAsyncLib } from './helpers/async-fixture.js';

const script = join(workersDir, 'future-worker.mjs');

let lib: AsyncLib;
let c: CAsyncLib;

beforeAll(() => {
  lib = openAsync();
  c = openCAsync();
});

const live = new Set<Worker>();

afterEach(async () => {
  // A failed test must not leave workers (and their pending futures) to the next one.
  await Promise.all([...live].map((w) => w.terminate()));
  live.clear();
  expect(await quiesce(lib, c)).toEqual(QUIET);
  expect(c.symbols.c_threads_alive()).toBe(0);
});

afterAll(() => {
  lib.close();
  c.close();
});

interface Started {
  worker: Worker;
  /** The first message of the worker (messages are buffered from the start). */
  first: Promise<any>;
  exit: Promise<number>;
  errors: Error[];
}

function start(mode: string, seed = 1): Started {
  const worker = new Worker(script, { workerData: { asyncPlugin: asyncPluginPath, cAsync: cAsyncPath, mode, seed } });
  live.add(worker);
  const errors: Error[] = [];
  worker.on('error', (e) => errors.push(e));
  const first = new Promise((resolve) => worker.once('message', resolve));
  const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, first, exit, errors };
}

const counters = () => ({
  futures: lib.symbols.futures_alive(),
  wakers: lib.symbols.wakers_alive(),
  cFutures: c.symbols.c_futures_alive(),
});

describe('worker_threads', () => {
  it('several workers and the main thread await futures concurrently', async () => {
    const workers = [1, 2, 3, 4].map((seed) => start('work', seed));
    // The main thread's own futures, while the workers run.
    const mine = Promise.all([lib.symbols.sleep_u64(20, 1), lib.symbols.thread_sleep_u64(10, 2), c.symbols.c_sleep_u64(5, 3), lib.symbols.wake_twice()]);
    const results = await Promise.all(workers.map((w) => w.first));
    expect(await mine).toEqual([1, 2, 3, 2]);
    for (const r of results) {
      expect(r.type).toBe('done');
      expect(r.count).toBe(200);
      expect(r.bad).toEqual([]);
      // Each worker's hub: everything settled, nothing left.
      expect(r.stats.pending).toBe(0);
      expect(r.stats.loopRefs).toBe(0);
      expect(r.stats.settled).toBeGreaterThanOrEqual(200);
    }
    // Nothing keeps a worker alive once its futures settled.
    expect(await Promise.all(workers.map((w) => w.exit))).toEqual([0, 0, 0, 0]);
    for (const w of workers) expect(w.errors).toEqual([]);
    expect(futureStats().pending).toBe(0);
  });

  it('terminating workers with pending futures drops them all; late wakes are harmless', async () => {
    const ac = new AbortController();
    const mine = rejection(lib.symbols.never({ signal: ac.signal })); // pending on the main thread throughout
    const workers = [1, 2, 3].map((seed) => start('hold', seed));
    const ready = await Promise.all(workers.map((w) => w.first));
    for (const r of ready) {
      expect(r.type).toBe('ready');
      expect(r.stats.pending).toBe(r.started - 1); // all but late_wake, which settled at once
    }
    // Plugin-wide: 6 to 8 pending futures of the async plugin per worker (thread_sleep_u64(50)
    // and pending_then_late_wake may have settled already), plus the main thread's.
    const alive = Number(lib.symbols.futures_alive());
    expect(alive).toBeGreaterThanOrEqual(3 * 6 + 1);
    expect(alive).toBeLessThanOrEqual(3 * 8 + 1);
    expect(c.symbols.c_futures_alive()).toBe(3);
    await Promise.all(workers.map((w) => w.worker.terminate()));
    // Teardown dropped every future of the workers on their own threads.
    expect(counters().futures).toBe(1);
    expect(counters().cFutures).toBe(0);
    ac.abort('done');
    expect((await mine).cause).toBe('done');
    expect(await quiesce(lib, c)).toEqual(QUIET);
    for (const w of workers) expect(w.errors).toEqual([]);
  });

  it('only workers use the addon: it stays mapped after they are gone, for the wakes plugin threads still make', async () => {
    const r = await runNode(join(workersDir, 'worker-only.mjs'), [asyncPluginPath], 30_000);
    expect([r.code, r.signal, r.stderr, r.stdout.trim()]).toEqual([0, null, '', 'ok']);
  });

  // The plugin call that creates a future and the hub taking it over are one native call, so a
  // termination cannot leave a future nobody drops. (Only calls koffi makes — structs by value,
  // more arguments than registers — keep a window, where V8 checks for termination as koffi
  // returns; these workers use none.) These runs happen in a child process so that this file's
  // process-wide counters stay exact.
  it.each([
    ['storm', 4, 2],
    ['tight', 6, 1],
  ])('terminating workers in the middle of a %s: no crash, no waker left, no future left undropped', async (mode, rounds, per) => {
    const r = await runNode(join(workersDir, 'terminate-storm.mjs'), [asyncPluginPath, cAsyncPath, mode, String(rounds), String(per)], 30_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.errors).toEqual([]);
    expect(out.terminations).toBe(rounds * per);
    expect(out.value).toBe(11);
    expect(out.threadsAlive).toBe(0);
    expect(out.wakersAlive).toBe(0);
    expect(out.stats.pending).toBe(0);
    expect(out.stats.wakerCells).toBe(0);
    expect(out.futuresAlive).toBe(0);
  });

  it('a worker whose loop ends with unref\'d futures pending drops them at teardown', async () => {
    const w = start('exit-naturally');
    const r = await w.first;
    expect(r.stats.pending).toBe(3);
    expect(r.stats.loopRefs).toBe(0);
    expect(await w.exit).toBe(0);
    expect(counters().futures).toBe(0);
    expect(await quiesce(lib, c)).toEqual(QUIET);
  });

  it('process.exit() inside a worker with pending futures', async () => {
    const w = start('process-exit');
    expect((await w.first).type).toBe('ready');
    expect(await w.exit).toBe(5);
    expect(counters().futures).toBe(0);
    expect(await quiesce(lib, c)).toEqual(QUIET);
  });

  it('a worker that dies of an uncaught exception with pending futures', async () => {
    const w = start('throw');
    expect((await w.first).type).toBe('ready');
    expect(await w.exit).toBe(1);
    expect(w.errors.map((e) => e.message)).toEqual(['worker failed on purpose']);
    expect(counters().futures).toBe(0);
    expect(await quiesce(lib, c)).toEqual(QUIET);
  });

  it('close() inside a worker rejects and drops that worker\'s futures', async () => {
    const w = start('close');
    const r = await w.first;
    expect(r.codes).toEqual(['ERR_PLUGIN_CLOSED', 'ERR_PLUGIN_CLOSED', 'ERR_PLUGIN_CLOSED', 'ERR_PLUGIN_CLOSED']);
    expect(r.stats.pending).toBe(0);
    expect(await w.exit).toBe(0);
    expect(await quiesce(lib, c)).toEqual(QUIET);
  });

  it('many short-lived workers in a row', async () => {
    for (let i = 0; i < 8; i++) {
      const w = start(i % 2 ? 'hold' : 'exit-naturally', 100 + i);
      await w.first;
      if (i % 2) await w.worker.terminate();
      else expect(await w.exit).toBe(0);
    }
    expect(await quiesce(lib, c)).toEqual(QUIET);
  });
});
