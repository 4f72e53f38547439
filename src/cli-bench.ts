// `rustplug bench`: times one symbol, declared from the shell the way `call` declares it, with the
// harness of bench/ (src/harness.ts: mitata within interleaved rounds) and a baseline beside it in
// the same process, so that the figure that matters is a ratio taken round by round:
//  * a sync symbol against raw koffi calling the same address with the koffi types rustplug's
//    declaration compiles to (koffi is what rustplug calls through where it has no call of its
//    own), arguments already in koffi's form;
//  * a future against `await Promise.resolve(v)`, the floor of any await. koffi has no baseline
//    here: it calls sync functions (`.async` runs one on libuv's thread pool) and cannot poll the
//    FfiFuture such a symbol returns.

import { CallUsageError, closeQuietly, formatType, openCall, parseSignature, Progress, toJson, toText, type CallTarget, type OpenedCall } from './cli-call.js';
import { awaitSample, callSample, callThunk, interleaved, mitataVersion, ratios, summary, type Summary } from './harness.js';

export interface BenchRequest extends CallTarget {
  json: boolean;
  /** Timed rounds (each series once per round, after one untimed round). */
  rounds: number;
  /** mitata's minimum CPU time per series per round, in milliseconds. */
  timeMs: number;
}

export interface BenchIO {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Show the progress indicator (stderr is a terminal). */
  tty: boolean;
}

export const DEFAULT_ROUNDS = 5;
export const DEFAULT_TIME_MS = 150;
const WARMUP_ROUNDS = 1;

/** One timed series: per-call nanoseconds, summarised over rounds. */
export interface BenchSeries {
  name: 'rustplug' | 'koffi' | 'await';
  label: string;
  ns: Summary;
  rounds: number[];
}

/** What `rustplug bench --json` prints. */
export interface BenchReport {
  library: string;
  symbol: string;
  signature: string;
  kind: 'sync' | 'future';
  arguments: string[];
  /** The first call's result, as `call --json` prints it. */
  result: unknown;
  harness: { timer: 'mitata'; version: string; rounds: number; warmupRounds: number; timeMs: number };
  /** rustplug first, then the baseline (when there is one). */
  series: BenchSeries[];
  /** rustplug / baseline, taken round by round. */
  ratio: (Summary & { of: string; to: string; rounds: number[] }) | null;
  notes: string[];
}

interface Baseline {
  name: BenchSeries['name'];
  label: string;
  /** The baseline in the ratio's line. */
  short: string;
  sample: () => Promise<number>;
}

const NO_KOFFI_FOR_FUTURES =
  'no koffi baseline for a future: koffi calls sync functions (its .async runs one on a thread pool) and cannot poll the FfiFuture this symbol returns';

/**
 * raw koffi on the same function: the koffi types rustplug compiles the declaration to, a string
 * result decoded (and freed with --free, as a koffi disposable type), and the arguments converted
 * to koffi's form once, before timing (a koffi user passes them that way).
 */
