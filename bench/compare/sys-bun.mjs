// bun:ffi (run by the bun binary from bench/peers): JIT-compiled (TinyCC) trampolines. bun:ffi has
// no struct-by-value type and no asynchronous call.
import { CString, dlopen } from 'bun:ffi';

export const version = () => Bun.version;

export function sync(path) {
  const { symbols: s } = dlopen(path, {
    add: { args: ['i32', 'i32'], returns: 'i32' },
    nop: { args: [], returns: 'void' },
    addf: { args: ['f64', 'f64'], returns: 'f64' },
    sum64: { args: ['ptr'], returns: 'u32' },
    str_echo: { args: ['ptr'], returns: 'ptr' },
  });
  const enc = new TextEncoder();
  return {
    add: s.add,
    nop: s.nop,
    addf: s.addf,
    sum64: s.sum64,
    struct: null, // not supported by bun:ffi
    string: (str) => {
      const bytes = new Uint8Array(str.length * 3 + 1);
      enc.encodeInto(str, bytes);
      const p = s.str_echo(bytes);
      return p ? new CString(p).toString() : null;
    },
  };
}
