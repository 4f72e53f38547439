// ffi-napi (bench/peers, installed with --ignore-scripts: its own build fails on Node 20, the
// prebuilt binaries it ships load), structs through ref-struct-di.
import { createRequire } from 'node:module';

import { asyncPaths, root } from './cases.mjs';

const require = createRequire(`${root}bench/peers/`);
const ffi = require('ffi-napi');
const ref = require('ref-napi');
const Struct = require('ref-struct-di')(ref);
export const version = () => require('ffi-napi/package.json').version;

const Point = Struct({ x: 'double', y: 'double' });

export function sync(path) {
  const f = ffi.Library(path, {
    add: ['int32', ['int32', 'int32']],
    nop: ['void', []],
    addf: ['double', ['double', 'double']],
    sum64: ['uint32', ['pointer']],
    point_swap: [Point, [Point]],
    str_echo: ['string', ['string']],
  });
  return {
    add: f.add,
    nop: f.nop,
    addf: f.addf,
    // A pointer argument takes a Buffer.
    sum64: (buf) => f.sum64(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)),
    struct: (p) => {
      const r = f.point_swap(new Point(p));
      return { x: r.x, y: r.y };
    },
    string: f.str_echo,
  };
}

export function async() {
  const f = ffi.Library(asyncPaths.basic, { add: ['int32', ['int32', 'int32']] });
  return { add: (i) => new Promise((res, rej) => f.add.async(i, 1, (err, v) => (err ? rej(err) : res(v)))) };
}
