// The background's experiment, from Node: Rust modules loaded at run time share one tokio
// runtime when they link one copy of tokio (mod_a, mod_b and libexports.so), and cannot when
// each carries its own (mod_static_a, mod_static_b: the same sources as cdylibs). Its own
// process (vitest forks per file): the set's runtime is started once here.
import { describe, expect, it } from 'vitest';

import { open, PluginPanicError } from '../src/index.js';
import { rejected } from './helpers/plugins.js';
import { modADecls, modBDecls, SET, sharedDir } from './helpers/shared-set.js';

const opts = { libraryPath: [sharedDir] };

async function rejection(p: Promise<unknown>): Promise<PluginPanicError> {
  const e = await rejected(p);
  expect(e).toBeInstanceOf(PluginPanicError);
  return e as PluginPanicError;
}

describe('the shared set: one tokio in libexports.so', () => {
  const a = open(SET.modA, modADecls, opts);
  const b = open(SET.modB, modBDecls, opts);

  it('before any runtime exists, mod_b finds none and its spawn panics cleanly', async () => {
    expect(b.symbols.mod_b_has_runtime()).toBe(false);
    const e = await rejection(b.symbols.mod_b_task_thread(1));
    expect(e.panic).toMatch(/^mod_b: there is no reactor running, must be called from the context of a Tokio 1\.x runtime at shared\/mod_b\/src\/lib\.rs:\d+:\d+$/);
  });

  it('mod_a starts the runtime; tasks from both modules run on the same worker threads', async () => {
    expect(a.symbols.mod_a_start_runtime(2)).toBe(true);
    // Each batch may land on one worker only (a loaded machine): sample until they meet.
    const workersA = new Set<unknown>();
    const workersB = new Set<unknown>();
    for (let round = 0; round < 20 && ![...workersB].some((t) => workersA.has(t)); round++) {
      for (const t of await Promise.all(Array.from({ length: 24 }, () => a.symbols.mod_a_task_thread(1)))) workersA.add(t);
      for (const t of await Promise.all(Array.from({ length: 24 }, () => b.symbols.mod_b_task_thread(1)))) workersB.add(t);
    }
    // Two workers in all (the kit numbers threads in its one copy, so ids are comparable), and
    // mod_b's tasks landed on mod_a's workers.
    expect(new Set([...workersA, ...workersB]).size).toBeLessThanOrEqual(2);
    expect([...workersB].some((t) => workersA.has(t))).toBe(true);
  });

  it('thousands of interleaved tasks from both modules complete', async () => {
    const n = 2000;
    const calls: Promise<unknown>[] = [];
    const expected: (number | bigint)[] = [];
    for (let i = 0; i < n; i++) {
      const us = (i * 7919) % 500;
      calls.push(a.symbols.mod_a_work(i, us), b.symbols.mod_b_work(i, us));
      expected.push(i * 2 + 1, i * 3 + 2);
    }
    expect(await Promise.all(calls)).toEqual(expected);
  });

  it("the JS thread can enter the runtime's context: mod_b's calls made from JS find it", async () => {
    expect(b.symbols.mod_b_has_runtime()).toBe(false);
    // mod_b_spawn_here enters nothing itself: polled on the JS thread, its spawn needs the thread to be inside.
    expect((await rejection(b.symbols.mod_b_spawn_here(1))).panic).toContain('there is no reactor running');
    expect(a.symbols.mod_a_enter()).toBe(true);
    try {
      expect(b.symbols.mod_b_has_runtime()).toBe(true);
      const worker = await b.symbols.mod_b_spawn_here(1);
      // mod_a's tasks land on any of the runtime's workers: gather until the one mod_b's task ran
      // on shows up (a loaded machine may run a whole batch on the other worker).
      const workers = new Set<unknown>();
      for (let round = 0; round < 20 && !workers.has(worker); round++) {
        for (const t of await Promise.all(Array.from({ length: 16 }, () => a.symbols.mod_a_task_thread(1)))) workers.add(t);
      }
      expect(workers.has(worker)).toBe(true);
    } finally {
      expect(a.symbols.mod_a_exit()).toBe(true);
    }
    expect(b.symbols.mod_b_has_runtime()).toBe(false);
  });

  it('the dependency graph: both modules need the one libexports.so, which needs libstd', () => {
    for (const lib of [a, b]) {
      const deps = lib.info.dependencies;
      const exp = deps.find((d) => d.name === 'libexports.so')!;
      expect(exp).toMatchObject({ path: SET.exports, rustDylib: true });
      expect(deps.find((d) => d.name.startsWith('libstd-'))).toBeDefined();
    }
  });
});

describe('the static pair: each cdylib carries its own tokio', () => {
  const a = open(SET.staticA, modADecls);
  const b = open(SET.staticB, modBDecls);

  it('mod_static_b never sees the runtime mod_static_a starts: its spawn panics "no reactor running", cleanly', async () => {
    expect(a.symbols.mod_a_start_runtime(2)).toBe(true);
    expect(await a.symbols.mod_a_task_thread(1)).toBeGreaterThan(0);
    // mod_b's kit is its own copy: the runtime mod_a started is not in it…
    const e = await rejection(b.symbols.mod_b_task_thread(1));
    expect(e.code).toBe('ERR_PLUGIN_PANIC');
    expect(e.message).toMatch(
      /^the future returned by 'mod_b_task_thread' panicked while being polled: mod_b: there is no reactor running, must be called from the context of a Tokio 1\.x runtime at shared\/mod_static_b\/\.\.\/mod_b\/src\/lib\.rs:\d+:\d+\./,
    );
    // …and entering mod_a's runtime on this thread sets mod_a's tokio's thread-local, not mod_b's.
    expect(a.symbols.mod_a_enter()).toBe(true);
    try {
      expect(b.symbols.mod_b_has_runtime()).toBe(false);
      const e2 = await rejection(b.symbols.mod_b_spawn_here(1));
      expect(e2.message).toContain('there is no reactor running, must be called from the context of a Tokio 1.x runtime');
    } finally {
      a.symbols.mod_a_exit();
    }
    // Nothing crashed or hung: both still work.
    expect(await a.symbols.mod_a_work(5, 10)).toBe(11);
    expect(b.symbols.mod_b_bump(1)).toBe(1);
  });

  it('no shared Rust dylib: their graphs hold system libraries only', () => {
    for (const lib of [a, b]) {
      expect(lib.info.kind).toBe('cdylib');
      expect(lib.info.dependencies.filter((d) => d.rustDylib)).toEqual([]);
      expect(lib.info.manifest?.shared).toEqual({});
    }
  });
});