async function koffiBaseline(opened: OpenedCall, symbol: string, timeMs: number): Promise<Baseline | string> {
  const koffi = (await import('koffi')).default;
  const { readDeclarations, isAggregateIR } = await import('./ir.js');
  const { snapshotOf } = await import('./snapshot.js');
  const { lib, values } = opened;
  try {
    const [ir] = readDeclarations({ [symbol]: opened.declaration });
    let result = ir!.result.koffiSync;
    if (ir!.result.isString) {
      const free = ir!.free === undefined ? undefined : (koffi.decode(lib.address(ir!.free), koffi.proto('void', ['void *'])) as (p: unknown) => void);
      result = free === undefined ? 'str' : koffi.disposable('str', free);
    }
    const raw = koffi.decode(lib.address(ir!.exported), koffi.proto(result, ir!.params.map((p) => p.koffiSync))) as (...args: unknown[]) => unknown;
    const args = values.map((v, i) => {
      const p = ir!.params[i]!;
      if (p.kind === 'struct') return snapshotOf(p.inner!)(v);
      if (p.kind === 'pointerTo') {
        // A scalar or array pointee goes in a one-element array (koffi takes a bare number as an address).
        const k = snapshotOf(p.inner!)(v);
        return isAggregateIR(p.inner) ? k : [k];
      }
      return v;
    });
    raw(...args);
    const thunk = await callThunk(raw, args);
    return { name: 'koffi', label: `koffi (raw) ${symbol}`, short: 'koffi', sample: () => callSample(thunk, timeMs) };
  } catch (e) {
    return `no koffi baseline: koffi refused this signature (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** The unit a time is best read in, and its digits: 36.5 ns, 1.20 µs, 14.0 ms. */
function unitOf(x: number): { div: number; unit: string; digits: number } {
  if (!(x >= 10)) return { div: 1, unit: 'ns', digits: 2 };
  if (x < 1e3) return { div: 1, unit: 'ns', digits: 1 };
  if (x < 1e6) return { div: 1e3, unit: 'µs', digits: x < 1e4 ? 2 : 1 };
  if (x < 1e9) return { div: 1e6, unit: 'ms', digits: x < 1e7 ? 2 : 1 };
  return { div: 1e9, unit: 's', digits: 2 };
}

/** A median and its quartiles in the median's unit: "36.5 ns [36.1–37.0]". */
export function formatTimes(s: Summary): string {
  const { div, unit, digits } = unitOf(s.median);
  const f = (x: number) => (x / div).toFixed(digits);
  return `${f(s.median)} ${unit} [${f(s.q1)}–${f(s.q3)}]`;
}

const ratioDigits = (x: number) => (x < 0.1 ? 4 : x < 100 ? 2 : 0);
const formatRatio = (s: Summary) => {
  const d = ratioDigits(s.median);
  return `${s.median.toFixed(d)}× [${s.q1.toFixed(d)}–${s.q3.toFixed(d)}]`;
};

/** The report for a reader; `resultText` is the first call's result as `call` prints it (null: void). */
function formatReport(r: BenchReport, resultText: string | null): string {
  const call = `${r.symbol}(${r.arguments.join(', ')})`;
  const h = r.harness;
  const per = r.kind === 'sync' ? 'call' : 'await';
  const lines = [
    `${r.symbol} ${r.signature} in ${r.library}`,
    resultText === null ? `${call} returns nothing` : `${call} ${r.kind === 'sync' ? 'returns' : 'resolves to'} ${resultText}`,
    `mitata ${h.version}: ${h.rounds} interleaved round${h.rounds === 1 ? '' : 's'} after ${h.warmupRounds} untimed, at least ${h.timeMs} ms of ${per}s per series per round; median [q1–q3] over rounds`,
    '',
  ];
  const w = Math.max(...r.series.map((s) => s.label.length));
  for (const s of r.series) lines.push(`  ${s.label.padEnd(w)}  ${formatTimes(s.ns)} per ${per}`);
  if (r.ratio) lines.push('', `  ${r.ratio.of} / ${r.ratio.to}: ${formatRatio(r.ratio)}, taken round by round`);
  if (r.notes.length) lines.push('', ...r.notes.map((n) => `  ${n}`));
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * Opens the symbol as `call` does, calls it once (its result is printed with the figures), then
 * times it beside its baseline. Resolves to 0. Throws CallUsageError for a bad signature or
 * argument (or a stream), and the library's errors as they are.
 */
export async function runBench(req: BenchRequest, io: BenchIO): Promise<number> {
  // Before anything is loaded: a stream has no one call to time.
  if (parseSignature(req.sig).mode === 'stream') {
    throw new CallUsageError(`bench times sync calls and futures; ${req.symbol} returns a stream (read it with rustplug call)`);
  }
  const opened = await openCall(req);
  const { sig, values, lib, fn, typed } = opened;
  const progress = new Progress(io.err, io.tty);
  try {
    const isFuture = sig.mode === 'future';
    let first: unknown;
    progress.start(`timing ${req.symbol}, first call`);
    try {
      first = isFuture ? await fn(...values) : fn(...values);
    } catch (e) {
      throw typed(e, req.symbol);
    }

    let rustplug: () => Promise<number>;
    let baseline: Baseline | string;
    if (isFuture) {
      // The same shape for both: a thunk whose Promise mitata awaits.
      const call = await callThunk(fn, values, (p) => p);
      const floor = () => Promise.resolve(first);
      rustplug = () => awaitSample(call, req.timeMs);
      baseline = { name: 'await', label: 'await Promise.resolve(result)', short: 'await Promise.resolve', sample: () => awaitSample(floor, req.timeMs) };
    } else {
      const thunk = await callThunk(fn, values);
      rustplug = () => callSample(thunk, req.timeMs);
      baseline = await koffiBaseline(opened, req.symbol, req.timeMs);
    }
    const notes: string[] = [];
    if (isFuture) notes.push(NO_KOFFI_FOR_FUTURES);
    if (typeof baseline === 'string') notes.push(baseline);
    const label = isFuture ? `rustplug await ${req.symbol}` : `rustplug ${req.symbol}`;
    const series: Record<string, () => Promise<number>> = { rustplug };
    if (typeof baseline !== 'string') series[baseline.name] = baseline.sample;

    let samples: Record<string, number[]>;
    try {
      samples = await interleaved(series, {
        rounds: req.rounds,
        warmup: WARMUP_ROUNDS,
        onRound: (round, name) => progress.relabel(`timing ${req.symbol}, ${round < 0 ? 'untimed round' : `round ${round + 1}/${req.rounds}`} (${name})`),
      });
    } catch (e) {
      throw typed(e, req.symbol);
    } finally {
      progress.stop();
    }

    const report: BenchReport = {
      library: req.lib,
      symbol: req.symbol,
      signature: `(${sig.parameters.map(formatType).join(', ')}) -> ${formatType(sig.result)}`,
      kind: isFuture ? 'future' : 'sync',
      arguments: req.args,
      result: sig.value === 'void' ? null : JSON.parse(toJson(first, sig.value)),
      harness: { timer: 'mitata', version: mitataVersion(), rounds: req.rounds, warmupRounds: WARMUP_ROUNDS, timeMs: req.timeMs },
      series: [{ name: 'rustplug', label, ns: summary(samples.rustplug!), rounds: samples.rustplug! }],
      ratio: null,
      notes,
    };
    if (typeof baseline !== 'string') {
      const b = samples[baseline.name]!;
      report.series.push({ name: baseline.name, label: baseline.label, ns: summary(b), rounds: b });
      const r = ratios(samples.rustplug!, b);
      report.ratio = { of: 'rustplug', to: baseline.short, ...summary(r), rounds: r };
    }
    io.out(req.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, toText(first, sig.value)));
    return 0;
  } finally {
    progress.stop();
    closeQuietly(lib);
  }
}
