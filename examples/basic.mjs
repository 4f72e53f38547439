// The README's example: load a cargo-built plugin, call it, await one of its futures.
import { open } from 'rustplug';

const basic = open('rust-fixtures/target/release/libbasic.so', {
  add: { parameters: ['i32', 'i32'], result: 'i32' },
  scale: { parameters: ['f64', 'f64'], result: 'f64' },
  greet: { parameters: ['string'], result: 'string', free: 'basic_free_string' },
  point_add: {
    parameters: [{ struct: { x: 'f64', y: 'f64' } }, { struct: { x: 'f64', y: 'f64' } }],
    result: { struct: { x: 'f64', y: 'f64' } },
  },
});

console.log(`${basic.info.kind} built by ${basic.info.rustc ?? 'an unknown compiler'}: ${basic.info.realPath}`);
console.log('add(2, 3)        =', basic.symbols.add(2, 3));
console.log('scale(1.5, 4)    =', basic.symbols.scale(1.5, 4));
console.log("greet('Node')    =", basic.symbols.greet('Node'));
console.log('point_add(...)   =', basic.symbols.point_add({ x: 1, y: 2 }, { x: 10, y: 20 }));

const plugin = open('rust-fixtures/target/release/libasync_plugin.so', {
  sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  fetch_len: { parameters: ['string'], result: { future: 'u64' } },
  never: { parameters: [], result: { future: 'void' } },
});

const started = performance.now();
const [a, b] = await Promise.all([plugin.symbols.sleep_u64(20, 42), plugin.symbols.fetch_len('https://example.com/')]);
console.log(`sleep_u64(20, 42) = ${a}, fetch_len(...) = ${b}  (awaited together in ${(performance.now() - started).toFixed(1)} ms; woken by the plugin's tokio threads)`);

try {
  await plugin.symbols.never({ signal: AbortSignal.timeout(10) });
} catch (e) {
  console.log(`never() with a 10 ms timeout: ${e.name} (${e.cause?.name})`);
}
basic.close();
plugin.close();
