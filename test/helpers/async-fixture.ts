// Shared by the future tests: the async fixtures' declarations, counters read from the plugins,
// and bounded waits for the plugins' own threads (late wakes) to finish.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import { open, futureStats } from '../../src/index.js';
import type { OpenOptions } from '../../src/index.js';
import { repoRoot } from './elf-fixtures.js';
import { FIXTURES } from './fixtures.js';

export { repoRoot };
export const asyncPluginPath = FIXTURES.async_plugin;
export const cAsyncPath = FIXTURES.c_async;
/** dist/index.js, built by test/global-setup.ts; child processes and workers import it. */
export const distIndex = join(repoRoot, 'dist', 'index.js');
export const workersDir = join(repoRoot, 'test', 'workers');

const u64Max = 2n ** 64n - 1n;
export const U64_MAX = u64Max;

export const asyncDecls = {
  // counters
  futures_alive: { parameters: [], result: 'i64' },
  wakers_alive: { parameters: [], result: 'i64' },
  polls_total: { parameters: [], result: 'u64' },
  threads_alive: { parameters: [], result: 'i64' },
  async_strings_alive: { parameters: [], result: 'i64' },
  async_free_string: { parameters: ['pointer'], result: 'void' },
  // ready at the first poll
  ready_i8: { parameters: ['i8'], result: { future: 'i8' } },
  ready_u8: { parameters: ['u8'], result: { future: 'u8' } },
  ready_i16: { parameters: ['i16'], result: { future: 'i16' } },
  ready_u16: { parameters: ['u16'], result: { future: 'u16' } },
  ready_i32: { parameters: ['i32'], result: { future: 'i32' } },
  ready_u32: { parameters: ['u32'], result: { future: 'u32' } },
  ready_i64: { parameters: ['i64'], result: { future: 'i64' } },
  ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
  ready_isize: { parameters: ['isize'], result: { future: 'isize' } },
  ready_usize: { parameters: ['usize'], result: { future: 'usize' } },
  ready_f32: { parameters: ['f32'], result: { future: 'f32' } },
  ready_f64: { parameters: ['f64'], result: { future: 'f64' } },
  ready_bool: { parameters: ['bool'], result: { future: 'bool' } },
  ready_void: { parameters: [], result: { future: 'void' } },
  ready_pointer: { parameters: ['pointer'], result: { future: 'pointer' } },
  ready_point: { parameters: ['f64', 'f64'], result: { future: { struct: { x: 'f64', y: 'f64' } } } },
  ready_point_tuple: { name: 'ready_point', parameters: ['f64', 'f64'], result: { future: { struct: ['f64', 'f64'] } } },
  ready_mixed: {
    parameters: ['u8', 'i32', 'u64', 'f32'],
    result: { future: { struct: { a: 'u8', b: 'i32', c: 'u64', d: 'f32' } } },
  },
  ready_mixed_tuple: { name: 'ready_mixed', parameters: ['u8', 'i32', 'u64', 'f32'], result: { future: { struct: ['u8', 'i32', 'u64', 'f32'] } } },
  local_ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
  // strings
  ready_string: { parameters: ['string'], result: { future: 'string' }, free: 'async_free_string' },
  ready_string_ptr: { name: 'ready_string', parameters: ['string'], result: { future: 'pointer' } },
  delayed_string: { parameters: ['string', 'u32'], result: { future: 'string' }, free: 'async_free_string' },
  fetch_len: { parameters: ['string'], result: { future: 'u64' } },
  // woken from other threads
  sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  sleep_us_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  tick: { parameters: ['u32'], result: { future: 'void' } },
  sleep_point: { parameters: ['u32', 'f64', 'f64'], result: { future: { struct: { x: 'f64', y: 'f64' } } } },
  sleep_point_tuple: { name: 'sleep_point', parameters: ['u32', 'f64', 'f64'], result: { future: { struct: ['f64', 'f64'] } } },
  sleep_f64: { parameters: ['u32', 'f64'], result: { future: 'f64' } },
  thread_sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  // waker edge cases
  wake_during_poll: { parameters: [], result: { future: 'u32' } },
  wake_twice: { parameters: [], result: { future: 'u32' } },
  spurious: { parameters: ['u32'], result: { future: 'u32' } },
  panic_on_poll: { parameters: [], result: { future: 'u32' } },
  panic_renamed: { name: 'panic_on_poll', parameters: [], result: { future: 'u32' } },
  panic_after: { parameters: ['u32'], result: { future: 'u32' } },
  panic_point: { parameters: [], result: { future: { struct: { x: 'f64', y: 'f64' } } } },
  never: { parameters: [], result: { future: 'void' } },
  never_unref: { name: 'never', parameters: [], result: { future: 'void' }, ref: false },
  late_wake: { parameters: ['u32'], result: { future: 'u32' } },
  pending_then_late_wake: { parameters: ['u32'], result: { future: 'u32' } },
} as const;

