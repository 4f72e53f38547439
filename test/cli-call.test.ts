// rustplug call: the CLI as a child process (dist/cli.js) against the fixture plugins, plus the
// signature and argument parsers and the progress indicator in-process.
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseArgument, parseSignature } from '../src/cli-call.js';
import { COMMAND_HELP, main } from '../src/cli.js';
import { sriOf } from '../src/integrity.js';
import { rustSysrootLibDir } from '../src/sysroot.js';
import { FIXTURES } from './helpers/fixtures.js';
import { PLUGINS, REPO, tempDir } from './helpers/plugins.js';

const CLI = join(REPO, 'dist', 'cli.js');
const BASIC = PLUGINS.basic;
const ASYNC = FIXTURES.async_plugin;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

function cli(...argv: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...argv], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/**
 * Starts the CLI with NODE_DEBUG=rustplug, waits until stderr matches `ready` (e.g. the future's
 * start), then runs `act` on the child; resolves when it exits (killed after 20 s: a hang fails).
 */
function cliUntil(argv: string[], ready: RegExp, act: (child: ReturnType<typeof spawn>) => void): Promise<Run & { actedAt: number; exitedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...argv], { cwd: REPO, env: { ...process.env, NODE_DEBUG: 'rustplug' } });
    let out = '';
    let err = '';
    let actedAt = 0;
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      if (!actedAt && ready.test(err)) {
        actedAt = performance.now();
        act(child);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, out, err, actedAt, exitedAt: performance.now() });
    });
  });
}

/** The CLI's stderr without NODE_DEBUG's lines. */
const ownLines = (err: string) => err.split('\n').filter((l) => l && !l.startsWith('RUSTPLUG ')).join('\n');

describe('call: synchronous symbols', () => {
  it('add (i32, i32) -> i32, also with negative numbers', () => {
    expect(cli('call', BASIC, 'add', '--sig', '(i32,i32)->i32', '1', '2')).toEqual({ code: 0, signal: null, out: '3\n', err: '' });
    expect(cli('call', BASIC, 'add', '--sig', '( i32 , i32 ) -> i32', '-5', '-0x10').out).toBe('-21\n');
    expect(cli('call', '--json', BASIC, 'add', '--sig', '(i32,i32)->i32', '--', '-1', '1')).toMatchObject({ code: 0, out: '0\n' });
  });

  it('64-bit results beyond 2^53 print whole; --json gives them as strings', () => {
    expect(cli('call', BASIC, 'u64_max', '--sig', '()->u64').out).toBe('18446744073709551615\n');
    expect(cli('call', BASIC, 'u64_max', '--sig', '()->u64', '--json').out).toBe('"18446744073709551615"\n');
    expect(cli('call', BASIC, 'i64_min', '--sig', '() -> i64').out).toBe('-9223372036854775808\n');
    expect(cli('call', BASIC, 'echo_u64', '--sig', '(u64)->u64', '18446744073709551614').out).toBe('18446744073709551614\n');
  });

  it('floats, bools, strings (borrowed and freed), structs as JSON, buffers', () => {
    expect(cli('call', BASIC, 'scale', '--sig', '(f64,f64)->f64', '1.5', '-2').out).toBe('-3\n');
    expect(cli('call', BASIC, 'not_bool', '--sig', '(bool)->bool', 'false').out).toBe('true\n');
    expect(cli('call', BASIC, 'version', '--sig', '()->string').out).toBe('basic 1.0.0\n');
    expect(cli('call', BASIC, 'greet', '--sig', '(string)->string', '--free', 'basic_free_string', 'shell').out).toBe('Hello, shell!\n');
    expect(cli('call', BASIC, 'greet', '--sig', '(string)->string', '--free', 'basic_free_string', 'shell', '--json').out).toBe('"Hello, shell!"\n');
    const point = '{x: f64, y: f64}';
    expect(cli('call', BASIC, 'point_add', '--sig', `(${point}, ${point}) -> ${point}`, '{"x":1,"y":2}', '{"x":3,"y":"4.5"}').out).toBe('{"x":4,"y":6.5}\n');
    expect(cli('call', BASIC, 'point_len', '--sig', '({f64, f64}) -> f64', '[3, 4]').out).toBe('5\n');
    expect(cli('call', BASIC, 'sum_bytes', '--sig', '(buffer, usize) -> u64', 'hex:0102ff', '3').out).toBe('258\n');
    expect(cli('call', BASIC, 'sum_bytes', '--sig', '(buffer, usize) -> u64', 'AB', '2').out).toBe(`${65 + 66}\n`);
    expect(cli('call', BASIC, 'sum_bytes', '--sig', '(buffer, usize) -> u64', 'null', '0').out).toBe('0\n');
  });
});

