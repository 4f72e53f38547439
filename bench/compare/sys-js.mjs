// Plain JS doing the same work, for scale (V8 may inline all of it).
export const version = () => `V8 ${process.versions.v8}`;

export function sync() {
  return {
    add: (a, b) => (a + b) | 0,
    nop: () => {},
    addf: (a, b) => a + b,
    sum64: (buf) => {
      let s = 0;
      for (let i = 0; i < 64; i++) s += buf[i];
      return s;
    },
    struct: (p) => ({ x: p.y, y: p.x }),
    string: (s) => s,
  };
}
