// A panic inside a future's poll reaches JS with its message and location when the plugin is
// built with the rustplug-plugin kit (its poll_fn keeps them for rustplug_take_panic); without
// the kit the error still says what happened and where to look.
import { describe, expect, it } from 'vitest';

import { open, PluginPanicError } from '../src/index.js';
import { asyncPluginPath, cAsyncPath } from './helpers/async-fixture.js';
import { rejected } from './helpers/plugins.js';

async function panicOf(p: Promise<unknown>): Promise<PluginPanicError> {
  const e = await rejected(p);
  expect(e).toBeInstanceOf(PluginPanicError);
  return e as PluginPanicError;
}

const where = /at async-plugin\/src\/lib\.rs:\d+:\d+$/;

describe('panic messages', () => {
  const lib = open(asyncPluginPath, {
    panic_on_poll: { parameters: [], result: { future: 'u32' } },
    panic_after: { parameters: ['u32'], result: { future: 'u32' } },
    panic_point: { parameters: [], result: { future: { struct: { x: 'f64', y: 'f64' } } } },
    renamed: { name: 'panic_on_poll', parameters: [], result: { future: 'u32' } },
    ready_u32: { parameters: ['u32'], result: { future: 'u32' } },
  });

  it('first poll, inside the call: message and location in PluginPanicError.message', async () => {
    const e = await panicOf(lib.symbols.panic_on_poll());
    expect(e.panic).toMatch(/^panic_on_poll: expected panic from the async-plugin fixture at async-plugin\/src\/lib\.rs:\d+:\d+$/);
    expect(e.message).toBe(
      `the future returned by 'panic_on_poll' panicked while being polled: ${e.panic}. The plugin caught the panic, so the process is fine, but the call failed`,
    );
  });

  it('a later poll after a tokio wake, a struct result, a declaration under another key', async () => {
    expect((await panicOf(lib.symbols.panic_after(5))).panic).toMatch(/^panic_after: expected panic from the async-plugin fixture /);
    expect((await panicOf(lib.symbols.panic_point())).panic).toMatch(/^panic_point: expected panic/);
    expect((await panicOf(lib.symbols.renamed())).panic).toMatch(/^panic_on_poll: /);
    for (const call of [() => lib.symbols.panic_after(1), () => lib.symbols.panic_point()]) expect((await panicOf(call())).panic).toMatch(where);
  });

  it('each panic is reported once: concurrent panics keep their own messages, successes carry none', async () => {
    const [x, y] = await Promise.all([panicOf(lib.symbols.panic_after(3)), panicOf(lib.symbols.panic_on_poll())]);
    expect(x.panic).toMatch(/^panic_after: /);
    expect(y.panic).toMatch(/^panic_on_poll: /);
    expect(await lib.symbols.ready_u32(4)).toBe(4);
  });

  it('a plugin without the kit (C, async-ffi by hand): no message, and the error says where it went', async () => {
    const c = open(cAsyncPath, { c_bad_tag: { parameters: ['u32', 'u32'], result: { future: 'u64' } } });
    const e = await panicOf(c.symbols.c_bad_tag(2, 0));
    expect(e.panic).toBeNull();
    expect(e.message).toContain("see the plugin's stderr for the panic message; plugins built with the rustplug-plugin kit report it here");
  });
});
