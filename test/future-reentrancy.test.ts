// JS that re-enters rustplug from inside a poll, a drop_fn or an abort listener: aborting,
// closing the library or calling again while the task in question is on the native stack. The
// C fixture (rust-fixtures/c/c_hooks.c) calls a hook at the start of every poll, after every
// Pending poll and inside drop_fn. Every test checks that each future's drop_fn ran exactly once,
// that nothing is left pending, and that the process is still healthy.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import koffi from 'koffi';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AbortError, PluginClosedError, futureStats, open } from '../src/index.js';
import { addon } from '../src/native.js';
import { rejection, waitUntil } from './helpers/async-fixture.js';
import { FIXTURES } from './helpers/fixtures.js';
import { PLUGINS, basicDecls } from './helpers/plugins.js';

const hooksPath = FIXTURES.c_hooks;
const POLL = 1;
const PENDING = 2;
const DROP = 3;

const hookDecls = {
  c_hook_u32: { parameters: ['function', 'u32'], result: { future: 'u32' } },
  c_hook_point: { parameters: ['function', 'u32'], result: { future: { struct: { x: 'f64', y: 'f64' } } } },
  c_hook_string: { parameters: ['function', 'u32'], result: { future: 'string' }, free: 'c_hook_free' },
  c_hook_wait: { parameters: ['function'], result: { future: 'u32' } },
  c_hook_futures_alive: { parameters: [], result: 'i64' },
  c_hook_strings_alive: { parameters: [], result: 'i64' },
} as const;

type Hook = (event: number, n: number) => void;
let onHook: Hook = () => {};
const events: [number, number][] = [];
// One persistent C function pointer for every test; the JS behind it is swapped per test.
const hookPtr = koffi.register(
  (event: number, n: number) => {
    events.push([event, n]);
    onHook(event, n);
  },
  koffi.pointer(koffi.proto('void', ['uint32_t', 'uint32_t'])),
) as unknown as bigint;

function openHooks(options: Parameters<typeof open>[2] = {}) {
  return open(hooksPath, hookDecls, options);
}
// Counters live in the plugin; read them through a handle no test closes.
const counters = openHooks();

const drops = () => events.filter(([e]) => e === DROP).length;

beforeEach(() => {
  events.length = 0;
});

afterEach(async () => {
  onHook = () => {};
  // A task woken during its last poll may still sit in the ready queue (holding its cell) until
  // the next drain skips it.
  await waitUntil(() => futureStats().pending === 0 && futureStats().wakerCells === 0, 'no pending future, no cell');
  expect(futureStats().starting).toBe(0);
  expect(counters.symbols.c_hook_futures_alive()).toBe(0);
  expect(counters.symbols.c_hook_strings_alive()).toBe(0);
  expect(futureStats().wakerCells).toBe(0);
  expect(futureStats().loopRefs).toBe(0);
});

const kinds = [
  ['u32', 'c_hook_u32'],
  ['struct', 'c_hook_point'],
  ['string', 'c_hook_string'],
] as const;

describe.each(kinds)('abort from inside a poll (%s result)', (_kind, symbol) => {
  for (const at of [1, 3]) {
    it(`during poll ${at} that would return Pending: AbortError, dropped once`, async () => {
      const lib = openHooks();
      const ac = new AbortController();
      onHook = (e, n) => {
        if (e === POLL && n === at) ac.abort('stop');
      };
      const err = await rejection(lib.symbols[symbol](hookPtr, 10, { signal: ac.signal }));
      expect(err).toBeInstanceOf(AbortError);
      expect(err.cause).toBe('stop');
      expect(drops()).toBe(1);
      // The abort was honoured right after that poll: no further poll ran.
      expect(events.filter(([e]) => e === POLL).length).toBe(at);
    });

    it(`during poll ${at} that returns Ready: the abort wins, the value is not leaked`, async () => {
      const lib = openHooks();
      const ac = new AbortController();
      onHook = (e, n) => {
        if (e === POLL && n === at) ac.abort('late');
      };
      const err = await rejection(lib.symbols[symbol](hookPtr, at - 1, { signal: ac.signal }));
      expect(err).toBeInstanceOf(AbortError);
      expect(drops()).toBe(1);
    });
  }
});

