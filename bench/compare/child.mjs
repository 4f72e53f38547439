// One measurement process: `<runtime> bench/compare/child.mjs <system> <sync|async> [--ms N]`
// under Node, Deno or Bun. Loads sys-<system>.mjs, checks every case's result, then times each
// case with mitata's measure() and prints one JSON line. Each system runs in its own fresh process
// (bench/compare/run.mjs starts them, interleaved), so no system's JIT state, loaded libraries or
// threads touch another's.
import { do_not_optimize, measure } from '../../node_modules/mitata/src/main.mjs';

import { ARGS, SYNC_CASES, check, libraries } from './cases.mjs';
import { IN_FLIGHT } from './in-flight.mjs';

const argv = globalThis.Deno ? Deno.args : process.argv.slice(2);
const [system, suite] = argv;
const msArg = argv.indexOf('--ms');
const ms = msArg >= 0 ? Number(argv[msArg + 1]) : 150;
const runtime = globalThis.Deno ? `deno ${Deno.version.deno}` : globalThis.Bun ? `bun ${Bun.version}` : `node ${process.version}`;

const pick = (s) => ({ p50: s.p50, p25: s.p25, p75: s.p75, avg: s.avg, min: s.min, n: s.samples.length });
const errorOf = (e) => String(e?.message ?? e).split('\n')[0];

/** A thunk for mitata with the arguments bound and the result kept alive. */
function thunk(fn, args) {
  switch (args.length) {
    case 0:
      return () => do_not_optimize(fn());
    case 1: {
      const [a] = args;
      return () => do_not_optimize(fn(a));
    }
    default: {
      const [a, b] = args;
      return () => do_not_optimize(fn(a, b));
    }
  }
}

async function runSync(sys) {
  const out = {};
  for (const [lib, path] of Object.entries(libraries)) {
    out[lib] = {};
    let cases;
    try {
      cases = await sys.sync(path);
    } catch (e) {
      for (const c of SYNC_CASES) out[lib][c] = { error: errorOf(e) };
      continue;
    }
    for (const c of SYNC_CASES) {
      const fn = cases[c];
      if (!fn) {
        out[lib][c] = { unsupported: true };
        continue;
      }
      try {
        check(c, fn(...ARGS[c]));
        const t = thunk(fn, ARGS[c]);
        // mitata batches 4096 calls per sample when a call takes < 65 µs: for the µs-slow peers
        // that is ~0.7 s per case at its 12-sample minimum; 256-call batches keep them near `ms`.
        const t0 = performance.now();
        for (let k = 0; k < 200; k++) t();
        const slow = (performance.now() - t0) * 5 > 1; // > 1 µs per call
        out[lib][c] = pick(await measure(t, { min_cpu_time: ms * 1e6, ...(slow ? { batch_samples: 256 } : {}) }));
      } catch (e) {
        out[lib][c] = { error: errorOf(e) };
      }
    }
  }
  return out;
}

async function runAsync(sys) {
  const out = {};
  const cases = await sys.async();
  for (const [name, fn] of Object.entries(cases)) {
    out[name] = {};
    for (const n of IN_FLIGHT) {
      if (n > (fn.maxInFlight ?? Infinity)) {
        out[name][n] = { skipped: fn.limit ?? `at most ${fn.maxInFlight} in flight` };
        continue;
      }
      try {
        if ((await fn(41)) !== 42 && name === 'add') throw new Error('wrong result');
        let i = 0;
        let stats;
        if (n === 1) {
          stats = pick(await measure(async () => do_not_optimize(await fn(i++ & 0xffff)), { min_cpu_time: ms * 2e6 }));
        } else {
          // One sample = n calls started at once and awaited together; per-call figures divide by n.
          const wave = async () => {
            const ps = new Array(n);
            for (let k = 0; k < n; k++) ps[k] = fn(k & 0xffff);
            do_not_optimize(await Promise.all(ps));
          };
          const s = await measure(wave, n >= 100000 ? { min_samples: 1, max_samples: 3, min_cpu_time: 0, warmup_samples: 0 } : { min_samples: 10, min_cpu_time: ms * 2e6 });
          stats = Object.fromEntries(Object.entries(pick(s)).map(([k, v]) => [k, k === 'n' ? v : v / n]));
        }
        out[name][n] = stats;
      } catch (e) {
        out[name][n] = { error: errorOf(e) };
      }
    }
  }
  return out;
}

const sys = await import(`./sys-${system}.mjs`);
const results = suite === 'async' ? await runAsync(sys) : await runSync(sys);
console.log(JSON.stringify({ system, suite, runtime, version: await sys.version(), results }));
// Plugin threads (tokio, the ping thread) and kept-alive handles must not hold the process.
if (globalThis.Deno) Deno.exit(0);
else process.exit(0);
