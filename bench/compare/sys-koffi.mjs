// koffi called directly (the library rustplug builds on), prototypes declared in C syntax.
import { readFileSync } from 'node:fs';

import koffi from 'koffi';

import { asyncPaths, root } from './cases.mjs';

export const version = () => JSON.parse(readFileSync(`${root}node_modules/koffi/package.json`, 'utf8')).version;

const Point = koffi.struct('BenchPoint', { x: 'double', y: 'double' });

export function sync(path) {
  const lib = koffi.load(path);
  return {
    add: lib.func('int32_t add(int32_t, int32_t)'),
    nop: lib.func('void nop()'),
    addf: lib.func('double addf(double, double)'),
    sum64: lib.func('uint32_t sum64(const uint8_t *p)'),
    struct: lib.func('point_swap', Point, [Point]),
    string: lib.func('const char *str_echo(const char *s)'),
  };
}

export function async() {
  // koffi throws beyond max_async_calls queued calls (default 256): raise it to its maximum.
  koffi.config({ ...koffi.config(), max_async_calls: 4096 });
  const add = koffi.load(asyncPaths.basic).func('int32_t add(int32_t, int32_t)');
  // koffi's .async runs the call on libuv's thread pool and reports through a callback.
  const call = (i) => new Promise((res, rej) => add.async(i, 1, (err, v) => (err ? rej(err) : res(v))));
  return { add: Object.assign(call, { maxInFlight: 4096, limit: "koffi's max_async_calls is at most 4096" }) };
}
