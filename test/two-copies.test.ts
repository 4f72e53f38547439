// Two copies of rustplug in one process (e.g. two versions in one dependency tree) sharing one
// deduplicated koffi: koffi's type names are process-wide, so neither copy may name a type. Each
// copy is dist/ plus its own addon, as npm would install it; both import the same koffi.
import { copyFileSync, cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { asyncPluginPath, runNode } from './helpers/async-fixture.js';
import { PLUGINS, REPO, tempDir } from './helpers/plugins.js';

let dir: string;

beforeAll(() => {
  // The copies are of the built package (test/global-setup.ts has built dist/ from src/).
  dir = tempDir();
  mkdirSync(join(dir, 'node_modules'));
  for (const dep of ['koffi', 'node-gyp-build']) symlinkSync(join(REPO, 'node_modules', dep), join(dir, 'node_modules', dep));
  for (const copy of ['one', 'two']) {
    const root = join(dir, 'node_modules', `rustplug-${copy}`);
    cpSync(join(REPO, 'dist'), join(root, 'dist'), { recursive: true });
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    copyFileSync(join(REPO, 'build', 'Release', 'rustplug.node'), join(root, 'build', 'Release', 'rustplug.node'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: `rustplug-${copy}`, type: 'module', main: './dist/index.js' }));
  }
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('both copies open plugins and make sync, async and struct calls', async () => {
  const script = join(dir, 'main.mjs');
  writeFileSync(
    script,
    `import { createRequire } from 'node:module';
import * as one from 'rustplug-one';
import * as two from 'rustplug-two';
const req = (m) => createRequire(import.meta.resolve(m)).resolve('koffi');
const out = { sameKoffi: req('rustplug-one') === req('rustplug-two'), distinct: one.open !== two.open, results: [] };
const P = { struct: { x: 'f64', y: 'f64' } };
for (const rp of [one, two]) {
  const basic = rp.open(${JSON.stringify(PLUGINS.basic)}, {
    add: { parameters: ['i32', 'i32'], result: 'i32' },
    point_add: { parameters: [P, P], result: P },
    greet: { parameters: ['string'], result: 'string', free: 'basic_free_string' },
  });
  const plugin = rp.open(${JSON.stringify(asyncPluginPath)}, {
    ready_u64: { parameters: ['u64'], result: { future: 'u64' } },
    sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
    point_len_after: { parameters: ['u32', P], result: { future: 'f64' } },
    sleep_point: { parameters: ['u32', 'f64', 'f64'], result: { future: P } },
  });
  out.results.push([
    basic.symbols.add(2, 3),
    basic.symbols.point_add({ x: 1, y: 2 }, { x: 3, y: 4 }),
    basic.symbols.greet('two'),
    await plugin.symbols.ready_u64(7),
    await plugin.symbols.sleep_u64(2, 8),
    await plugin.symbols.point_len_after(1, { x: 3, y: 4 }),
    await plugin.symbols.sleep_point(1, 5, 6),
  ]);
}
console.log(JSON.stringify(out));
`,
  );
  const r = await runNode(script, [], 20_000);
  expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  const expected = [5, { x: 4, y: 6 }, 'Hello, two!', 7, 8, 5, { x: 5, y: 6 }];
  expect(JSON.parse(r.stdout)).toEqual({ sameKoffi: true, distinct: true, results: [expected, expected] });
});
