// Integration tests against a plugin that cargo builds: `rustplug/cargo` runs cargo (JSON
// messages), returns the library cargo reports, rebuilds only what cargo says changed, and lets
// one vitest worker build a crate while the others wait for it.
//
//   npx vitest run examples/cargo-plugin.test.ts
import { open } from 'rustplug';
import { cargoBuild } from 'rustplug/cargo';
import { beforeAll, describe, expect, it } from 'vitest';

// The crate under test: here the repository's `basic` fixture (offline, see rust-fixtures/).
const crate = new URL('../rust-fixtures/basic', import.meta.url).pathname;

let path: string;
beforeAll(async () => {
  // A compile error fails this hook with a CargoBuildError listing rustc's diagnostics.
  const built = await cargoBuild(crate, { release: true });
  path = built.library!;
}, 120_000);

describe('the basic plugin', () => {
  it('adds', () => {
    using lib = open(path, { add: { parameters: ['i32', 'i32'], result: 'i32' } });
    expect(lib.symbols.add(2, 3)).toBe(5);
  });

  it('greets, and frees what it returns', () => {
    using lib = open(path, {
      greet: { parameters: ['string'], result: 'string', free: 'basic_free_string' },
      strings_alive: { parameters: [], result: 'i64' },
    });
    expect(lib.symbols.greet('vitest')).toBe('Hello, vitest!');
    expect(lib.symbols.strings_alive()).toBe(0);
  });
});
