// The cross-system comparison: every system in fresh processes (bench/compare/child.mjs under
// Node, Deno or Bun), interleaved: each round starts one process per system, in an order rotated
// from round to round, so slow drifts of the machine (other tenants, CPU frequency) fall on every
// system alike. mitata times each case inside a process; a figure is the median over rounds of
// that process's median, with the interquartile range over rounds, and every ratio is taken
// round by round (a system against rustplug in the same round) before its median is taken.
//
// mitata has no mode that interleaves several processes (or several functions) round by round,
// which is what makes ratios trustworthy on a shared 2-core VM; so mitata measures, and this file
// keeps the interleaved-rounds design of the earlier benchmarks.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { summary } from '../common.mjs';
import { CASE_LABELS, SYNC_CASES, root } from './cases.mjs';
import { IN_FLIGHT } from './in-flight.mjs';

const peersBin = join(root, 'bench', 'peers', 'node_modules', '.bin');
const child = join(root, 'bench', 'compare', 'child.mjs');

/** How each system is started, its label, and why it may be left out of a suite. */
export const SYSTEMS = {
  rustplug: { label: 'rustplug', cmd: () => [process.execPath, child] },
  koffi: { label: 'koffi (raw)', cmd: () => [process.execPath, child] },
  napi: { label: 'Node-API addon (floor)', cmd: () => [process.execPath, child] },
  js: { label: 'plain JS', cmd: () => [process.execPath, child], async: 'no FFI: nothing asynchronous to compare' },
  'ffi-rs': { label: 'ffi-rs', peer: true, cmd: () => [process.execPath, child] },
  'ffi-napi': { label: 'ffi-napi', peer: true, cmd: () => [process.execPath, child] },
  deno: { label: 'Deno.dlopen', peer: true, cmd: () => [join(peersBin, 'deno'), 'run', '--allow-ffi', '--allow-read', '--allow-env', child] },
  bun: { label: 'bun:ffi', peer: true, cmd: () => [join(peersBin, 'bun'), child], async: 'bun:ffi has no asynchronous (thread-pool) call' },
};

/** Labels of the async series: `<system>:<case>`. */
export const ASYNC_LABELS = {
  'rustplug:ready': 'rustplug future, Ready at once (`ready_u64`)',
  'rustplug:woken': 'rustplug future, woken by a plugin thread (`remote_u64`)',
  'koffi:add': 'koffi `.async` (`add`, libuv thread pool)',
  'deno:add': 'Deno `nonblocking` (`add`)',
  'ffi-rs:add': 'ffi-rs `runInNewThread` (`add`)',
  'ffi-napi:add': 'ffi-napi `.async` (`add`)',
  'napi:add': '`napi_async_work` addon (`add`, floor of a thread-pool call)',
  'napi:ping': '`uv_async_send` ping-pong (floor of a wake)',
};