describe('call: futures and streams', () => {
  it('awaits a future (ready at once, and woken later); nothing on stderr off a terminal', () => {
    expect(cli('call', ASYNC, 'ready_u64', '--sig', '(u64)->future<u64>', '18446744073709551615')).toEqual({ code: 0, signal: null, out: '18446744073709551615\n', err: '' });
    expect(cli('call', ASYNC, 'sleep_u64', '--sig', '(u32,u64)->future<u64>', '1200', '7', '--json')).toEqual({ code: 0, signal: null, out: '7\n', err: '' });
    expect(cli('call', ASYNC, 'ready_point', '--sig', '(f64,f64)->future<{x:f64,y:f64}>', '1', '2').out).toBe('{"x":1,"y":2}\n');
    expect(cli('call', ASYNC, 'ready_void', '--sig', '()->future<void>')).toEqual({ code: 0, signal: null, out: '', err: '' });
    expect(cli('call', ASYNC, 'ready_void', '--sig', '()->future<()>', '--json').out).toBe('null\n');
  });

  it('prints each stream item on its own line, as it arrives', async () => {
    let first: string | undefined;
    const r = await new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'call', ASYNC, 'ticks', '--sig', '(u32,u32)->stream<u64>', '300', '3'], { cwd: REPO });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        first ??= String(d);
        out += d;
      });
      child.stderr.on('data', (d: Buffer) => (err += d));
      child.on('exit', (code, signal) => resolve({ code, signal, out, err }));
    });
    expect(r).toEqual({ code: 0, signal: null, out: '0\n1\n2\n', err: '' });
    expect(first).toBe('0\n');  // not the three lines at the end
    expect(cli('call', ASYNC, 'words', '--sig', '(string)->stream<string>', '--free', 'async_free_string', 'a b c', '--json').out).toBe('"a"\n"b"\n"c"\n');
  });

  it('SIGINT while a future is pending: the future is dropped, a message, exit 130, promptly', async () => {
    const r = await cliUntil(['call', ASYNC, 'sleep_u64', '--sig', '(u32,u64)->future<u64>', '20000', '7'], /future sleep_u64 #1: start\n/, (c) => c.kill('SIGINT'));
    expect(r.signal).toBe(null);
    expect(r.code).toBe(130);
    expect(r.out).toBe('');
    expect(ownLines(r.err)).toBe("rustplug: interrupted: sleep_u64's future was dropped");
    expect(r.err).toMatch(/future sleep_u64 #1: rejected after [\d.]+ ms \(ABORT_ERR\)/);
    expect(r.err).toMatch(/close \S+libasync_plugin\.so: 0 future\(s\)\/stream\(s\) pending/);
    expect(r.exitedAt - r.actedAt).toBeLessThan(10_000);  // not the 20 s sleep
  });

  it('SIGINT during an endless stream of ready items: dropped, exit 130', async () => {
    const r = await cliUntil(['call', ASYNC, 'naturals', '--sig', '()->stream<u64>'], /bind naturals/, (c) => {
      let seen = '';
      const onData = (d: Buffer) => {
        seen += d;
        if (seen.split('\n').length > 3) {
          c.stdout!.off('data', onData);
          c.kill('SIGINT');
        }
      };
      c.stdout!.on('data', onData);
    });
    expect(r.code).toBe(130);
    expect(ownLines(r.err)).toMatch(/^rustplug: interrupted after \d+ items?: naturals's stream was dropped$/);
    expect(r.err).toMatch(/close \S+: 0 future\(s\)\/stream\(s\) pending/);
    const lines = r.out.trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual(['0', '1', '2']);
  });

  it('a reader that goes away (| head) ends the stream quietly, exit 0', async () => {
    const r = await cliUntil(['call', ASYNC, 'naturals', '--sig', '()->stream<u64>'], /bind naturals/, (c) => c.stdout!.once('data', () => c.stdout!.destroy()));
    expect(r.code).toBe(0);
    expect(ownLines(r.err)).toBe('');
    expect(r.err).toMatch(/close \S+: 0 future\(s\)\/stream\(s\) pending/);
  });

  it('a panicking future: ERR_PLUGIN_PANIC with the message, exit 2', () => {
    const r = cli('call', ASYNC, 'panic_on_poll', '--sig', '()->future<u32>');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/\nERR_PLUGIN_PANIC: the future returned by 'panic_on_poll' panicked while being polled: panic_on_poll: expected panic from the async-plugin fixture at async-plugin\/src\/lib\.rs:\d+:\d+.*\nhint: the plugin panicked: .*\n$/);
  });
});

