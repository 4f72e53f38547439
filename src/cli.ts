#!/usr/bin/env node
// rustplug's command line: inspect plugin files, compare their sizes, compute integrity values.

import { realpathSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
  --json                   Machine-readable output (inspect, sizes).
  -L, --library-path DIR   Search DIR first for NEEDED libraries, like open()'s libraryPath
                           option (repeatable; inspect).
  --algo sha256|sha384|sha512
                           Hash algorithm for sri (default sha256).
  -h, --help               Show this help.

Exit status: 0 on success, 1 if a file could not be read as a plugin (the error is printed
as "CODE: message"), 2 for a usage error.
`;

type Write = (s: string) => void;

class UsageError extends Error {}

interface Parsed {
  command: string | undefined;
  files: string[];
  json: boolean;
  help: boolean;
  libraryPath: string[];
  algo: IntegrityAlgorithm;
}

function parseArgs(argv: string[]): Parsed {
  const p: Parsed = { command: undefined, files: [], json: false, help: false, libraryPath: [], algo: 'sha256' };
  let onlyFiles = false;
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (onlyFiles || !a.startsWith('-') || a === '-') {
      if (p.command === undefined) p.command = a;
      else p.files.push(a);
      continue;
    }
    if (a === '--') onlyFiles = true;
    else if (a === '--json') p.json = true;
    else if (a === '-h' || a === '--help') p.help = true;
    else if (a === '-L' || a === '--library-path') p.libraryPath.push(value(++i, a));
    else if (a.startsWith('--library-path=')) p.libraryPath.push(a.slice('--library-path='.length));
    else if (a.startsWith('-L') && a.length > 2) p.libraryPath.push(a.slice(2));
    else if (a === '--algo' || a.startsWith('--algo=')) {
      const v = a === '--algo' ? value(++i, a) : a.slice('--algo='.length);
      if (v !== 'sha256' && v !== 'sha384' && v !== 'sha512') throw new UsageError(`--algo must be sha256, sha384 or sha512, not '${v}'`);
      p.algo = v;
    } else throw new UsageError(`unknown option ${a}`);
  }
  if (p.command === 'help') {
    p.help = true;
    p.command = undefined;
  }
  return p;
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
  if (e instanceof PluginError) err(`${e.code}: ${e.message}\n`);
  else throw e;
}

/**
 * Runs the CLI with `argv` (the arguments after the script name). `out` and `err` receive text
 * that ends with a newline. Resolves to the exit code: 0 ok, 1 a PluginError, 2 usage error.
 */
export async function main(argv: string[], out: Write, err: Write = out): Promise<number> {
  let p: Parsed;
  try {
    p = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`rustplug: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (p.help) {
    out(USAGE);
    return 0;
  }
  const usage = (msg: string): number => {
    err(`rustplug: ${msg}\n\n${USAGE}`);
    return 2;
  };
  if (p.command === undefined) return usage('no command given');
  if (!['inspect', 'sizes', 'sri'].includes(p.command)) return usage(`unknown command '${p.command}'`);
  if (p.files.length === 0) return usage(`${p.command} needs at least one file`);
  if (p.command === 'sri' && p.files.length !== 1) return usage('sri takes exactly one file');
  if (p.json && p.command === 'sri') return usage('--json applies to inspect and sizes');
  if (p.libraryPath.length && p.command !== 'inspect') return usage('--library-path applies to inspect');
  if (p.algo !== 'sha256' && p.command !== 'sri') return usage('--algo applies to sri');

  let status = 0;
  if (p.command === 'sri') {
    try {
      out(`${sriOf(p.files[0]!, p.algo)}\n`);
    } catch (e) {
      reportError(e, err);
      status = 1;
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
        status = 1;
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
      status = 1;
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
      process.stderr.write(`rustplug: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
