#!/usr/bin/env node
// rustplug's command line: inspect plugin files, compare their sizes (or build a crate four ways
// and compare those), compute integrity values, call a symbol from the shell and time it.

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { hostTarget, pluginKind, readElf } from './elf.js';
import { MissingDependencyError, PluginError } from './errors.js';
import { formatTree } from './depgraph.js';
import { inspect, type PluginInfo } from './inspect.js';
import { sriOf, type IntegrityAlgorithm } from './integrity.js';
import type { PluginManifest } from './manifest.js';
import { preflight } from './preflight.js';
import { CallFailedError, CallUsageError, runCall, type CallIO } from './cli-call.js';
import { DEFAULT_ROUNDS, DEFAULT_TIME_MS, runBench } from './cli-bench.js';
import { buildSizes, OPT_LEVEL, rustDylibsOf, SizesError, variantLabel, type BuiltSize } from './cli-sizes.js';
import { PluginArgumentError } from './errors.js';

export const USAGE = `Usage: rustplug <command> [options] <file...>

Commands:
  inspect <file...>   Describe each plugin without loading it: kind (cdylib, rust-dylib, c),
                      the rustc that built it, SONAME, machine, the tree of NEEDED libraries as
                      open() would load them and how each is found, its RUSTPLUG_MANIFEST,
                      exported functions, size, sha256.
  sizes <file|crate-dir...>
                      A table of file size, kind, NEEDED count and rustc version, to compare
                      builds; a crate directory is built as cdylib and dylib, each with and
                      without -C prefer-dynamic, at opt-level s.
  sri <file>          Print the integrity value of a file, for open(path, { integrity }).
  call <lib> <symbol> --sig '(T,...)->R' [arg...]
                      Call an exported function and print its result; awaits futures, prints
                      a stream's items as they arrive.
  bench <lib> <symbol> --sig '(T,...)->R' [arg...]
                      Time calls of an exported function (or awaits of its future) with mitata,
                      raw koffi calling the same function beside it, and print the ratio.

Options:
  -h, --help          Show this help, or a command's (rustplug inspect --help).
  -V, --version       Print rustplug's version.

Exit status: 0 on success, 1 for a usage error, 2 if a file could not be handled (the error is
printed as "CODE: message", then one line of advice), 3 for an internal error.
`;