describe('call: progress and interrupts in-process', () => {
  async function run(argv: string[], io: Parameters<typeof main>[3]) {
    let out = '';
    let err = '';
    const code = await main(argv, (s) => (out += s), (s) => (err += s), io);
    return { code, out, err };
  }

  it('on a terminal, a spinner with the time waited after a second, erased when the result comes', async () => {
    const r = await run(['call', ASYNC, 'sleep_u64', '--sig', '(u32,u64)->future<u64>', '1600', '9'], { tty: true });
    expect(r.code).toBe(0);
    expect(r.out).toBe('9\n');
    expect(r.err).toMatch(/^\r. waiting for sleep_u64: 1\.\d s \(Ctrl-C cancels\)\x1b\[K/);
    expect(r.err.endsWith('\r\x1b[K')).toBe(true);
    const quick = await run(['call', ASYNC, 'sleep_u64', '--sig', '(u32,u64)->future<u64>', '50', '9'], { tty: true });
    expect(quick).toEqual({ code: 0, out: '9\n', err: '' });
  });

  it("SIGINT from the io's emitter aborts; the listener is gone afterwards", async () => {
    const interrupts = new EventEmitter();
    const processListeners = process.listenerCount('SIGINT');
    const pending = run(['call', ASYNC, 'sleep_u64', '--sig', '(u32,u64)->future<u64>', '20000', '1'], { tty: false, interrupts });
    await new Promise((r) => setTimeout(r, 200));
    expect(interrupts.listenerCount('SIGINT')).toBe(1);
    interrupts.emit('SIGINT');
    expect(await pending).toEqual({ code: 130, out: '', err: "rustplug: interrupted: sleep_u64's future was dropped\n" });
    expect(interrupts.listenerCount('SIGINT')).toBe(0);
    expect(process.listenerCount('SIGINT')).toBe(processListeners);  // the process's own signal was never taken
  });
});

describe('call: errors', () => {
  const usage = (msg: string) => `rustplug: ${msg}\nTry 'rustplug call --help'.\n`;

  it.each([
    ['(i32 i32)->i32', "--sig '(i32 i32)->i32': expected ')' after the parameters, found 'i32)->i3' at column 6"],
    ['(int,i32)->i32', "--sig '(int,i32)->i32': unknown parameter type 'int' (did you mean 'i32'?) at column 2"],
    ['(i32,i32)->i3', "--sig '(i32,i32)->i3': unknown result type 'i3' (did you mean 'i32' or 'i8' or 'f32'?) at column 12"],
    ['(i32,i32)->future<u64', "--sig '(i32,i32)->future<u64': expected '>' to close future<…>, found the end at column 22"],
    ['i32,i32', "--sig 'i32,i32': expected '(' at the start (e.g. (i32,i32)->i32), found 'i32,i32' at column 1"],
    ['(i32,i32)->[u8;4]', "--sig '(i32,i32)->[u8;4]': an array cannot be a result (C returns no arrays): wrap it in a struct {[T; N]} at column 12"],
    ['(i32,i32)->future<stream<u8>>', "--sig '(i32,i32)->future<stream<u8>>': stream<…> inside future<…> is not a type rustplug knows at column 19"],
    ['(i32,i32)->{}', "--sig '(i32,i32)->{}': symbol 'add' result: a struct needs at least one field (a zero-sized repr(C) struct has no C equivalent)"],
  ])('bad signature %s: exit 1 and what is wrong', (sig, msg) => {
    expect(cli('call', BASIC, 'add', '--sig', sig, '1', '2')).toEqual({ code: 1, signal: null, out: '', err: usage(msg) });
  });

  it.each([
    [['1', 'x'], "argument 2 (i32): 'x' is not a number"],
    [['1.5', '2'], "argument 1 (i32): '1.5' is not an integer"],
    [['1', '3000000000'], '3000000000 is out of range (-2147483648 to 2147483647)'],
    [['1'], 'add (i32, i32) takes 2 arguments, got 1'],
    [['1', '2', '3'], 'add (i32, i32) takes 2 arguments, got 3'],
  ])('bad arguments %j: exit 1 naming the argument', (args, msg) => {
    const r = cli('call', BASIC, 'add', '--sig', '(i32,i32)->i32', ...args);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain(msg);
    expect(r.err).toMatch(/\nTry 'rustplug call --help'\.\n$/);
  });

  it('missing symbol: ERR_PLUGIN_MISSING_SYMBOL with a suggestion and a hint, exit 2', () => {
    const r = cli('call', BASIC, 'scalee', '--sig', '(f64,f64)->f64', '1', '2');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `ERR_PLUGIN_MISSING_SYMBOL: ${BASIC} does not export 'scalee'; did you mean 'scale'? (exports need #[no_mangle] pub extern "C" fn in Rust)\n` +
        'hint: rustplug inspect <lib> lists the exports (a Rust export needs #[no_mangle] pub extern "C" fn)\n',
    );
  });

  it('missing --sig, library or symbol; options of other commands', () => {
    expect(cli('call', BASIC, 'add', '1', '2')).toMatchObject({ code: 1, err: usage("call needs --sig, the symbol's signature, e.g. --sig '(i32, i32) -> i32'") });
    expect(cli('call', BASIC)).toMatchObject({ code: 1, err: usage("call needs a library and a symbol (rustplug call <lib> <symbol> --sig '(i32,i32)->i32' 1 2)") });
    expect(cli('call', '--algo', 'sha512', BASIC, 'add')).toMatchObject({ code: 1, err: usage('--algo applies to sri') });
    expect(cli('inspect', '--sig', '()', BASIC)).toMatchObject({ code: 1, err: "rustplug: --sig applies to call and bench\nTry 'rustplug inspect --help'.\n" });
    expect(cli('call', BASIC, 'version', '--sig', '()->u32', '--free', 'basic_free_string')).toMatchObject({ code: 1, err: usage('--free applies to a string result; this signature returns u32') });
  });

  it('a file that is not there, and a result that does not match the symbol', () => {
    const r = cli('call', '/nonexistent/libx.so', 'add', '--sig', '(i32,i32)->i32', '1', '2');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^ERR_PLUGIN_NOT_FOUND: .*\nhint: check the path; .*\n$/);
    // version() returns a C string, not an FfiStream: rustplug notices the null poll function.
    const s = cli('call', BASIC, 'version', '--sig', '()->stream<u64>');
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/^ERR_PLUGIN_BAD_DECLARATION: .*'version'.*FfiStream.*\nhint: .*\n$/);
  });
});

