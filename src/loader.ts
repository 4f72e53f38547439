// Loads a resolved dependency graph (src/ldpath.ts) so that what is mapped is exactly what was
// checked: every file is dlopen'ed through the descriptor it was opened, hashed and parsed by,
// dependencies before their dependents, so glibc never searches the disk for a NEEDED name and
// never opens a path again. A file swapped on disk after it was opened is never mapped, so its
// constructors never run.
//
// dlopen gets a symlink to /proc/self/fd/N in a private directory (mode 0700), under a name used
// once: glibc remembers the name an object was opened by and returns that object for any later
// dlopen of the same string, and descriptor numbers are reused (a worker's are closed when it
// exits), so "/proc/self/fd/N" itself would one day name another file.
//
// glibc matches a NEEDED name against the objects already loaded by their l_name and SONAME.
// A dependency whose SONAME is the NEEDED name matches as is; for one without (or with another)
// SONAME, the dependency is renamed to that NEEDED name for the duration of its dependent's
// dlopen (native/loader.cc). Afterwards each object is named by the path ld.so would have
// given it, so dladdr, dl_iterate_phdr and backtraces name real files.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import type { DependencyGraph, ResolvedNode } from './ldpath.js';
import { DlopenError } from './errors.js';
import { addon } from './native.js';

interface LoaderAddon {
  linkMapRename(handle: bigint, name: string): boolean;
}

let linkDir: string | undefined;

/** A fresh, never reused name that opens the file of `fd`. */
function onceName(fd: number, path: string): string {
  if (linkDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'rustplug-load-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    linkDir = dir;
  }
  const link = join(linkDir, `${randomUUID()}-${basename(path)}`);
  symlinkSync(`/proc/self/fd/${fd}`, link);
  return link;
}

/** The order ld.so initialises them in: each node after everything it needs (root last). */
export function loadOrder(graph: DependencyGraph): ResolvedNode[] {
  const out: ResolvedNode[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (n: ResolvedNode) => {
    if (state.has(n.id) || n.loaded || n.path === null) return; // a cycle is entered once
    state.set(n.id, 'visiting');
    for (const id of n.needed) visit(graph.nodes[id]!);
    state.set(n.id, 'done');
    out.push(n);
  };
  visit(graph.nodes[0]!);
  return out;
}

/**
 * dlopen's every not yet loaded node of `graph` from its descriptor, dependencies first with
 * `depFlags`, the root last with `rootFlags`; returns the root's handle. Throws DlopenError
 * naming the object that failed (the dependencies loaded before it stay loaded, as they would
 * after a failed dlopen of the whole graph with RTLD_NODELETE).
 */
export function loadGraph(graph: DependencyGraph, rootFlags: number, depFlags: number): bigint {
  const handles = new Map<number, bigint>();
  const root = graph.nodes[0]!;
  for (const n of loadOrder(graph)) {
    const fd = n.fd;
    if (fd === null) throw new Error(`internal: ${n.path} has no descriptor to load from`);
    const renamed = renameForMatch(graph, n, handles);
    const link = onceName(fd, n.path!);
    let opened;
    try {
      opened = addon.dlopen(link, n === root ? rootFlags : depFlags);
    } finally {
      unlinkSync(link);
      for (const [dep, handle, temporary] of renamed) {
        (addon as typeof addon & LoaderAddon).linkMapRename(handle, dep.path!);
        if (temporary) addon.dlclose(handle);
      }
    }
    if (opened.handle === undefined) {
      const err = opened.error ?? 'unknown error';
      const what = n === root ? `dlopen(${root.path}) failed` : `could not load ${n.path}, a dependency of ${root.path} (NEEDED as ${n.name})`;
      const undef = /undefined symbol: (\S+)/.exec(err);
      const hint = undef
        ? `; it uses ${undef[1]}, which neither it nor its NEEDED libraries define: relink it against the library that provides it, or open that library first with { global: true }`
        : '';
      throw new DlopenError(`${what}: ${err.replaceAll(link, n.path!)}${hint}`, err, { path: root.path! });
    }
    (addon as typeof addon & LoaderAddon).linkMapRename(opened.handle, n.path!);
    handles.set(n.id, opened.handle);
  }
  return handles.get(0)!;
}

/** Renames the dependencies of `n` that its NEEDED names would not match; returns them with
 *  their handles (temporary: a reference taken here, to be dropped). */
function renameForMatch(graph: DependencyGraph, n: ResolvedNode, handles: Map<number, bigint>): [ResolvedNode, bigint, boolean][] {
  const out: [ResolvedNode, bigint, boolean][] = [];
  n.needed.forEach((id, i) => {
    const dep = graph.nodes[id]!;
    const name = n.elf?.needed[i];
    if (name === undefined || dep === n || dep.path === null || dep.soname === name || out.some(([d]) => d === dep)) return;
    let handle = handles.get(id);
    let temporary = false;
    if (handle === undefined) {
      const r = addon.dlopen(dep.path, addon.RTLD.RTLD_LAZY | addon.RTLD.RTLD_NOLOAD);
      if (r.handle === undefined) return; // not loaded after all: glibc will say so
      handle = r.handle;
      temporary = true;
    }
    (addon as typeof addon & LoaderAddon).linkMapRename(handle, name);
    out.push([dep, handle, temporary]);
  });
  return out;
}
