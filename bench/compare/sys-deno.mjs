// Deno.dlopen (run by the deno binary from bench/peers): fast calls for scalars and buffers; structs
// by value as 16-byte buffers; strings encoded by hand (FFI has no string type); `nonblocking`
// symbols for async calls.
import { asyncPaths } from './cases.mjs';

export const version = () => Deno.version.deno;

const point = { struct: ['f64', 'f64'] };

export function sync(path) {
  const { symbols: s } = Deno.dlopen(path, {
    add: { parameters: ['i32', 'i32'], result: 'i32' },
    nop: { parameters: [], result: 'void' },
    addf: { parameters: ['f64', 'f64'], result: 'f64' },
    sum64: { parameters: ['buffer'], result: 'u32' },
    point_swap: { parameters: [point], result: point },
    str_echo: { parameters: ['buffer'], result: 'pointer' },
  });
  const enc = new TextEncoder();
  const pin = new Float64Array(2);
  return {
    add: s.add,
    nop: s.nop,
    addf: s.addf,
    sum64: s.sum64,
    struct: (p) => {
      pin[0] = p.x;
      pin[1] = p.y;
      const out = new Float64Array(s.point_swap(new Uint8Array(pin.buffer)).buffer);
      return { x: out[0], y: out[1] };
    },
    string: (str) => {
      const bytes = new Uint8Array(str.length * 3 + 1);
      enc.encodeInto(str, bytes); // the rest stays 0: NUL-terminated
      const p = s.str_echo(bytes);
      return p === null ? null : Deno.UnsafePointerView.getCString(p);
    },
  };
}

export function async() {
  const { symbols: s } = Deno.dlopen(asyncPaths.basic, {
    add: { parameters: ['i32', 'i32'], result: 'i32', nonblocking: true },
  });
  return { add: (i) => s.add(i, 1) };
}