describe('call: open() options', () => {
  it('--integrity: the right value loads, another refuses with ERR_PLUGIN_INTEGRITY', () => {
    expect(cli('call', BASIC, 'add', '--sig', '(i32,i32)->i32', '--integrity', sriOf(BASIC), '2', '2').out).toBe('4\n');
    const r = cli('call', BASIC, 'add', '--sig', '(i32,i32)->i32', '--integrity', sriOf(ASYNC), '2', '2');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^ERR_PLUGIN_INTEGRITY: .*\nhint: the file is not the one the integrity value was taken of: rustplug sri <lib> prints this file's\n$/);
    expect(cli('call', BASIC, 'add', '--sig', '(i32,i32)->i32', '--integrity', 'md5-x', '2', '2')).toMatchObject({ code: 2, err: expect.stringMatching(/^ERR_PLUGIN_BAD_INTEGRITY: /) });
  });

  it('--allow-insecure loads a plugin in a directory others may write', () => {
    const d = join(tempDir(), 'open');
    mkdirSync(d);
    chmodSync(d, 0o777);
    const lib = join(d, 'libbasic.so');
    copyFileSync(BASIC, lib);
    const r = cli('call', lib, 'add', '--sig', '(i32,i32)->i32', '1', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^ERR_PLUGIN_INSECURE: .*\nhint: make the file and the directories above it writable only by you or root/);
    expect(cli('call', '--allow-insecure', lib, 'add', '--sig', '(i32,i32)->i32', '1', '1').out).toBe('2\n');
  });

  it('-L / --lib-path: where NEEDED libraries are searched first', () => {
    const sysLib = rustSysrootLibDir()!;
    for (const opt of ['-L', '--library-path', '--lib-path']) {
      expect(cli('call', PLUGINS.basicDylib, 'add', '--sig', '(i32,i32)->i32', opt, sysLib, '20', '22')).toMatchObject({ code: 0, out: '42\n' });
    }
    expect(cli('call', PLUGINS.basicDylib, 'add', '--sig', '(i32,i32)->i32', '--lib-path')).toMatchObject({ code: 1, err: expect.stringMatching(/^rustplug: --lib-path needs a value\n/) });
  });

  it('call --help documents the signature, arguments and exit codes', () => {
    expect(cli('call', '--help')).toEqual({ code: 0, signal: null, out: COMMAND_HELP.call, err: '' });
    expect(COMMAND_HELP.call).toContain('130 interrupted by Ctrl-C');
  });
});

