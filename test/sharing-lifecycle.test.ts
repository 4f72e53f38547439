// Lifecycle of a sharing set: its modules run on one runtime whose worker threads may run any
// module's code, so none is unmapped, and none is closed while futures of the set are pending
// (close() throws ERR_PLUGIN_BUSY, close({ wait: true }) waits). Its own process: the set's
// runtime is started here.
import { setTimeout as sleep } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { DeclarationError, open, PluginBusyError, PluginClosedError } from '../src/index.js';
import { thrown } from './helpers/plugins.js';
import { asyncDecls, asyncPluginPath } from './helpers/async-fixture.js';
import { modADecls, modBDecls, SET, sharedDir } from './helpers/shared-set.js';

const opts = { libraryPath: [sharedDir] };
const counter = { exports_counter: { parameters: [], result: 'u64' } } as const;

describe('closing a module of a sharing set', () => {
  it('close() while another module has a pending future throws ERR_PLUGIN_BUSY and closes nothing', async () => {
    const a = open(SET.modA, modADecls, opts);
    const b = open(SET.modB, modBDecls, opts);
    a.symbols.mod_a_start_runtime(2);
    const pending = b.symbols.mod_b_task_thread(50);
    const e = thrown(() => a.close()) as PluginBusyError;
    expect(e).toBeInstanceOf(PluginBusyError);
    expect(e.code).toBe('ERR_PLUGIN_BUSY');
    expect(e.message).toContain(`cannot close ${SET.modA} now`);
    expect(e.message).toContain(`(${SET.modB}: 1)`);
    expect(e.message).toContain('await lib.close({ wait: true })');
    expect([...e.pending]).toEqual([[SET.modB, 1]]);
    expect(a.closed).toBe(false);
    expect(a.symbols.mod_a_bump(0)).toBeGreaterThanOrEqual(0);
    // Its own pending futures count too, and [Symbol.dispose] is close().
    const own = a.symbols.mod_a_work(1, 1000);
    expect(() => b[Symbol.dispose]()).toThrow(PluginBusyError);
    await expect(own).resolves.toBe(3);
    await expect(pending).resolves.toBeGreaterThan(0);
    // Nothing pending any more: close() closes at once.
    a.close();
    b.close();
    expect(a.closed && b.closed).toBe(true);
  });

  it('close({ wait: true }) refuses new calls at once and closes once every pending future of the set settled', async () => {
    const a = open(SET.modA, modADecls, opts);
    const b = open(SET.modB, modBDecls, opts);
    const order: string[] = [];
    const fromB = b.symbols.mod_b_task_thread(40).then((v) => {
      order.push('b settled');
      return v;
    });
    const fromA = a.symbols.mod_a_work(7, 20_000).then((v) => {
      order.push('a settled');
      return v;
    });
    const closing = a.close({ wait: true }).then(() => order.push('a closed'));
    expect(a.closed).toBe(true);
    expect(() => a.symbols.mod_a_bump(1)).toThrow(PluginClosedError);
    // Pending calls complete normally, both modules' before the close.
    expect(await fromA).toBe(15);
    expect(await fromB).toBeGreaterThan(0);
    await closing;
    expect(order).toEqual(['a settled', 'b settled', 'a closed']);
    // A second close({ wait }) and close() are no-ops.
    await a.close({ wait: true });
    a.close();
    b.close();
  });

  it("the runtime's threads keep running the modules' code after every JS handle is closed", async () => {
    const a = open(SET.modA, modADecls, opts);
    const b = open(SET.modB, modBDecls, opts);
    const before = b.symbols.mod_b_bump(0) as number;
    expect(a.symbols.mod_a_detached(30, 1000)).toBe(true);
    a.close();
    b.close();
    await sleep(150);
    // The detached task ran mod_a's code on a worker thread after the close, and the process is fine.
    const exp = open(SET.exports, counter);
    expect(exp.symbols.exports_counter()).toBe(before + 1000);
    // Reopened, the modules find the same runtime (it lives in libexports.so, never unloaded).
    const a2 = open(SET.modA, modADecls, opts);
    const b2 = open(SET.modB, modBDecls, opts);
    // mod_a's tasks land on either worker: gather until mod_b's worker shows up (on a loaded
    // machine a whole batch can run on the other one).
    const worker = await b2.symbols.mod_b_task_thread(1);
    const workers = new Set<unknown>();
    for (let round = 0; round < 20 && !workers.has(worker); round++) {
      for (const t of await Promise.all(Array.from({ length: 16 }, () => a2.symbols.mod_a_task_thread(1)))) workers.add(t);
    }
    expect(workers.has(worker)).toBe(true);
  });

  it('nodelete: false is refused for a module of a set', () => {
    const e = thrown(() => open(SET.modB, modBDecls, { ...opts, nodelete: false })) as DeclarationError;
    expect(e).toBeInstanceOf(DeclarationError);
    expect(e.message).toMatch(/shares code with other Rust modules .*libexports\.so.*: it is never unmapped, so the option nodelete: false cannot apply; drop it/);
  });
});

describe('close({ wait: true }) outside a set', () => {
  it('waits for its own pending futures, which complete normally; close() still rejects them', async () => {
    const lib = open(asyncPluginPath, asyncDecls);
    const p = lib.symbols.sleep_u64(30, 42n);
    const closing = lib.close({ wait: true });
    expect(lib.closed).toBe(true);
    expect(await p).toBe(42);
    await closing;
    const lib2 = open(asyncPluginPath, asyncDecls);
    const q = lib2.symbols.sleep_u64(30, 1n);
    expect(lib2.close()).toBeUndefined();
    await expect(q).rejects.toBeInstanceOf(PluginClosedError);
  });
});
