// The dependency graph as users see it: `lib.info.dependencies` and `rustplug inspect`'s tree.

import type { DependencyGraph, NeededVia } from './ldpath.js';
import type { PluginKind } from './elf.js';

export interface DependencyInfo {
  /** The NEEDED name it was first reached by (for the plugin: the path it was opened by). */
  name: string;
  /** The path ld.so names it by, or null when it was not found. */
  path: string | null;
  soname: string | null;
  /** How it was found: 'path' (the plugin), 'loaded' (already in the process), 'libraryPath',
   *  'rpath', 'LD_LIBRARY_PATH', 'runpath', 'ld.so.cache', 'default', 'sysroot'. */
  via: NeededVia | null;
  kind: PluginKind | null;
  /** A Rust dylib (it has a `.rustc` section). */
  rustDylib: boolean;
  /** The hash of the `libstd-<hash>.so` it is or needs, for Rust dylibs built with -C prefer-dynamic. */
  libstdHash: string | null;
  /** Indexes of the nodes its NEEDED names resolved to, in order (not listed for libraries that
   *  were loaded already: their dependencies are too). */
  needed: number[];
  /** It was mapped in the process before this open(). */
  alreadyLoaded: boolean;
}

export function describeGraph(graph: DependencyGraph): DependencyInfo[] {
  return graph.nodes.map((n) => ({
    name: n.name,
    path: n.path,
    soname: n.soname,
    via: n.via,
    kind: n.kind,
    rustDylib: n.kind === 'rust-dylib',
    libstdHash: n.libstdHash,
    needed: [...n.needed],
    alreadyLoaded: n.loaded,
  }));
}

/** The graph as an indented tree, one line per NEEDED edge; a library reached again is marked
 *  and not expanded twice. */
export function formatTree(nodes: readonly DependencyInfo[]): string[] {
  const lines: string[] = [];
  const shown = new Set<number>();
  const label = (n: DependencyInfo) => {
    const tags = [n.via, n.rustDylib ? 'rust dylib' : null, n.libstdHash ? `libstd ${n.libstdHash}` : null].filter(Boolean).join(', ');
    return n.path === null ? 'not found' : `${n.path}${tags ? ` (${tags})` : ''}`;
  };
  const walk = (id: number, name: string, prefix: string, last: boolean) => {
    const n = nodes[id]!;
    const again = shown.has(id);
    lines.push(`${prefix}${last ? '└─ ' : '├─ '}${name} => ${label(n)}${again && n.needed.length ? ' (see above)' : ''}`);
    if (again) return;
    shown.add(id);
    const inner = prefix + (last ? '   ' : '│  ');
    n.needed.forEach((c, i) => walk(c, neededName(nodes, id, i), inner, i === n.needed.length - 1));
  };
  const root = nodes[0]!;
  shown.add(0);
  lines.push(label(root));
  root.needed.forEach((c, i) => walk(c, neededName(nodes, 0, i), '', i === root.needed.length - 1));
  return lines;
}

function neededName(nodes: readonly DependencyInfo[], parent: number, i: number): string {
  // The node keeps the first name it was reached by; an edge shows that node's name.
  return nodes[nodes[parent]!.needed[i]!]!.name;
}
