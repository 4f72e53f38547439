// ffi-rs (bench/peers): define() builds a function per symbol; runInNewThread for async calls.
import { createRequire } from 'node:module';

import { asyncPaths, root } from './cases.mjs';

const require = createRequire(`${root}bench/peers/`);
const ffi = require('ffi-rs');
export const version = () => require('ffi-rs/package.json').version;

const { DataType: T } = ffi;
let n = 0;

export function sync(path) {
  const library = `bench${n++}`;
  ffi.open({ library, path });
  const point = { x: T.Double, y: T.Double, ffiTypeTag: T.StackStruct };
  const f = ffi.define({
    add: { library, retType: T.I32, paramsType: [T.I32, T.I32] },
    nop: { library, retType: T.Void, paramsType: [] },
    addf: { library, retType: T.Double, paramsType: [T.Double, T.Double] },
    sum64: { library, retType: T.U32, paramsType: [T.U8Array] },
    point_swap: { library, retType: point, paramsType: [point] },
    str_echo: { library, retType: T.String, paramsType: [T.String] },
  });
  return {
    add: (a, b) => f.add([a, b]),
    nop: () => f.nop([]),
    addf: (a, b) => f.addf([a, b]),
    // ffi-rs takes a Buffer for U8Array.
    sum64: (buf) => f.sum64([Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)]),
    struct: (p) => f.point_swap([p]),
    string: (s) => f.str_echo([s]),
  };
}

export function async() {
  ffi.open({ library: 'benchAsync', path: asyncPaths.basic });
  const call = { library: 'benchAsync', funcName: 'add', retType: T.I32, paramsType: [T.I32, T.I32], runInNewThread: true };
  return { add: (i) => ffi.load({ ...call, paramsValue: [i, 1] }) };
}