export const COMMAND_HELP = {
  inspect: `Usage: rustplug inspect [--json] [-L DIR]... <file...>

Describes each plugin without loading it: kind (cdylib, rust-dylib, c), the rustc that built it,
SONAME, machine, the tree of NEEDED libraries as open() would load them and how each is found,
exported functions, size, sha256.

Options:
  --json                   One JSON array with an object per file.
  -L, --library-path DIR   Search DIR first for NEEDED libraries, like open()'s libraryPath
                           option (repeatable).
  -h, --help               Show this help.
`,
  sizes: `Usage: rustplug sizes [--json] <file|crate-dir...>

A table of file size, kind, NEEDED count and rustc version, to compare builds.

A file (a .so) is measured as it is. A crate directory (with a Cargo.toml) is built four ways —
cdylib and dylib, each with and without -C prefer-dynamic — with opt-level s for the whole crate
graph (cargo rustc --lib --release --crate-type T [-- -C prefer-dynamic], with
CARGO_PROFILE_RELEASE_OPT_LEVEL=s), into <cargo target dir>/rustplug-sizes; a copy of each
library stays in <cargo target dir>/rustplug-sizes/sizes/<package>/<variant>/. The rest of the
release profile is the crate's own (debug, strip, lto, panic); change it for this run through
cargo's environment, e.g. CARGO_PROFILE_RELEASE_STRIP=true. Crates come from where cargo gets
them, or from Debian's /usr/share/cargo/registry, offline, when cargo has never reached crates.io
(RUSTPLUG_CRATES=debian|crates-io chooses, as for the test fixtures). The table then adds
RUST NEEDED: the Rust dylibs each build NEEDs (libstd-<hash>.so with -C prefer-dynamic).

Options:
  --json       The rows as a JSON array instead of a table (built rows add crate, crateType,
               preferDynamic, optLevel and neededLibraries).
  -h, --help   Show this help.
`,
  sri: `Usage: rustplug sri [--algo sha256|sha384|sha512] <file>

Prints the integrity value of a file, for open(path, { integrity }).

Options:
  --algo ALGO  Hash algorithm (default sha256).
  -h, --help   Show this help.
`,
  call: `Usage: rustplug call [options] <lib> <symbol> --sig '(T, ...) -> R' [arg...]

Opens <lib> with open() (the same checks), calls <symbol> with the arguments and prints the
result. For a future<T> it waits (on a terminal, a spinner on stderr after a second); for a
stream<T> it prints each item on its own line as it arrives. Ctrl-C aborts a future or stream
(the plugin's future is dropped) and exits 130.

Signature: (T, ...) -> R, or (T, ...) for no result.
  parameters  i8 u8 i16 u16 i32 u32 i64 u64 isize usize f32 f64 bool pointer function string
              buffer, structs {f64, f64} or {x: f64, y: f64}, arrays [u8; 4] (by pointer)
  results     void or (), the scalars, string, pointer, structs; future<R>, stream<R>
  e.g.        '(i32, i32) -> i32'   '(u32, u64) -> future<u64>'   '(string) -> stream<string>'
Callbacks and out-parameters cannot be given from a shell.

Arguments, by the declared type:
  integers    decimal, 0x hex, 0o, 0b; checked against the type's range (any u64 works)
  floats      1.5, 1e-3, inf, -inf, nan
  bool        true, false, 1, 0
  pointer     null (or 0), or an address such as 0x7f0012345678
  string      the word as it is (UTF-8)
  buffer      text (its UTF-8 bytes), hex:00ff10, @file (its bytes), utf8:<text>, null
  structs     JSON: [1, 2] for {f64, f64}; {"x": 1, "y": 2} or [1, 2] for {x: f64, y: f64}
Negative numbers are arguments, not options; '--' ends the options.

Output: integers and floats as numbers, strings as they are, pointers as 0x hex, structs as
JSON, nothing for void. --json prints JSON (64-bit integers and addresses as strings; a stream:
one JSON value per line).

Options:
  --sig SIG                The symbol's signature (required).
  --free SYMBOL            For a string result: the plugin's export that frees it.
  --json                   Print the result as JSON.
  -L, --library-path DIR   Search DIR first for NEEDED libraries (open()'s libraryPath;
                           repeatable; --lib-path is the same).
  --allow-insecure         Load even if the file or a directory on its way is writable by others.
  --integrity VALUE        Refuse the file unless its hash matches (rustplug sri prints it).
  -h, --help               Show this help.

Exit status: 0 ok; 1 a usage error (also a bad signature or argument); 2 the library could not
be opened or the call failed (CODE: message, then a hint); 130 interrupted by Ctrl-C.
`,
  bench: `Usage: rustplug bench [options] <lib> <symbol> --sig '(T, ...) -> R' [arg...]

Times <symbol> called with the arguments, with the harness of rustplug's own benchmarks (bench/):
mitata times each series for at least --time ms per round, rounds run the series in turn (the
order rotated each round) after one untimed round, and the figures are the median and quartiles
over rounds. Beside rustplug's call, in the same process:
  sync symbol   raw koffi calling the same function with the same types (arguments already in
                koffi's form); the ratio rustplug / koffi is taken round by round
  future<R>     each sample awaits one call; beside it, await Promise.resolve(result), the
                floor of an await. koffi has no baseline for a future: it calls sync functions
                and cannot poll the FfiFuture the symbol returns
  stream<R>     not timed (a usage error)
The symbol is called once first and its result printed. Signature and arguments are written as
for rustplug call (rustplug call --help). A ratio is only as steady as the machine: compare
within one run.

Options:
  --sig SIG                The symbol's signature (required).
  --time MS                mitata's minimum time per series per round (default ${DEFAULT_TIME_MS}).
  --rounds N               Timed rounds (default ${DEFAULT_ROUNDS}).
  --free SYMBOL            For a string result: the plugin's export that frees it (koffi frees
                           with it too).
  --json                   Print the figures as JSON: series (rustplug first, then the baseline)
                           with their per-round samples, the ratio, the first call's result.
  -L, --library-path DIR   Search DIR first for NEEDED libraries (repeatable; --lib-path too).
  --allow-insecure         Load even if the file or a directory on its way is writable by others.
  --integrity VALUE        Refuse the file unless its hash matches (rustplug sri prints it).
  -h, --help               Show this help.

Exit status: 0 ok; 1 a usage error (also a bad signature or argument); 2 the library could not
be opened or a call failed (CODE: message, then a hint).
`,
} as const;