function runChild(system, suite, ms, pin) {
  const [cmd, ...args] = SYSTEMS[system].cmd();
  if (!existsSync(cmd)) return { error: `${cmd.replace(`${root}`, '')} is missing (bench/peers/install.mjs did not install it)` };
  const argv = [cmd, ...args, system, suite, '--ms', String(ms)];
  const [exe, ...rest] = pin === undefined ? argv : ['taskset', '-c', pin, ...argv];
  const r = spawnSync(exe, rest, {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    timeout: 10 * 60 * 1000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status === 0 && line) {
    try {
      return JSON.parse(line);
    } catch {
      // fall through
    }
  }
  const why = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').filter(Boolean);
  return { error: `exit ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}: ${why.find((l) => /error/i.test(l)) ?? why.pop() ?? 'no output'}`.slice(0, 300) };
}

/**
 * Runs `suite` ('sync' | 'async') for `systems` over `rounds` interleaved rounds. Returns
 * { samples: { [system]: [round results] }, versions, runtimes, failed: { [system]: reason } }.
 */
function rounds(suite, systems, { rounds: n, ms, log, pin }) {
  const samples = Object.fromEntries(systems.map((s) => [s, []]));
  const versions = {};
  const runtimes = {};
  const failed = {};
  for (let r = 0; r < n; r++) {
    const live = systems.filter((s) => !(s in failed));
    const k = r % live.length;
    const order = [...live.slice(k), ...live.slice(0, k)];
    const t0 = Date.now();
    for (const system of order) {
      const out = runChild(system, suite, ms, pin);
      if (out.error) {
        failed[system] = out.error;
        log(`  ${suite} ${system}: failed, left out: ${out.error}`);
        continue;
      }
      versions[system] = out.version;
      runtimes[system] = out.runtime;
      samples[system].push(out.results);
    }
    log(`  ${suite} round ${r + 1}/${n}: ${order.join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  return { samples, versions, runtimes, failed };
}

const stat = (xs) => (xs.length ? summary(xs) : undefined);

/** Per-round values of one figure, or a note when the system never produced it. */
function series(roundsOf, get) {
  const values = [];
  let note;
  for (const res of roundsOf) {
    const v = get(res);
    if (v && typeof v.p50 === 'number') values.push(v.p50);
    else if (v) note = v.error ?? v.skipped ?? (v.unsupported ? 'not supported' : undefined);
  }
  return { values, note };
}

/**
 * `pin`: a CPU list for taskset. Sync calls are single-threaded, and this VM's two vCPUs differ by
 * up to 1.5× in the time of one call (whichever one a process lands on decides its every figure),
 * so every system's process runs on the same CPU.
 */
export function runSync({ rounds: n = 5, ms = 150, systems = Object.keys(SYSTEMS), log = console.log, pin } = {}) {
  const run = rounds('sync', systems, { rounds: n, ms, log, pin });
  const rows = [];
  for (const lib of ['rust', 'c']) {
    for (const c of SYNC_CASES) {
      const base = series(run.samples.rustplug ?? [], (res) => res[lib]?.[c]).values;
      const cells = {};
      for (const system of systems) {
        if (run.failed[system] && !run.samples[system].length) {
          cells[system] = { note: 'did not run' };
          continue;
        }
        const { values, note } = series(run.samples[system], (res) => res[lib]?.[c]);
        const ratio = values.length === base.length && base.length ? values.map((v, i) => v / base[i]) : [];
        cells[system] = { ns: stat(values), ratio: stat(ratio), note: values.length ? undefined : note };
      }
      rows.push({ lib, case: c, label: CASE_LABELS[c], cells });
    }
  }
  return { rounds: n, msPerCase: ms, pinned: pin, systems, rows, versions: run.versions, runtimes: run.runtimes, failed: run.failed };
}

export function runAsync({ rounds: n = 3, ms = 150, systems = Object.keys(SYSTEMS).filter((s) => !SYSTEMS[s].async), log = console.log } = {}) {
  const run = rounds('async', systems, { rounds: n, ms, log });
  const base = Object.fromEntries(IN_FLIGHT.map((f) => [f, series(run.samples.rustplug ?? [], (res) => res.woken?.[f]).values]));
  const rows = [];
  for (const system of systems) {
    const names = [...new Set((run.samples[system] ?? []).flatMap((res) => Object.keys(res)))];
    if (!names.length) rows.push({ key: `${system}:add`, label: ASYNC_LABELS[`${system}:add`] ?? system, cells: {}, note: run.failed[system] ?? 'did not run' });
    for (const name of names) {
      const cells = {};
      for (const f of IN_FLIGHT) {
        const { values, note } = series(run.samples[system], (res) => res[name]?.[f]);
        const b = base[f];
        const ratio = values.length === b.length && b.length ? values.map((v, i) => v / b[i]) : [];
        cells[f] = { ns: stat(values), ratio: stat(ratio), note: values.length ? undefined : note };
      }
      rows.push({ key: `${system}:${name}`, label: ASYNC_LABELS[`${system}:${name}`] ?? `${system} ${name}`, cells });
    }
  }
  return { rounds: n, systems, inFlight: IN_FLIGHT, rows, versions: run.versions, runtimes: run.runtimes, failed: run.failed };
}

export function runMemory({ counts = [100000, 1000000], log = console.log } = {}) {
  const out = [];
  for (const count of counts) {
    const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'bench', 'compare', 'memory.mjs'), String(count)], {
      cwd: root,
      encoding: 'utf8',
      timeout: 5 * 60 * 1000,
    });
    const line = (r.stdout ?? '').trim().split('\n').pop();
    try {
      out.push(JSON.parse(line));
      log(`  memory ${count.toLocaleString('en-US')} pending: done`);
    } catch {
      out.push({ count, error: `exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').pop()}` });
    }
  }
  return out;
}

/** Systems that are not compared in a suite, with the reason (for the tables). */
export function leftOut(suite) {
  return Object.entries(SYSTEMS)
    .filter(([, s]) => suite === 'async' && s.async)
    .map(([name, s]) => ({ system: name, label: s.label, reason: s.async }));
}
