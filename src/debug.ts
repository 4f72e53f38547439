// NODE_DEBUG=rustplug: what someone debugging a plugin wants to see, on stderr through
// util.debuglog. Nothing here runs (nor wraps anything) unless it is enabled.
import { performance } from 'node:perf_hooks';
import { debuglog } from 'node:util';

import type { DependencyGraph } from './ldpath.js';

export const debug = debuglog('rustplug');

/** Each object of the graph: who needed it, where it was found and how, or where it was looked for. */
export function debugResolution(path: string, graph: DependencyGraph): void {
  const nodes = graph.nodes;
  debug('resolve %s: %d object(s) in the graph', path, nodes.length);
  for (const n of nodes) {
    if (n.id === 0) continue;
    const by = n.parent === null ? '?' : (nodes[n.parent]?.name ?? '?');
    if (n.path === null) {
      debug('  NEEDED %s (by %s): not found; searched %s%s', n.name, by, n.searched.map((s) => `${s.via}:${s.where}`).join(', ') || 'nothing', n.problem ? `; ${n.problem}` : '');
    } else {
      debug('  NEEDED %s (by %s): %s via %s%s', n.name, by, n.path, n.via, n.loaded ? ' (already loaded)' : '');
    }
  }
}

/** A future-returning symbol that logs each call's start and settlement with its duration. */
export function tracedFuture(key: string, fn: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  let calls = 0;
  return function traced(this: unknown, ...args: unknown[]): unknown {
    const n = ++calls;
    const started = performance.now();
    debug('future %s #%d: start', key, n);
    const r = fn.apply(this, args);
    const ms = () => (performance.now() - started).toFixed(3);
    if (r instanceof Promise) {
      r.then(
        () => debug('future %s #%d: resolved after %s ms', key, n, ms()),
        (e: unknown) => debug('future %s #%d: rejected after %s ms (%s)', key, n, ms(), (e as { code?: string })?.code ?? String(e)),
      );
    }
    return r;
  };
}
