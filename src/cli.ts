#!/usr/bin/env node
// rustplug's command line: inspect plugin files, compare their sizes, compute integrity values.

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { hostTarget, pluginKind, readElf } from './elf.js';
import { MissingDependencyError, PluginError } from './errors.js';
import { formatTree } from './depgraph.js';
import { inspect, type PluginInfo } from './inspect.js';
import { sriOf, type IntegrityAlgorithm } from './integrity.js';
import type { PluginManifest } from './manifest.js';
import { preflight } from './preflight.js';

export const USAGE = `Usage: rustplug <command> [options] <file...>

Commands:
  inspect <file...>   Describe each plugin without loading it: kind (cdylib, rust-dylib, c),
                      the rustc that built it, SONAME, machine, the tree of NEEDED libraries as
                      open() would load them and how each is found, its RUSTPLUG_MANIFEST,
                      exported functions, size, sha256.
  sizes <file...>     A table of file size, kind, NEEDED count and rustc version, to compare
                      builds (e.g. cdylib vs dylib, with and without -C prefer-dynamic).
  sri <file>          Print the integrity value of a file, for open(path, { integrity }).

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
  sizes: `Usage: rustplug sizes [--json] <file...>

A table of file size, kind, NEEDED count and rustc version, to compare builds (e.g. cdylib vs
dylib, with and without -C prefer-dynamic).

Options:
  --json       The rows as a JSON array instead of a table.
  -h, --help   Show this help.
`,
  sri: `Usage: rustplug sri [--algo sha256|sha384|sha512] <file>

Prints the integrity value of a file, for open(path, { integrity }).

Options:
  --algo ALGO  Hash algorithm (default sha256).
  -h, --help   Show this help.
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
}

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  'library-path': { type: 'string', short: 'L', multiple: true },
  algo: { type: 'string' },
} as const;

/** The commands each option applies to (help and version: all). */
const OPTION_COMMANDS: Partial<Record<keyof typeof OPTIONS, readonly Command[]>> = {
  json: ['inspect', 'sizes'],
  'library-path': ['inspect'],
  algo: ['sri'],
};

function parse(argv: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    // util.parseArgs's messages are long; say the same in one line.
    const m = (e as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(m);
    const missing = /Option '(?:-\w, )?(--?[\w-]+)[^']*' argument missing/.exec(m);
    throw new UsageError(unknown ? `unknown option ${unknown[1]}` : missing ? `${missing[1]} needs a value` : m.split('\n')[0]!);
  }
  const { values } = parsed;
  const files = [...parsed.positionals];
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
    libraryPath: values['library-path'] ?? [],
    algo: 'sha256',
  };
  if (values.algo !== undefined) {
    const v = values.algo;
    if (v !== 'sha256' && v !== 'sha384' && v !== 'sha512') throw new UsageError(`--algo must be sha256, sha384 or sha512, not '${v}'`);
    p.algo = v;
  }
  if (p.libraryPath.includes('')) throw new UsageError('--library-path needs a value');
  if (p.command !== undefined && !help) {
    for (const [opt, commands] of Object.entries(OPTION_COMMANDS)) {
      if (values[opt as keyof typeof values] !== undefined && !commands.includes(p.command)) {
        throw new UsageError(`--${opt} applies to ${commands.join(' and ')}`);
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
  else throw e;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Runs the CLI with `argv` (the arguments after the script name). `out` and `err` receive text
 * that ends with a newline. Resolves to the exit code: 0 ok, 1 usage error, 2 a file could not be
 * handled (a PluginError: "CODE: message", then a "hint:" line).
 */
export async function main(argv: string[], out: Write, err: Write = out): Promise<number> {
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
  if (p.files.length === 0) return usage(`${p.command} needs at least one file`, p.command);
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

  // sizes
  const rows: { file: string; sizeBytes: number; kind: string; needed: number; rustc: string | null }[] = [];
  for (const f of p.files) {
    try {
      const elf = readElf(f, { anyArch: true });
      rows.push({ file: f, sizeBytes: statSync(f).size, kind: pluginKind(elf), needed: elf.needed.length, rustc: elf.rustc });
    } catch (e) {
      reportError(e, err);
      status = 2;
    }
  }
  if (p.json) out(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length) {
    out(
      table(
        [
          ['FILE', 'SIZE', 'BYTES', 'KIND', 'NEEDED', 'RUSTC'],
          ...rows.map((r) => [r.file, humanSize(r.sizeBytes), String(r.sizeBytes), r.kind, String(r.needed), shortRustc(r.rustc)]),
        ],
        new Set([1, 2, 4]),
      ),
    );
  }
  return status;
}

function invokedAsScript(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedAsScript()) {
  main(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
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