type Write = (s: string) => void;

class UsageError extends Error {}

type Command = keyof typeof COMMAND_HELP;
const isCommand = (s: string | undefined): s is Command => s !== undefined && Object.hasOwn(COMMAND_HELP, s);

interface Parsed {
  command: Command | undefined;
  files: string[];
  json: boolean;
  help: boolean;
  version: boolean;
  libraryPath: string[];
  algo: IntegrityAlgorithm;
  sig: string | undefined;
  free: string | undefined;
  allowInsecure: boolean;
  integrity: string | undefined;
  timeMs: number;
  rounds: number;
}

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  'library-path': { type: 'string', short: 'L', multiple: true },
  'lib-path': { type: 'string', multiple: true },
  algo: { type: 'string' },
  sig: { type: 'string' },
  free: { type: 'string' },
  'allow-insecure': { type: 'boolean' },
  integrity: { type: 'string' },
  time: { type: 'string' },
  rounds: { type: 'string' },
} as const;

/** The commands each option applies to (help and version: all). */
const OPTION_COMMANDS: Partial<Record<keyof typeof OPTIONS, readonly Command[]>> = {
  json: ['inspect', 'sizes', 'call', 'bench'],
  'library-path': ['inspect', 'call', 'bench'],
  'lib-path': ['inspect', 'call', 'bench'],
  algo: ['sri'],
  sig: ['call', 'bench'],
  free: ['call', 'bench'],
  'allow-insecure': ['call', 'bench'],
  integrity: ['call', 'bench'],
  time: ['bench'],
  rounds: ['bench'],
};

