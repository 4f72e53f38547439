// The timing harness of `rustplug bench` and of the benchmarks in bench/ (which import it from
// dist/): mitata times a function within one round; rounds run every series of a comparison in an
// order rotated from round to round, so slow drifts of the machine (other tenants, CPU frequency)
// fall on every series alike, and ratios are taken round by round. mitata has no mode that
// interleaves several functions round by round, which is what makes a ratio trustworthy on a
// shared VM: so mitata measures and this file keeps the rounds. Nothing here asserts or fails on
// a figure.
import { createRequire } from 'node:module';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import type { k_options } from 'mitata';

/** mitata's options for measure(). */
export type MeasureOptions = k_options;

/** Median, quartiles and extremes of a list of samples. */
export interface Summary {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  n: number;
}

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summary(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), q1: quantile(s, 0.25), q3: quantile(s, 0.75), min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** Round-by-round ratios a[i] / b[i]. */
export const ratios = (a: readonly number[], b: readonly number[]): number[] => a.map((x, i) => x / b[i]!);

let collect: (() => void) | null | undefined;

/**
 * A full garbage collection, or undefined when V8 cannot give one. `node --expose-gc` (bench/)
 * provides it; otherwise (the CLI) the flag is set now and a fresh context hands out its gc: a
 * collection between series keeps one series' garbage from being collected in another's time, and
 * without one mitata would fall back to allocating a 1 GiB array to force a collection.
 */
export function collector(): (() => void) | undefined {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') collect = exposed;
    else {
      try {
        setFlagsFromString('--expose-gc');
        const gc: unknown = runInNewContext('gc');
        collect = typeof gc === 'function' ? (gc as () => void) : null;
      } catch {
        collect = null;
      }
    }
  }
  return collect ?? undefined;
}

/**
 * Runs every series once per round, in a rotated order each round (so no series always runs
 * first), after `warmup` untimed rounds, with a turn of the event loop and a full collection
 * before each. `series` maps a name
 * to one sample (e.g. mitataSample's nanoseconds). Returns each series' samples in round order,
 * so ratios can be taken round by round. `onRound` hears of each round before it runs (negative:
 * a warmup round).
 */
export async function interleaved<K extends string, T>(
  series: Record<K, () => T | Promise<T>>,
  { rounds, warmup = 2, onRound }: { rounds: number; warmup?: number; onRound?: (round: number, name: K) => void },
): Promise<Record<K, T[]>> {
  const names = Object.keys(series) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as T[]])) as Record<K, T[]>;
  const gc = collector();
  for (let r = -warmup; r < rounds; r++) {
    const k = ((r % names.length) + names.length) % names.length;
    const order = [...names.slice(k), ...names.slice(0, k)];
    for (const name of order) {
      onRound?.(r, name);
      // A turn of the event loop: timers, I/O and native callbacks the previous series queued run
      // here, outside any series' time (a sync series never yields, nor do microtasks).
      await new Promise((resolve) => setImmediate(resolve));
      gc?.();
      const v = await series[name]();
      if (r >= 0) samples[name].push(v);
    }
  }
  return samples;
}

const mitata = () => import('mitata');

/** The mitata in use (for results: which harness timed them). */
export function mitataVersion(): string {
  return (createRequire(import.meta.url)('mitata/package.json') as { version: string }).version;
}

/** mitata's statistics of `fn` (sync or async), with this harness's collector. */
export async function measure(fn: () => unknown, opts: MeasureOptions = {}) {
  const { measure } = await mitata();
  return measure(fn, { gc: collector() ?? false, ...opts });
}

/**
 * One sample for an interleaved round: the median nanoseconds of `fn` (sync or async) over
 * mitata's own samples, taken for at least `min_cpu_time` (default 100 ms).
 */
export async function mitataSample(fn: () => unknown, opts: MeasureOptions = {}): Promise<number> {
  return (await measure(fn, { min_cpu_time: 100e6, ...opts })).p50;
}

/**
 * `fn(...args)` as a thunk for mitata: the arguments bound (no spread for up to three, the same
 * thunk for every series of a comparison) and the result passed to `use`. By default that is
 * mitata's do_not_optimize, which keeps a sync call's result alive; `(p) => p` hands an async
 * call's Promise to mitata, which awaits it. (bench/compare/child.mjs keeps its own copy: it runs
 * under Deno and Bun too, which do not resolve this file's imports the way Node does.)
 */
export async function callThunk(fn: (...args: unknown[]) => unknown, args: readonly unknown[], use?: (result: unknown) => unknown): Promise<() => unknown> {
  const keep = use ?? (await mitata()).do_not_optimize;
  switch (args.length) {
    case 0:
      return () => keep(fn());
    case 1: {
      const [a] = args;
      return () => keep(fn(a));
    }
    case 2: {
      const [a, b] = args;
      return () => keep(fn(a, b));
    }
    case 3: {
      const [a, b, c] = args;
      return () => keep(fn(a, b, c));
    }
    default:
      return () => keep(fn(...args));
  }
}

/**
 * One sample of a sync call `thunk` for an interleaved round: mitata's median over at least `ms`
 * of CPU time. mitata batches 4,096 calls per sample when a call takes < 65 µs; for calls slower
 * than a µs that is seconds at its 12-sample minimum, so those get 256-call batches.
 */
export async function callSample(thunk: () => unknown, ms: number): Promise<number> {
  const t0 = performance.now();
  for (let k = 0; k < 200; k++) thunk();
  const slow = (performance.now() - t0) * 5 > 1; // > 1 µs per call
  return mitataSample(thunk, { min_cpu_time: ms * 1e6, ...(slow ? { batch_samples: 256 } : {}) });
}

/**
 * One sample of an awaited call for an interleaved round: mitata's median over at least `ms` of
 * CPU time, `op` returning a Promise that mitata awaits (one call and one await per iteration).
 */
export async function awaitSample(op: () => unknown, ms: number): Promise<number> {
  return mitataSample(op, { min_cpu_time: ms * 1e6 });
}

/**
 * `n` sequential calls of `op` (each returning a Promise), each awaited and timed on its own by
 * mitata (no batching): their nanoseconds, sorted, for latency quantiles. mitata drops the two
 * fastest and two slowest samples; four more are taken so that `n` remain.
 */
export async function latencies(op: () => unknown, n: number): Promise<number[]> {
  const s = await measure(op, { min_samples: n + 4, max_samples: n + 4, min_cpu_time: 0, batch_threshold: -1 });
  return s.samples;
}
