// A poll tag that is none of Ready/Pending/Panicked means the declaration and the plugin disagree
// about FfiPoll<T>: the call must fail with a clear error, drop the future once, and not crash.
import { describe, expect, test } from 'vitest';

import { DeclarationError, futureStats, open } from '../src/index.js';
import { cAsyncPath } from './helpers/async-fixture.js';

const lib = open(cAsyncPath, {
  c_bad_tag: { parameters: ['u32', 'u32'], result: { future: 'u64' } },
  c_futures_alive: { parameters: [], result: 'i64' },
});
const { c_bad_tag, c_futures_alive } = lib.symbols;

describe('a poll tag outside 0..2', () => {
  test('on the first poll: rejects with ERR_PLUGIN_BAD_DECLARATION naming the symbol and tag; drop ran', async () => {
    const before = c_futures_alive();
    const err = await c_bad_tag(7, 0).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DeclarationError);
    expect(err).toMatchObject({ code: 'ERR_PLUGIN_BAD_DECLARATION' });
    expect((err as Error).message).toContain("'c_bad_tag'");
    expect((err as Error).message).toContain('tag 7');
    expect(c_futures_alive()).toBe(before);
  });

  test('after pending polls: the same, from the hub', async () => {
    const before = c_futures_alive();
    const polls = futureStats().polls;
    await expect(c_bad_tag(200, 2)).rejects.toMatchObject({ code: 'ERR_PLUGIN_BAD_DECLARATION', message: expect.stringContaining('tag 200') });
    expect(futureStats().polls - polls).toBe(3);
    expect(c_futures_alive()).toBe(before);
    expect(futureStats().pending).toBe(0);
  });

  test('tag 2 is still a panic', async () => {
    await expect(c_bad_tag(2, 1)).rejects.toMatchObject({ code: 'ERR_PLUGIN_PANIC', symbol: 'c_bad_tag' });
    expect(c_futures_alive()).toBe(0);
  });
});