/** a, b and c */
const listed = (xs: readonly string[]) => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`);

/** A word util.parseArgs would take for an option but that is a negative number: an argument of call. */
const NEGATIVE_NUMBER = /^-(\d|\.\d|inf|nan)/i;

function parse(argv: string[]): Parsed {
  // Negative numbers are hidden from util.parseArgs behind placeholders (no option starts with a
  // digit), and put back after.
  const hidden = new Map<string, string>();
  const args = argv.map((a, i) => {
    if (!NEGATIVE_NUMBER.test(a)) return a;
    const key = `\u0000${i}`;
    hidden.set(key, a);
    return key;
  });
  const unhide = (s: string) => hidden.get(s) ?? s;
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    // util.parseArgs's messages are long; say the same in one line.
    const m = (e as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(m);
    const missing = /Option '(?:-\w, )?(--?[\w-]+)[^']*' argument missing/.exec(m);
    throw new UsageError(unknown ? `unknown option ${unknown[1]}` : missing ? `${missing[1]} needs a value` : m.split('\n')[0]!);
  }
  const { values } = parsed;
  const files = parsed.positionals.map(unhide);
  let command: string | undefined = files.shift();
  let help = values.help ?? false;
  if (command === 'help') {
    help = true; // rustplug help [command]
    command = files.shift();
  }
  if (command !== undefined && !isCommand(command)) throw new UsageError(`unknown command '${command}'`);
  const p: Parsed = {
    command,
    files,
    json: values.json ?? false,
    help,
    version: values.version ?? false,
    libraryPath: [...(values['library-path'] ?? []), ...(values['lib-path'] ?? [])].map(unhide),
    algo: 'sha256',
    sig: values.sig === undefined ? undefined : unhide(values.sig),
    free: values.free,
    allowInsecure: values['allow-insecure'] ?? false,
    integrity: values.integrity,
    timeMs: DEFAULT_TIME_MS,
    rounds: DEFAULT_ROUNDS,
  };
  if (values.time !== undefined) {
    const v = Number(values.time);
    if (values.time.trim() === '' || !Number.isFinite(v) || v <= 0 || v > 60_000) throw new UsageError(`--time is milliseconds per series per round, more than 0 and at most 60000, not '${values.time}'`);
    p.timeMs = v;
  }
  if (values.rounds !== undefined) {
    const v = Number(values.rounds);
    if (!/^\d+$/.test(values.rounds.trim()) || v < 1 || v > 1000) throw new UsageError(`--rounds is a whole number from 1 to 1000, not '${values.rounds}'`);
    p.rounds = v;
  }
  if (values.algo !== undefined) {
    const v = values.algo;
    if (v !== 'sha256' && v !== 'sha384' && v !== 'sha512') throw new UsageError(`--algo must be sha256, sha384 or sha512, not '${v}'`);
    p.algo = v;
  }
  if (p.libraryPath.includes('')) throw new UsageError('--library-path needs a value');
  if (p.command !== undefined && !help) {
    for (const [opt, commands] of Object.entries(OPTION_COMMANDS)) {
      if (values[opt as keyof typeof values] !== undefined && !commands.includes(p.command)) {
        throw new UsageError(`--${opt} applies to ${listed(commands)}`);
      }
    }
  }
  return p;
}

/** One line of advice for an error about a file, by its code. */
export function advice(e: PluginError): string {
  switch (e.code) {
    case 'ERR_PLUGIN_NOT_FOUND':
    case 'ERR_PLUGIN_NOT_A_FILE':
      return 'check the path; cargo build --release puts a plugin in target/release/lib<crate>.so';
    case 'ERR_PLUGIN_NOT_ELF':
    case 'ERR_PLUGIN_NOT_SHARED_OBJECT':
      return 'pass the shared library cargo builds for crate-type = ["cdylib"] (or "dylib"), not an executable, object file or other file';
    case 'ERR_PLUGIN_MALFORMED':
      return 'the file is damaged: rebuild the plugin or copy it again';
    case 'ERR_PLUGIN_WRONG_ARCH':
      return 'rebuild the plugin for this machine (cargo build --target <this machine>), or inspect it where it runs';
    case 'ERR_PLUGIN_MISSING_DEPENDENCY':
      return "point -L (open()'s libraryPath) at the directory that holds the missing library, or install it";
    case 'ERR_PLUGIN_INSECURE':
      return 'make the file and the directories above it writable only by you or root (chmod go-w)';
    case 'ERR_PLUGIN_MISSING_SYMBOL':
      return 'rustplug inspect <lib> lists the exports (a Rust export needs #[no_mangle] pub extern "C" fn)';
    case 'ERR_PLUGIN_INTEGRITY':
      return "the file is not the one the integrity value was taken of: rustplug sri <lib> prints this file's";
    case 'ERR_PLUGIN_BAD_INTEGRITY':
      return "write it as rustplug sri prints it: 'sha256-<base64>' (or sha384/sha512, or 'sha256:<hex>')";
    case 'ERR_PLUGIN_PANIC':
      return 'the plugin panicked: the message above is its own (and its stderr); fix the plugin';
    case 'ERR_PLUGIN_DLOPEN':
      return 'the loader refused the file (see its message above); rustplug inspect <lib> shows what it needs';
    case 'ERR_PLUGIN_ADDON_UNAVAILABLE':
      return "call needs rustplug's native addon: reinstall rustplug (npm rebuild rustplug); inspect, sizes and sri work without it";
    case 'ERR_PLUGIN_INCOMPATIBLE':
      return 'rebuild the plugins that share code with the same rustc, target and crate versions and features';
    default:
      return 'see the message above; rustplug inspect <file> describes what open() would load';
  }
}

/** Size as `ls -sh`/`du -h` would round it: 580K, 2.5M. */
export function humanSize(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${bytes}B`;
  return `${v < 10 ? (Math.ceil(v * 10) / 10).toFixed(1) : Math.ceil(v)}${units[u]}`;
}

