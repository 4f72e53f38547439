// rustplug bench: the CLI as a child process (dist/cli.js) against the fixture plugins. Figures
// depend on the machine: these tests check the report's structure and that its numbers are
// figures (finite, positive, the ratio the quotient of the rounds), never how large they are.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { BenchReport } from '../src/cli-bench.js';
import { main } from '../src/cli.js';
import { FIXTURES } from './helpers/fixtures.js';
import { PLUGINS, REPO } from './helpers/plugins.js';

const CLI = join(REPO, 'dist', 'cli.js');
const BASIC = PLUGINS.basic;
const ASYNC = FIXTURES.async_plugin;
/** Short runs: the tests look at the shape of the report, not at its figures. */
const QUICK = ['--time', '5', '--rounds', '2'];

function cli(...argv: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...argv], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

function report(...argv: string[]): BenchReport {
  const r = cli('bench', '--json', ...QUICK, ...argv);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  return JSON.parse(r.out) as BenchReport;
}

/** Every figure of a report is a time or ratio: finite and positive, one per round. */
function expectFigures(r: BenchReport, names: string[]): void {
  expect(r.series.map((s) => s.name)).toEqual(names);
  for (const s of r.series) {
    expect(s.rounds).toHaveLength(r.harness.rounds);
    for (const x of [...s.rounds, s.ns.median, s.ns.q1, s.ns.q3]) {
      expect(Number.isFinite(x) && x > 0, `${s.name}: ${x}`).toBe(true);
    }
    expect(s.ns.q1).toBeLessThanOrEqual(s.ns.median);
    expect(s.ns.median).toBeLessThanOrEqual(s.ns.q3);
  }
  const [rustplug, baseline] = r.series;
  expect(r.ratio).not.toBeNull();
  expect(r.ratio!.median).toBeGreaterThan(0);
  // Taken round by round, not as a quotient of medians.
  expect(r.ratio!.rounds).toEqual(rustplug!.rounds.map((x, i) => x / baseline!.rounds[i]!));
}

const mitataVersion = (JSON.parse(readFileSync(join(REPO, 'node_modules', 'mitata', 'package.json'), 'utf8')) as { version: string }).version;

describe('bench: sync symbols against raw koffi', () => {
  it('add: rustplug and raw koffi, medians with quartiles, the ratio round by round (--json)', () => {
    const r = report(BASIC, 'add', '--sig', '(i32, i32) -> i32', '1', '2');
    expect(r).toMatchObject({
      library: BASIC,
      symbol: 'add',
      signature: '(i32, i32) -> i32',
      kind: 'sync',
      arguments: ['1', '2'],
      result: 3,
      harness: { timer: 'mitata', version: mitataVersion, rounds: 2, warmupRounds: 1, timeMs: 5 },
      ratio: { of: 'rustplug', to: 'koffi' },
      notes: [],
    });
    expectFigures(r, ['rustplug', 'koffi']);
  });

  it('the text report: the result, both rows and the ratio', () => {
    const r = cli('bench', BASIC, 'add', '--sig', '(i32,i32)->i32', ...QUICK, '-5', '7');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(`add (i32, i32) -> i32 in ${BASIC}`);
    expect(lines[1]).toBe('add(-5, 7) returns 2');
    expect(lines[2]).toMatch(/^mitata [\d.]+: 2 interleaved rounds after 1 untimed, at least 5 ms of calls per series per round; median \[q1–q3\] over rounds$/);
    const time = String.raw`[\d.]+ (ns|µs|ms) \[[\d.]+–[\d.]+\] per call`;
    expect(r.out).toMatch(new RegExp(String.raw`\n  rustplug add +${time}\n  koffi \(raw\) add +${time}\n`));
    expect(r.out).toMatch(/\n {2}rustplug \/ koffi: [\d.]+× \[[\d.]+–[\d.]+\], taken round by round\n$/);
  });

  it('strings freed by the plugin (--free: koffi frees them too), structs as JSON, buffers, void', () => {
    const greet = report(BASIC, 'greet', '--sig', '(string) -> string', '--free', 'basic_free_string', 'bench');
    expect(greet.result).toBe('Hello, bench!');
    expectFigures(greet, ['rustplug', 'koffi']);
    const point = '{x: f64, y: f64}';
    const add = report(BASIC, 'point_add', '--sig', `(${point}, ${point}) -> ${point}`, '{"x":1,"y":2}', '[3,4]');
    expect(add.result).toEqual({ x: 4, y: 6 });
    expectFigures(add, ['rustplug', 'koffi']);
    const bytes = report(BASIC, 'sum_bytes', '--sig', '(buffer, usize) -> u64', 'hex:0102ff', '3');
    expect(bytes.result).toBe(258);
    expectFigures(bytes, ['rustplug', 'koffi']);
    const nop = cli('bench', BASIC, 'nop', '--sig', '()', ...QUICK);
    expect(nop.code).toBe(0);
    expect(nop.out.split('\n')[1]).toBe('nop() returns nothing');
  });
});

