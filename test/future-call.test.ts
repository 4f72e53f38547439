// How a future-creating call reaches the plugin: the hub makes it itself when every argument
// travels in a register (any mix of integer, pointer, f32 and f64 parameters, up to 5 + 8), and
// koffi makes it otherwise (structs by value, more arguments than registers). Both must pass
// every argument to the right place; the fixtures encode each argument into the result.
import { describe, expect, test } from 'vitest';

import { futureStats, open } from '../src/index.js';
import { asyncPluginPath, waitUntil } from './helpers/async-fixture.js';

const lib = open(asyncPluginPath, {
  mix_args: { parameters: ['i8', 'f64', 'u16', 'f32', 'i64', 'f64', 'bool'], result: { future: 'f64' } },
  sum6: { parameters: ['u64', 'u64', 'u64', 'u64', 'u64', 'u64'], result: { future: 'u64' } },
  sum9f: { parameters: ['f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64'], result: { future: 'f64' } },
  point_len_after: { parameters: ['u32', { struct: { x: 'f64', y: 'f64' } }], result: { future: 'f64' } },
  ready_mixed: { parameters: ['u8', 'i32', 'u64', 'f32'], result: { future: { struct: ['u8', 'i32', 'u64', 'f32'] } } },
  sleep_point: { parameters: ['u32', 'f64', 'f64'], result: { future: { struct: { x: 'f64', y: 'f64' } } } },
  futures_alive: { parameters: [], result: 'i64' },
});
const s = lib.symbols;

const mix = (a: number, x: number, b: number, y: number, c: number, z: number, d: boolean) =>
  a + x * 10 + b * 100 + Math.fround(y) * 1000 + c * 10000 + z + (d ? 0.5 : 0);

describe('register-class calls (made by the hub)', () => {
  test('integers, f64 and f32 interleaved land in their own registers', async () => {
    expect(await s.mix_args(-3, 0.25, 7, 1.5, -12, 0.125, true)).toBe(mix(-3, 0.25, 7, 1.5, -12, 0.125, true));
    expect(await s.mix_args(127, -1e3, 65535, -0.1, 2 ** 40, 3, false)).toBe(mix(127, -1e3, 65535, -0.1, 2 ** 40, 3, false));
  });

  test('f32 arguments are rounded like C floats', async () => {
    expect(await s.mix_args(0, 0, 0, 0.1, 0, 0, false)).toBe(Math.fround(0.1) * 1000);
  });

  test('struct results with f64 arguments, pending first (tokio wake)', async () => {
    expect(await s.sleep_point(2, 1.5, -2.5)).toEqual({ x: 1.5, y: -2.5 });
    const m = await s.ready_mixed(255, -7, 2 ** 53 - 1, 0.5);
    expect(m).toEqual([255, -7, 2 ** 53 - 1, 0.5]);
  });
});

describe('koffi-made calls', () => {
  test('six integer arguments (one more than the registers next to the result pointer)', async () => {
    expect(await s.sum6(1, 2, 3, 4, 5, 6)).toBe(1 + 4 + 9 + 16 + 25 + 36);
    expect(await s.sum6(0n, 0n, 0n, 0n, 0n, 10n ** 15n)).toBe(6 * 10 ** 15);
  });

  test('nine doubles (one more than the XMM registers)', async () => {
    expect(await s.sum9f(1, 1, 1, 1, 1, 1, 1, 1, 1)).toBe(45);
    expect(await s.sum9f(0, 0, 0, 0, 0, 0, 0, 0, 0.5)).toBe(4.5);
  });

  test('a struct by value, settled after a tokio wake', async () => {
    expect(await s.point_len_after(2, { x: 3, y: 4 })).toBe(5);
  });
});

test('every future was dropped, nothing pending', async () => {
  // The tokio thread that woke the last future drops its waker clone just after the wake, and may
  // not have done so yet when the promise settles (seen under test:tsan).
  await waitUntil(() => futureStats().wakerCells === 0, 'the waker clones to be released');
  expect(s.futures_alive()).toBe(0);
  const st = futureStats();
  expect(st.pending).toBe(0);
  expect(st.wakerCells).toBe(0);
});