describe('parseSignature', () => {
  it.each([
    ['()', [], 'void', 'sync'],
    ['() -> ()', [], 'void', 'sync'],
    ['(i32,i32)->i32', ['i32', 'i32'], 'i32', 'sync'],
    ['(u32)->future<u64>', ['u32'], { future: 'u64' }, 'future'],
    ['(string, buffer, pointer, function) -> stream<string>', ['string', 'buffer', 'pointer', 'function'], { stream: 'string' }, 'stream'],
    ['({x: f64, y: f64}, [u8; 4]) -> {f64, {i32, [u16; 2]}}', [{ struct: { x: 'f64', y: 'f64' } }, { array: 'u8', length: 4 }], { struct: ['f64', { struct: ['i32', { array: 'u16', length: 2 }] }] }, 'sync'],
  ])('%s', (text, parameters, result, mode) => {
    expect(parseSignature(text)).toMatchObject({ parameters, result, mode });
  });

  it.each([
    ['(void)', "'void' is a result type: write () for no parameters"],
    ['(future<u8>)', 'future<T> is a result type'],
    ['()->buffer', "'buffer' is a parameter type"],
    ['({x: f64, f64})', "expected ':' after field name"],
    ['({x: f64, x: f64})', "field 'x' appears twice"],
    ['(size_t)', "did you mean 'usize'?"],
    ['(u8) -> u8 junk', 'unexpected text after the signature'],
    ['([u8 4])', "expected ';' between an array's element type and its length"],
  ])('%s is refused', (text, msg) => {
    expect(() => parseSignature(text)).toThrow(msg);
  });
});