describe.each(kinds)('close() from inside a poll (%s result)', (_kind, symbol) => {
  for (const at of [1, 2]) {
    it(`during poll ${at}: rejects with ERR_PLUGIN_CLOSED, dropped once, later calls refused`, async () => {
      const lib = openHooks();
      onHook = (e, n) => {
        if (e === POLL && n === at) lib.close();
      };
      const err = await rejection(lib.symbols[symbol](hookPtr, 10));
      expect(err).toBeInstanceOf(PluginClosedError);
      expect(err.code).toBe('ERR_PLUGIN_CLOSED');
      expect(drops()).toBe(1);
      expect(events.filter(([e]) => e === POLL).length).toBe(at);
      expect((await rejection(lib.symbols[symbol](hookPtr, 0))).code).toBe('ERR_PLUGIN_CLOSED');
    });
  }

  it('close() during the poll that returns Ready: closed wins', async () => {
    const lib = openHooks();
    onHook = (e, n) => {
      if (e === POLL && n === 2) lib.close();
    };
    expect((await rejection(lib.symbols[symbol](hookPtr, 1))).code).toBe('ERR_PLUGIN_CLOSED');
    expect(drops()).toBe(1);
  });
});

describe('calls, aborts and closes that pile up inside one poll', () => {
  it('abort then close inside the same poll: the first reason wins, one drop', async () => {
    const lib = openHooks();
    const ac = new AbortController();
    onHook = (e, n) => {
      if (e === POLL && n === 2) {
        ac.abort('first');
        lib.close();
        ac.abort('again');
      }
    };
    const err = await rejection(lib.symbols.c_hook_u32(hookPtr, 5, { signal: ac.signal }));
    expect(err).toBeInstanceOf(AbortError);
    expect(err.cause).toBe('first');
    expect(drops()).toBe(1);
  });

  it('a new call started inside a poll (nested first poll), then the outer one is closed', async () => {
    const lib = openHooks();
    let inner: Promise<number> | undefined;
    onHook = (e, n) => {
      if (e === POLL && n === 1 && inner === undefined) {
        onHook = () => {};
        inner = lib.symbols.c_hook_u32(hookPtr, 1);
        lib.close();  // cancels both: the inner one is pending, the outer one in its first poll
      }
    };
    const outer = lib.symbols.c_hook_u32(hookPtr, 1);
    expect((await rejection(outer)).code).toBe('ERR_PLUGIN_CLOSED');
    expect((await rejection(inner!)).code).toBe('ERR_PLUGIN_CLOSED');
    expect(drops()).toBe(2);
  });

  it('calling the same symbol again from every poll: all settle with their own values', async () => {
    const lib = openHooks();
    const started: Promise<number>[] = [];
    let budget = 20;  // taken before the call: the call's own first poll re-enters this hook
    onHook = (e) => {
      if (e === PENDING && budget > 0) {
        budget--;
        started.push(lib.symbols.c_hook_u32(hookPtr, 2));
      }
    };
    const first = await lib.symbols.c_hook_u32(hookPtr, 2);
    expect(first).toBe(3);
    await waitUntil(() => futureStats().pending === 0, 'the nested calls');
    expect(await Promise.all(started)).toEqual(started.map(() => 3));
    expect(drops()).toBe(started.length + 1);
    lib.close();
  });

  it('an abort listener of the user, registered before ours, closes the library', async () => {
    const lib = openHooks();
    const ac = new AbortController();
    ac.signal.addEventListener('abort', () => lib.close());
    const p = lib.symbols.c_hook_wait(hookPtr, { signal: ac.signal });
    const q = lib.symbols.c_hook_wait(hookPtr, { signal: ac.signal });
    ac.abort('x');
    for (const err of [await rejection(p), await rejection(q)]) {
      expect(err instanceof PluginClosedError || err instanceof AbortError).toBe(true);
    }
    expect(drops()).toBe(2);
  });
});