describe('bench: futures', () => {
  it('each sample awaits one call; beside it the floor of an await, and why koffi has no baseline', () => {
    const r = report(ASYNC, 'ready_u64', '--sig', '(u64) -> future<u64>', '18446744073709551615');
    expect(r).toMatchObject({ symbol: 'ready_u64', kind: 'future', result: '18446744073709551615', ratio: { of: 'rustplug', to: 'await Promise.resolve' } });
    expectFigures(r, ['rustplug', 'await']);
    expect(r.notes).toEqual([expect.stringMatching(/^no koffi baseline for a future: /)]);
    const woken = cli('bench', ASYNC, 'remote_u64', '--sig', '(u64)->future<u64>', ...QUICK, '7');
    expect(woken.code).toBe(0);
    expect(woken.out).toContain('\nremote_u64(7) resolves to 7\n');
    expect(woken.out).toMatch(/\n {2}rustplug await remote_u64 +[\d.]+ (ns|µs|ms) \[[\d.–]+\] per await\n {2}await Promise\.resolve\(result\) +[\d.]+ (ns|µs|ms) \[[\d.–]+\] per await\n/);
    expect(woken.out).toContain('\n  no koffi baseline for a future: ');
  });

  it('a future that panics: ERR_PLUGIN_PANIC and its hint, exit 2, no stack trace', () => {
    const r = cli('bench', ASYNC, 'panic_on_poll', '--sig', '()->future<u32>', ...QUICK);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/\nERR_PLUGIN_PANIC: the future returned by 'panic_on_poll' panicked .*\nhint: the plugin panicked: .*\n$/);
    expect(r.err).not.toMatch(/\n {4}at /);
  });
});

describe('bench: errors', () => {
  const usage = (msg: string) => `rustplug: ${msg}\nTry 'rustplug bench --help'.\n`;

  it.each([
    [['add', '--sig', '(i32,int)->i32', '1', '2'], "--sig '(i32,int)->i32': unknown parameter type 'int' (did you mean 'i32'?) at column 6"],
    [['add', '--sig', '(i32,i32)->i32', '1', 'x'], "argument 2 (i32): 'x' is not a number"],
    [['add', '--sig', '(i32,i32)->i32', '1'], 'add (i32, i32) takes 2 arguments, got 1'],
    [['add', '1', '2'], "bench needs --sig, the symbol's signature, e.g. --sig '(i32, i32) -> i32'"],
    [['add', '--sig', '(i32,i32)->i32', '1', '2', '--time', '0'], "--time is milliseconds per series per round, more than 0 and at most 60000, not '0'"],
    [['add', '--sig', '(i32,i32)->i32', '1', '2', '--time', 'soon'], "--time is milliseconds per series per round, more than 0 and at most 60000, not 'soon'"],
    [['add', '--sig', '(i32,i32)->i32', '1', '2', '--rounds', '1.5'], "--rounds is a whole number from 1 to 1000, not '1.5'"],
    [['add', '--sig', '(i32,i32)->i32', '1', '2', '--rounds'], '--rounds needs a value'],
  ])('%j: a usage error, exit 1', (argv, msg) => {
    expect(cli('bench', BASIC, ...argv)).toEqual({ code: 1, signal: null, out: '', err: usage(msg) });
  });

  it('a stream is not timed: a usage error before the library is loaded', () => {
    expect(cli('bench', '/nonexistent/lib.so', 'ticks', '--sig', '(u32,u32)->stream<u64>', '1', '2')).toMatchObject({
      code: 1,
      err: usage('bench times sync calls and futures; ticks returns a stream (read it with rustplug call)'),
    });
  });

  it('a missing library or symbol: CODE: message and a hint, exit 2', () => {
    const file = cli('bench', '/nonexistent/libx.so', 'add', '--sig', '(i32,i32)->i32', '1', '2');
    expect(file.code).toBe(2);
    expect(file.err).toMatch(/^ERR_PLUGIN_NOT_FOUND: .*\nhint: check the path; .*\n$/);
    const symbol = cli('bench', BASIC, 'scalee', '--sig', '(f64,f64)->f64', '1', '2');
    expect(symbol.code).toBe(2);
    expect(symbol.err).toMatch(/^ERR_PLUGIN_MISSING_SYMBOL: .*'scalee'; did you mean 'scale'\?.*\nhint: rustplug inspect <lib> lists the exports .*\n$/);
  });

  it("bench's options are bench's: --time and --rounds elsewhere are usage errors", () => {
    expect(cli('call', BASIC, 'add', '--sig', '(i32,i32)->i32', '--time', '5', '1', '2')).toMatchObject({ code: 1, err: "rustplug: --time applies to bench\nTry 'rustplug call --help'.\n" });
    expect(cli('sri', '--rounds', '3', BASIC)).toMatchObject({ code: 1, err: "rustplug: --rounds applies to bench\nTry 'rustplug sri --help'.\n" });
  });
});

describe('bench: progress in-process', () => {
  it('on a terminal, a spinner saying which round runs, erased before the report', async () => {
    let out = '';
    let err = '';
    const code = await main(['bench', BASIC, 'add', '--sig', '(i32,i32)->i32', '--time', '300', '--rounds', '2', '1', '2'], (s) => (out += s), (s) => (err += s), { tty: true });
    expect(code).toBe(0);
    expect(err).toMatch(/^\r. timing add, (untimed round|round \d\/2) \((rustplug|koffi)\): \d+\.\d s \(Ctrl-C cancels\)\x1b\[K/);
    expect(err.endsWith('\r\x1b[K')).toBe(true);
    expect(out).toMatch(/^add \(i32, i32\) -> i32 in /);
  });
});
