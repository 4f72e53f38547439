// The floor: a minimal Node-API addon (bench/native/floor.cc) calling the same function pointers,
// and the uv_async_send ping-pong (bench/native/pingpong.cc) for wakes.
import { createRequire } from 'node:module';

import { asyncPaths } from './cases.mjs';

const addon = createRequire(import.meta.url)(asyncPaths.benchAddon);
export const version = () => `Node-API ${process.versions.napi}`;

export function sync(path) {
  const f = addon.floorOpen(path);
  return { add: f.add, nop: f.nop, addf: f.addf, sum64: f.sum64, struct: f.pointSwap, string: f.strEcho };
}

export function async() {
  const f = addon.floorOpen(asyncPaths.basic);
  // benchPing's uv_async_t is unref'd: keep the loop alive while the benchmark awaits it.
  setInterval(() => {}, 1 << 30);
  return {
    add: (i) => f.addAsync(i, 1),
    // One ping in flight at a time by design (the bare round trip).
    ping: Object.assign(() => addon.benchPing(), { maxInFlight: 1, limit: 'one ping in flight by design' }),
  };
}