describe('parseArgument', () => {
  it.each([
    ['255', 'u8', 255],
    ['-128', 'i8', -128],
    ['0xff', 'u16', 255],
    ['1_000', 'u32', 1000],
    ['9007199254740991', 'u64', 9007199254740991],
    ['9007199254740992', 'u64', 9007199254740992n],
    ['-9223372036854775808', 'i64', -9223372036854775808n],
    ['inf', 'f64', Infinity],
    ['-inf', 'f32', -Infinity],
    ['1e-3', 'f64', 0.001],
    ['true', 'bool', true],
    ['0', 'bool', false],
    ['null', 'pointer', null],
    ['0', 'pointer', null],
    ['0x7f0012345678', 'pointer', 0x7f0012345678n],
    ['null', 'string', 'null'],
    ['utf8:null', 'buffer', Uint8Array.from(Buffer.from('null'))],
    ['hex:00 ff', 'buffer', Uint8Array.from([0, 255])],
  ] as const)('%s as %s', (text, type, value) => {
    expect(parseArgument(text, type, 0)).toEqual(value);
  });

  it('structs and arrays from JSON; 64-bit fields beyond 2^53 as strings', () => {
    expect(parseArgument('{"a": "18446744073709551615", "b": [1, 2]}', { struct: { a: 'u64', b: { array: 'i8', length: 2 } } }, 0)).toEqual({ a: 18446744073709551615n, b: [1, 2] });
    expect(() => parseArgument('{"a": 18446744073709551615}', { struct: { a: 'u64' } }, 2)).toThrow('argument 3.a (u64): 18446744073709552000 is beyond 2^53 in JSON, where it has lost digits: write it as a string');
    expect(() => parseArgument('[1, 2, 3]', { struct: ['f64', 'f64'] }, 0)).toThrow('argument 1 ({f64, f64}): expected 2 fields, got 3');
    expect(() => parseArgument('{"x": 1, "z": 2}', { struct: { x: 'f64' } }, 0)).toThrow("no field 'z' (fields: x)");
    expect(parseArgument('[1, "2"]', { struct: { x: 'f64', y: 'u8' } }, 0)).toEqual({ x: 1, y: 2 });
    expect(() => parseArgument('[1]', { struct: { x: 'f64', y: 'u8' } }, 0)).toThrow('argument 1 ({x: f64, y: u8}): expected 2 fields (x, y), got 1');
    expect(() => parseArgument('7', { struct: { x: 'f64' } }, 0)).toThrow('argument 1 ({x: f64}): expected a JSON object or array, e.g. {"x":1}');
  });

  it.each([
    ['256', 'u8', '256 is out of range (0 to 255)'],
    ['-1', 'u64', '-1 is out of range (0 to 18446744073709551615)'],
    ['18446744073709551616', 'u64', 'is out of range'],
    ['', 'i32', "'' is not a number"],
    ['1.0', 'i32', "'1.0' is not an integer"],
    ['abc', 'f64', "'abc' is not a number"],
    ['yes', 'bool', "'yes' is not true or false"],
    ['-1', 'pointer', 'is not an address'],
    ['hex:abc', 'buffer', 'is not hex bytes'],
    ['@/nonexistent/file', 'buffer', 'cannot read /nonexistent/file: ENOENT'],
  ] as const)('%j as %s is refused', (text, type, msg) => {
    expect(() => parseArgument(text, type, 0)).toThrow(msg);
  });
});
