// Sharing sets: plugins that have a Rust dylib (or the same libstd-<hash>.so) among their loaded
// dependencies run each other's code and share its statics, so they must be built alike (same
// rustc, same target, same versions and features of every crate they share) and never be
// unmapped. This module decides which loaded plugins a new one shares code with, compares their
// manifests before dlopen, and keeps the members for close() (src/library.ts).
//
// Members are remembered for the life of the process: a closed member's code stays mapped
// (RTLD_NODELETE) and the runtime threads it shares may still run it. The registry is per JS
// environment (a worker_thread has its own); loaded objects are per process.

import { statSync } from 'node:fs';
import { basename } from 'node:path';

import { PluginIncompatibleError, type ManifestDifference } from './errors.js';
import type { DependencyGraph } from './ldpath.js';
import { ASYNC_FFI_ABI, MANIFEST_SYMBOL, type PluginManifest, type SharedCrate } from './manifest.js';

/** What the compatibility rules compare; null where a plugin does not say. */
export interface SharingFacts {
  rustc: string | null;
  target: string | null;
  shared: Record<string, SharedCrate>;
  /** From a manifest, or only from the ELF file's `.comment` (no manifest). */
  fromManifest: boolean;
}

export interface Member {
  path: string;
  /** The shared objects it links: device:inode → path. */
  objects: Map<string, string>;
  facts: SharingFacts;
  /** Futures and streams of this member pending right now, and a promise of none. */
  tasks(): number;
  idle(): Promise<void>;
}

const members: Member[] = [];
const warned = new Set<string>();

/** The Rust dylibs of a resolved graph (libstd included, and the plugin itself if it is one). */
export function sharedObjects(graph: DependencyGraph): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of graph.nodes) {
    if (n.kind !== 'rust-dylib' || n.path === null) continue;
    let key = `path:${n.path}`;
    try {
      const st = n.stat ?? statSync(n.path);
      key = `${st.dev}:${st.ino}`;
    } catch {
      /* keyed by path */
    }
    out.set(key, n.path);
  }
  return out;
}

const stripRustc = (v: string | null | undefined): string | null => (v ? v.replace(/^rustc /, '').trim() : null);

export function factsOf(manifest: PluginManifest | null, elfRustc: string | null): SharingFacts {
  if (manifest === null) return { rustc: stripRustc(elfRustc), target: null, shared: {}, fromManifest: false };
  return { rustc: stripRustc(manifest.rustc ?? elfRustc), target: manifest.target ?? null, shared: manifest.shared ?? {}, fromManifest: true };
}

/** The loaded members `objects` shares code with, each with one shared object's path. */
export function membersSharing(objects: ReadonlyMap<string, string>): { member: Member; via: string }[] {
  const out: { member: Member; via: string }[] = [];
  for (const m of members) {
    const common = [...objects.keys()].find((k) => m.objects.has(k));
    if (common !== undefined) out.push({ member: m, via: objects.get(common)! });
  }
  return out;
}

export function addMember(m: Member): void {
  members.push(m);
}

/** The members of `m`'s set (itself included). */
export function setOf(m: Member): Member[] {
  return [m, ...membersSharing(m.objects).map((s) => s.member).filter((o) => o !== m)];
}

const features = (c: SharedCrate | undefined) => (c ? [...c.features].sort().join(', ') || '(none)' : null);

/** Where two modules' facts differ (only keys both state). */
export function differences(a: SharingFacts, b: SharingFacts, bPath: string): ManifestDifference[] {
  const out: ManifestDifference[] = [];
  const cmp = (key: string, x: string | null, y: string | null) => {
    if (x !== null && y !== null && x !== y) out.push({ key, plugin: x, other: y, otherPath: bPath });
  };
  cmp('rustc', a.rustc, b.rustc);
  cmp('target', a.target, b.target);
  for (const name of Object.keys(a.shared).sort()) {
    const other = b.shared[name];
    if (other === undefined) continue;
    cmp(`shared.${name}.version`, a.shared[name]!.version, other.version);
    cmp(`shared.${name}.features`, features(a.shared[name]), features(other));
  }
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => `  ${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('   ')}`).join('\n');
}

/**
 * Refuses (PluginIncompatibleError) a plugin whose facts differ from a loaded member it shares a
 * Rust dylib with, listing every differing key side by side; warns once per file when the plugin
 * shares code but has no manifest. Returns the members it shares code with.
 */
export function checkSharing(path: string, objects: ReadonlyMap<string, string>, facts: SharingFacts): { member: Member; via: string }[] {
  const sharing = membersSharing(objects);
  if (objects.size > 0 && !facts.fromManifest && !warned.has(path)) {
    warned.add(path);
    const names = [...objects.values()].map((p) => basename(p)).join(', ');
    process.emitWarning(
      `${path} has no ${MANIFEST_SYMBOL}: it shares code with other Rust modules (${names}), and without a manifest rustplug can compare only the rustc version in its .comment section, not its target nor the versions and features of the crates it shares. Build it with the rustplug-plugin kit (rustplug_plugin::manifest!()) to have those checked before it loads.`,
      { code: 'RUSTPLUG_NO_MANIFEST', type: 'RustplugWarning' },
    );
  }
  const diffs: ManifestDifference[] = [];
  const blocks: string[] = [];
  const seen = new Set<string>();
  for (const { member, via } of sharing) {
    const d = differences(facts, member.facts, member.path);
    const sig = JSON.stringify(d.map((x) => [x.key, x.other]));
    if (d.length === 0 || seen.has(sig)) continue;
    seen.add(sig);
    diffs.push(...d);
    blocks.push(
      `it shares ${basename(via)} with ${member.path}, which is loaded, and differs from it in:\n${table([
        ['key', basename(path), `${basename(member.path)} (loaded)`],
        ...d.map((x) => [x.key, x.plugin ?? '-', x.other ?? '-']),
      ])}`,
    );
  }
  if (diffs.length > 0) {
    throw new PluginIncompatibleError(
      `cannot load ${path}: ${blocks.join('\n')}\nModules that share a Rust dylib (or libstd) run one copy of its code and statics, so they must be built by the same rustc, for the same target, with the same versions and features of every crate they share. Rebuild ${basename(path)} with the toolchain, Cargo.lock and features of the loaded modules (the same workspace), or build it as a cdylib that shares nothing (crate-type = ["cdylib"], no -C prefer-dynamic).`,
      diffs,
      { path },
    );
  }
  return sharing;
}

/** Refuses a plugin whose declarations use futures or streams while its manifest states another async-ffi ABI. */
export function checkAbi(path: string, manifest: PluginManifest | null, usesAsync: string[]): void {
  const stated = manifest?.abi?.['async-ffi'];
  if (stated === undefined || stated === ASYNC_FFI_ABI || usesAsync.length === 0) return;
  const d: ManifestDifference = { key: 'abi.async-ffi', plugin: String(stated), other: String(ASYNC_FFI_ABI), otherPath: null };
  throw new PluginIncompatibleError(
    `cannot load ${path}: it declares async results (${usesAsync.map((n) => `'${n}'`).join(', ')}), and its ${MANIFEST_SYMBOL} states another async-ffi ABI than rustplug drives:\n${table([
      ['key', basename(path), 'rustplug'],
      ['abi.async-ffi', d.plugin!, d.other!],
    ])}\nrustplug drives async-ffi ABI ${ASYNC_FFI_ABI} (async-ffi 0.5, docs/abi.md): rebuild the plugin against async-ffi 0.5 or the rustplug-plugin kit, or declare those symbols without { future } / { stream }.`,
    [d],
    { path },
  );
}
