// What every system calls, with which arguments and what it must return: runtime-agnostic (Node,
// Deno and Bun import it). The sync list is exported by both libraries under the same names:
// rust-fixtures/basic (a Rust cdylib) and rust-fixtures/c/cbench.c (plain C).
// The libraries are where their build reported them (rust-fixtures/target/fixtures.json, written
// by scripts/build-fixtures.mjs, which `npm run bench` runs first); node:fs is there in all three.
const path = (rel) => decodeURIComponent(new URL(`../../${rel}`, import.meta.url).pathname);
const { readFileSync } = await import('node:fs');
const built = JSON.parse(readFileSync(path('rust-fixtures/target/fixtures.json'), 'utf8'));

export const root = path('');
export const libraries = {
  rust: built.basic,
  c: built.cbench,
};
export const asyncPaths = {
  asyncPlugin: built.async_plugin,
  basic: libraries.rust,
  benchAddon: path('bench/native/build/Release/rustplug_bench.node'),
};

export const SYNC_CASES = ['add', 'nop', 'addf', 'sum64', 'struct', 'string'];
export const CASE_LABELS = {
  add: 'add(i32, i32)',
  nop: 'nop()',
  addf: 'addf(f64, f64)',
  sum64: '64-byte buffer sum',
  struct: 'struct by value (16 B in, 16 B out)',
  string: 'string round trip (15 B)',
};

const buf = new Uint8Array(64);
for (let i = 0; i < 64; i++) buf[i] = i;
export const BUF = buf;
export const STR = 'hello, rustplug';
export const ARGS = { add: [1, 2], nop: [], addf: [1.5, 2.25], sum64: [BUF], struct: [{ x: 1, y: 2 }], string: [STR] };

export function check(name, v) {
  const ok = {
    add: () => v === 3,
    nop: () => v === undefined || v === null,
    addf: () => v === 3.75,
    sum64: () => v === 2016,
    struct: () => v && v.x === 2 && v.y === 1,
    string: () => v === STR,
  }[name]();
  if (!ok) throw new Error(`${name}: wrong result ${JSON.stringify(v)}`);
}