export const cAsyncDecls = {
  c_sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  c_ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
  c_futures_alive: { parameters: [], result: 'i64' },
  c_threads_alive: { parameters: [], result: 'i64' },
} as const;

export function openAsync(options?: OpenOptions) {
  return open(asyncPluginPath, asyncDecls, options);
}

export function openCAsync(options?: OpenOptions) {
  return open(cAsyncPath, cAsyncDecls, options);
}

export type AsyncLib = ReturnType<typeof openAsync>;
export type CAsyncLib = ReturnType<typeof openCAsync>;

// A full garbage collection without --expose-gc: V8 lets us turn the flag on at run time and
// fetch `gc` from a fresh context.
let gcFn: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;
export function fullGc(): void {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** Polls `pred` every few ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export interface Quiet {
  futuresAlive: number | bigint;
  wakersAlive: number | bigint;
  stringsAlive: number | bigint;
  cFuturesAlive: number | bigint;
  pending: number;
  wakerCells: number;
  wakerClones: number;
  loopRefs: number;
}

/** Waits until no plugin thread that could still call a waker is running, then reads every
 *  counter that must be zero when nothing is in flight. */
export async function quiesce(lib: AsyncLib, c?: CAsyncLib, timeoutMs = 5000): Promise<Quiet> {
  await waitUntil(
    () => lib.symbols.threads_alive() === 0 && (c === undefined || c.symbols.c_threads_alive() === 0),
    'the plugins\' threads to finish',
    timeoutMs,
  );
  // A tokio sleep task may still be between its send and its exit; give the runtime a moment.
  await waitUntil(() => lib.symbols.wakers_alive() === 0 && futureStats().wakerCells === 0, 'waker clones to be released', timeoutMs).catch(() => {});
  const s = futureStats();
  return {
    futuresAlive: lib.symbols.futures_alive(),
    wakersAlive: lib.symbols.wakers_alive(),
    stringsAlive: lib.symbols.async_strings_alive(),
    cFuturesAlive: c === undefined ? 0 : c.symbols.c_futures_alive(),
    pending: s.pending,
    wakerCells: s.wakerCells,
    wakerClones: s.wakerClones,
    loopRefs: s.loopRefs,
  };
}

export const QUIET: Quiet = {
  futuresAlive: 0,
  wakersAlive: 0,
  stringsAlive: 0,
  cFuturesAlive: 0,
  pending: 0,
  wakerCells: 0,
  wakerClones: 0,
  loopRefs: 0,
};

/** Differences of futureStats() and polls_total() over `fn`. */
export function statsDelta(before: ReturnType<typeof futureStats>): ReturnType<typeof futureStats> {
  const now = futureStats();
  const out = { ...now };
  for (const k of Object.keys(now) as (keyof typeof now)[]) {
    if (k !== 'pending' && k !== 'wakerCells' && k !== 'wakerClones' && k !== 'loopRefs' && k !== 'bytesPerPending') {
      out[k] = now[k] - before[k];
    }
  }
  return out;
}

/** How a promise ended, recorded without ever leaving a rejection unhandled. */
export interface Outcome<T> {
  settled: boolean;
  status?: 'fulfilled' | 'rejected';
  value?: T;
  reason?: unknown;
  done: Promise<void>;
}

export function track<T>(p: Promise<T>): Outcome<T> {
  const o = { settled: false } as Outcome<T>;
  o.done = p.then(
    (value) => {
      o.settled = true;
      o.status = 'fulfilled';
      o.value = value;
    },
    (reason: unknown) => {
      o.settled = true;
      o.status = 'rejected';
      o.reason = reason;
    },
  );
  return o;
}

/** Resolves with the rejection reason; fails if the promise fulfils. */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    const v = await p;
    throw new Error(`expected a rejection, got ${String(v)}`);
  } catch (e) {
    return e;
  }
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `node <script> ...args` and collects its output; kills it (SIGKILL) after `killAfterMs`. */
export function runNode(script: string, args: string[] = [], killAfterMs = 10_000): Promise<ChildResult> {
  if (!existsSync(distIndex)) throw new Error(`${distIndex} is missing: test/global-setup.ts builds it`);
  return new Promise((resolvePromise, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [script, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