describe('JS inside drop_fn', () => {
  it('a drop_fn that aborts another pending future', async () => {
    const lib = openHooks();
    const ac = new AbortController();
    const waiting = lib.symbols.c_hook_wait(hookPtr, { signal: ac.signal });
    onHook = (e) => {
      if (e === DROP) {
        onHook = () => {};
        ac.abort('from drop');
      }
    };
    expect(await lib.symbols.c_hook_u32(hookPtr, 1)).toBe(2);
    const err = await rejection(waiting);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.cause).toBe('from drop');
    expect(drops()).toBe(2);
    lib.close();
  });

  it('a drop_fn that closes the library while others are pending', async () => {
    const lib = openHooks();
    const waiting = [lib.symbols.c_hook_wait(hookPtr), lib.symbols.c_hook_wait(hookPtr)];
    onHook = (e) => {
      if (e === DROP) {
        onHook = () => {};
        lib.close();
      }
    };
    expect(await lib.symbols.c_hook_u32(hookPtr, 2)).toBe(3);
    for (const p of waiting) expect((await rejection(p)).code).toBe('ERR_PLUGIN_CLOSED');
    expect(drops()).toBe(3);
  });

  it('close() whose cancellations run drop_fns that close and abort again', async () => {
    const lib = openHooks();
    const ac = new AbortController();
    const ps = [lib.symbols.c_hook_wait(hookPtr, { signal: ac.signal }), lib.symbols.c_hook_wait(hookPtr), lib.symbols.c_hook_wait(hookPtr)];
    onHook = (e) => {
      if (e === DROP) {
        lib.close();
        ac.abort();
      }
    };
    lib.close();
    // Which reason a future gets depends on the order close() cancels them in: the drop_fn of
    // an earlier one may abort the signalled one first. Each gets exactly one.
    const codes = await Promise.all(ps.map(async (p) => (await rejection(p)).code));
    expect(codes.slice(1)).toEqual(['ERR_PLUGIN_CLOSED', 'ERR_PLUGIN_CLOSED']);
    expect(['ERR_PLUGIN_CLOSED', 'ABORT_ERR']).toContain(codes[0]);
    expect(drops()).toBe(3);
  });
});

describe('nodelete: false (the code is unmapped once nothing needs it)', () => {
  function privateCopy(src: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'rustplug-unmap-'));
    const dst = join(dir, src.split('/').pop()!);
    copyFileSync(src, dst);
    return dst;
  }
  const mapped = (path: string) => addon.loadedObjects().includes(path);

  it('close() inside the first poll: the plugin code stays mapped until its poll returns, then goes', async () => {
    const path = privateCopy(hooksPath);
    const lib = open(path, hookDecls, { nodelete: false });
    onHook = (e, n) => {
      if (e === POLL && n === 1) lib.close();
    };
    expect((await rejection(lib.symbols.c_hook_string(hookPtr, 0))).code).toBe('ERR_PLUGIN_CLOSED');
    expect(drops()).toBe(1);
    expect(mapped(path)).toBe(false);
  });

  it('a pending string future keeps the code until it settles; close() after that unmaps', async () => {
    const path = privateCopy(hooksPath);
    const lib = open(path, hookDecls, { nodelete: false });
    const p = lib.symbols.c_hook_string(hookPtr, 3);
    // Closing from inside the Ready poll: the string is copied and freed by the plugin's own
    // c_hook_free before the future drops and the library goes.
    onHook = (e, n) => {
      if (e === POLL && n === 4) lib.close();
    };
    expect((await rejection(p)).code).toBe('ERR_PLUGIN_CLOSED');
    expect(mapped(path)).toBe(false);
  });

  it('close() inside a sync callback: dlclose waits until the call returns', () => {
    const path = privateCopy(PLUGINS.basic);
    const lib = open(path, basicDecls, { nodelete: false });
    let calls = 0;
    const r = lib.symbols.apply_twice((x: number) => {
      calls++;
      lib.close();
      expect(mapped(path)).toBe(true);
      return x + 1;
    }, 1);
    expect(r).toBe(3);
    expect(calls).toBe(2);
    expect(mapped(path)).toBe(false);
    expect(() => lib.symbols.add(1, 2)).toThrow(PluginClosedError);
  });

  it('a pending future keeps an unmapping library mapped after close() from outside', async () => {
    const path = privateCopy(hooksPath);
    const lib = open(path, hookDecls, { nodelete: false });
    const p = lib.symbols.c_hook_wait(hookPtr);
    lib.close();
    expect((await rejection(p)).code).toBe('ERR_PLUGIN_CLOSED');
    expect(mapped(path)).toBe(false);
  });
});
