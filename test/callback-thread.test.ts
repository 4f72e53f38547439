// A JS callback of a synchronous call, called by the plugin from another thread while the JS
// thread waits in the call, used to deadlock silently (koffi forwards it to the busy JS thread).
// The guard (native/callback_guard.cc) refuses it and the call throws CallbackThreadError. Run in
// a child process with a timeout: before the guard this hung forever.
import { join } from 'node:path';

import { expect, it } from 'vitest';

import { runNode, workersDir } from './helpers/async-fixture.js';
import { PLUGINS } from './helpers/plugins.js';

it('a callback from a plugin thread fails loudly instead of deadlocking; the JS thread\'s calls are unaffected', async () => {
  const r = await runNode(join(workersDir, 'callback-thread.mjs'), [PLUGINS.basic], 15_000);
  expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  const out = JSON.parse(r.stdout) as Record<string, { value?: unknown; error?: Record<string, unknown> }> & { ranOnForeignThread: number };
  expect(out.foreign.error).toMatchObject({
    name: 'CallbackThreadError',
    code: 'ERR_PLUGIN_CALLBACK_THREAD',
    symbol: 'call_on_thread',
    parameter: 0,
    callback: 'onValue',
  });
  const message = out.foreign.error!.message as string;
  expect(message).toMatch(/callback 'onValue' passed as parameter 0 from another thread/);
  expect(message).toMatch(/call it on the calling thread/);
  expect(out.ranOnForeignThread).toBe(0);
  expect(out.sameThread).toEqual({ value: 18 });
  expect(out.foreignAgain.error).toMatchObject({ code: 'ERR_PLUGIN_CALLBACK_THREAD', callback: '' });
  expect(out.nested).toEqual({ value: 4 }); // f(f(0)) with f(x) = x + 2
  expect(out.throws.error).toMatchObject({ name: 'Error', message: 'from the callback' });
  expect(out.native).toEqual({ value: 41 });
}, 30_000); // longer than runNode's kill timer, so a hung child is always killed by the parent