function table(rows: string[][], rightAligned: Set<number>): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .map((l) => `${l}\n`)
    .join('');
}

function shortRustc(rustc: string | null): string {
  return rustc === null ? '-' : rustc.replace(/^rustc /, '');
}

function formatInfo(info: PluginInfo, libraryPath: string[]): string {
  const lines: string[] = [];
  const field = (k: string, v: string) => lines.push(`  ${k.padEnd(9)} ${v}`);
  lines.push(info.path);
  if (info.realPath !== info.path) field('real path', info.realPath);
  field('kind', info.kind);
  field('rustc', info.rustc ?? '-');
  field('soname', info.soname ?? '-');
  field('machine', info.machine);
  field('size', `${humanSize(info.sizeBytes)} (${info.sizeBytes} bytes)`);
  field('sha256', info.sha256);
  if (info.manifest === null) field('manifest', '(none: no RUSTPLUG_MANIFEST)');
  else for (const l of formatManifest(info.manifest)) lines.push(l);
  if (info.needed.length === 0) field('needed', '(none)');
  else {
    // The dependency graph as a tree; the first line (the plugin itself) is the header above.
    lines.push('  needed');
    for (const l of formatTree(info.dependencies).slice(1)) lines.push(`    ${l}`);
  }
  const host = hostTarget();
  if (host && info.machine !== host.machine) {
    lines.push(`  ! built for ${info.machine}; this node is ${host.machine}: it cannot be loaded here`);
  }
  if (info.needed.some((n) => n.path === null)) {
    // preflight's error says, per missing library, where it looked and how to fix it.
    let explanation: string[] = [];
    try {
      preflight(info.path, { libraryPath, allowInsecure: true });
    } catch (e) {
      if (e instanceof MissingDependencyError) explanation = e.message.split('\n');
    }
    const missing = info.dependencies.filter((n) => n.path === null).map((n) => n.name);
    lines.push(`  ! the loader would not find ${missing.join(', ')}: open() will fail`);
    for (const l of explanation.slice(1)) lines.push(`  ${l}`);
  }
  field(`exports`, `(${info.exports.length})`);
  for (const e of info.exports) lines.push(`    ${e}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** The manifest, one fact per line; keys it has beyond the known ones as JSON. */
function formatManifest(m: PluginManifest): string[] {
  const lines = ['  manifest'];
  const row = (k: string, v: string) => lines.push(`    ${k.padEnd(7)} ${v}`);
  const { rustplug, plugin, rustc, target, abi, shared, ...rest } = m;
  row('version', String(rustplug));
  if (plugin) row('plugin', `${plugin.name ?? '?'} ${plugin.version ?? ''}`.trim());
  if (rustc !== undefined) row('rustc', rustc);
  if (target !== undefined) row('target', target);
  if (abi) row('abi', Object.entries(abi).map(([k, v]) => `${k} ${v}`).join(', ') || '(none)');
  if (shared) {
    const crates = Object.entries(shared).map(([k, c]) => `${k} ${c.version}${c.features.length ? ` (${c.features.join(', ')})` : ''}`);
    crates.forEach((c, i) => lines.push(`    ${(i === 0 ? 'shared' : '').padEnd(7)} ${c}`));
    if (crates.length === 0) row('shared', '(nothing)');
  }
  for (const [k, v] of Object.entries(rest)) row(k, JSON.stringify(v));
  return lines;
}

function reportError(e: unknown, err: Write): void {
  if (e instanceof PluginError) err(`${e.code}: ${e.message}\nhint: ${advice(e)}\n`);
  else if (e instanceof CallFailedError) err(`${e.code}: ${e.message}\nhint: ${e.hint}\n`);
  else if (e instanceof SizesError) err(`${e.output ? `${e.output.trimEnd()}\n` : ''}${e.code}: ${e.message}\nhint: ${e.hint}\n`);
  else if (e instanceof PluginArgumentError) err(`${e.code}: ${e.message}\nhint: check the arguments against --sig (rustplug call --help lists how each type is written)\n`);
  else throw e;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** What main() needs of the process besides output; the defaults are the real process's. */
export interface MainIO {
  /** Whether stderr is a terminal (call's progress indicator, sizes' build lines). */
  tty?: boolean;
  /** Where SIGINT comes from (call aborts a future or stream on it). */
  interrupts?: CallIO['interrupts'];
  /** Resolves when `out` can take more (see CallIO.drained). */
  drained?: CallIO['drained'];
  /** Aborted when nobody reads `out` any more (see CallIO.outputClosed). */
  outputClosed?: AbortSignal;
}

/**
 * Runs the CLI with `argv` (the arguments after the script name). `out` and `err` receive text
 * that ends with a newline (but for call's progress indicator on a terminal). Resolves to the exit
 * code: 0 ok, 1 usage error, 2 a file could not be handled (a PluginError: "CODE: message", then a
 * "hint:" line), 130 a call interrupted by SIGINT.
 */
export async function main(argv: string[], out: Write, err: Write = out, io: MainIO = {}): Promise<number> {
  const usage = (msg: string, command?: Command): number => {
    err(`rustplug: ${msg}\nTry 'rustplug ${command ? `${command} ` : ''}--help'.\n`);
    return 1;
  };
  let p: Parsed;
  try {
    p = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usage(e.message, argv.find(isCommand));
  }
  if (p.version) {
    out(`rustplug ${packageVersion()}\n`);
    return 0;
  }
  if (p.help) {
    out(p.command ? COMMAND_HELP[p.command] : USAGE);
    return 0;
  }
  if (p.command === undefined) return usage('no command given');
  const tty = io.tty ?? process.stderr.isTTY === true;

  if (p.command === 'call' || p.command === 'bench') {
    const c = p.command;
    if (p.files.length < 2) return usage(`${c} needs a library and a symbol (rustplug ${c} <lib> <symbol> --sig '(i32,i32)->i32' 1 2)`, c);
    if (p.sig === undefined) return usage(`${c} needs --sig, the symbol's signature, e.g. --sig '(i32, i32) -> i32'`, c);
    const [lib, symbol, ...args] = p.files as [string, string, ...string[]];
    const target = {
      lib,
      symbol,
      sig: p.sig,
      args,
      json: p.json,
      free: p.free,
      openOptions: {
        ...(p.libraryPath.length ? { libraryPath: p.libraryPath } : {}),
        ...(p.allowInsecure ? { allowInsecure: true } : {}),
        ...(p.integrity !== undefined ? { integrity: p.integrity } : {}),
      },
    };
    try {
      if (c === 'bench') return await runBench({ ...target, rounds: p.rounds, timeMs: p.timeMs }, { out, err, tty });
      return await runCall(target, { out, err, tty, interrupts: io.interrupts ?? process, drained: io.drained, outputClosed: io.outputClosed });
    } catch (e) {
      if (e instanceof CallUsageError) return usage(e.message, c);
      reportError(e, err);
      return 2;
    }
  }

  if (p.files.length === 0) return usage(`${p.command} needs at least one ${p.command === 'sizes' ? 'file or crate directory' : 'file'}`, p.command);
  if (p.command === 'sri' && p.files.length !== 1) return usage('sri takes exactly one file', p.command);

  let status = 0;
  if (p.command === 'sri') {
    try {
      out(`${sriOf(p.files[0]!, p.algo)}\n`);
    } catch (e) {
      reportError(e, err);
      status = 2;
    }
    return status;
  }

  if (p.command === 'inspect') {
    const infos: PluginInfo[] = [];
    for (const f of p.files) {
      try {
        const info = inspect(f, { libraryPath: p.libraryPath });
        infos.push(info);
        if (!p.json) out((infos.length > 1 ? '\n' : '') + formatInfo(info, p.libraryPath));
      } catch (e) {
        reportError(e, err);
        status = 2;
      }
    }
    if (p.json) out(`${JSON.stringify(infos, null, 2)}\n`);
    return status;
  }

  // sizes: files as they are; a crate directory built four ways.
  type Row = { file: string; sizeBytes: number; kind: string; needed: number; rustc: string | null } | BuiltSize;
  const rows: Row[] = [];
  const neededOf = new Map<Row, readonly string[]>();
  const crates: { name: string; dir: string }[] = [];
  for (const f of p.files) {
    try {
      if (isDirectory(f)) {
        const built = buildSizes(f, tty ? (line) => err(`rustplug: ${line}\n`) : undefined);
        for (const r of built) neededOf.set(r, r.neededLibraries);
        rows.push(...built);
        crates.push({ name: built[0]!.crate, dir: relative(process.cwd(), dirname(dirname(built[0]!.file))) || '.' });
        continue;
      }
      const elf = readElf(f, { anyArch: true });
      const row = { file: f, sizeBytes: statSync(f).size, kind: pluginKind(elf), needed: elf.needed.length, rustc: elf.rustc };
      neededOf.set(row, elf.needed);
      rows.push(row);
    } catch (e) {
      reportError(e, err);
      status = 2;
    }
  }
  if (p.json) out(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length) {
    // With builds: which Rust dylibs each NEEDs (libstd-<hash>.so with -C prefer-dynamic), since
    // the NEEDED count alone hides that swap.
    const withBuilds = crates.length > 0;
    const name = (r: Row) => ('crate' in r ? `${r.crate} ${variantLabel(r)}` : r.file);
    const rustNeeded = (r: Row) => rustDylibsOf(neededOf.get(r) ?? []).join(' ') || '-';
    out(
      table(
        [
          [withBuilds ? 'BUILD' : 'FILE', 'SIZE', 'BYTES', 'KIND', 'NEEDED', ...(withBuilds ? ['RUST NEEDED'] : []), 'RUSTC'],
          ...rows.map((r) => [name(r), humanSize(r.sizeBytes), String(r.sizeBytes), r.kind, String(r.needed), ...(withBuilds ? [rustNeeded(r)] : []), shortRustc(r.rustc)]),
        ],
        new Set([1, 2, 4]),
      ),
    );
    for (const c of crates) out(`${c.name}: built at opt-level ${OPT_LEVEL} with its release profile; the libraries are in ${c.dir}/\n`);
  }
  return status;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function invokedAsScript(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedAsScript()) {
  // A reader that goes away (rustplug call … | head -3) ends the output, not the process with a stack trace.
  const outputClosed = new AbortController();
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    outputClosed.abort();
  });
  main(
    process.argv.slice(2),
    (s) => {
      if (!outputClosed.signal.aborted) process.stdout.write(s);
    },
    (s) => process.stderr.write(s),
    {
      outputClosed: outputClosed.signal,
      drained: () =>
        new Promise((resolve) => {
          if (process.stdout.writableNeedDrain) process.stdout.once('drain', resolve);
          else setImmediate(resolve);
        }),
    },
  ).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`rustplug: unexpected error (a bug in rustplug; please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 3;
    },
  );
}
