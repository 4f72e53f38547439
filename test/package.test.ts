// The package as a user gets it: `npm pack`, then `npm install --ignore-scripts <tarball>` in a
// clean app (no compiler runs: the prebuilt addon must be in the tarball), then an ESM import, a
// CommonJS require() and a `tsc --strict` consumer without `as const`, all against the installed
// copy and the real fixtures.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { asyncPluginPath } from './helpers/async-fixture.js';
import { PLUGINS, REPO, tempDir } from './helpers/plugins.js';

let dir: string;
let app: string;
let packed: { filename: string; files: { path: string }[] };
const timings: Record<string, number> = {};

/** The environment of a user's shell: none of the npm_config_* settings `npm test` passes down. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && !k.startsWith('VITEST')) env[k] = v;
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra };
}

function run(cmd: string, args: string[], cwd: string, what: string, env = userEnv()): SpawnSyncReturns<string> {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 * 1024 * 1024 });
  timings[what] = Date.now() - started;
  if (r.error) throw r.error;
  return r;
}

const npm = (args: string[], cwd: string, what: string) => run('npm', args, cwd, what);

beforeAll(() => {
  dir = tempDir();
  // The prebuild, once per run (skipped when newer than native/; built in a staged copy, so this
  // checkout's build/ that other test files load is never touched).
  const pre = run(process.execPath, [join(REPO, 'scripts', 'prebuild.mjs')], REPO, 'prebuild');
  expect(pre.status, `${pre.stdout}${pre.stderr}`).toBe(0);
  // dist/ is fresh (test/global-setup.ts); --ignore-scripts so that `prepare` does not rewrite it
  // under the other test files.
  const pack = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO, 'npm pack');
  expect(pack.status, pack.stderr).toBe(0);
  packed = JSON.parse(pack.stdout)[0];
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // Registry dependencies (koffi, mitata, node-gyp-build) come from npm's cache when it has them.
  const install = npm(['install', '--ignore-scripts', '--prefer-offline', '--no-package-lock', join(dir, packed.filename)], app, 'npm install');
  expect(install.status, `${install.stdout}${install.stderr}`).toBe(0);
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  console.log(`package.test timings (ms): ${JSON.stringify(timings)}`);
});

describe('the packed tarball', () => {
  it('holds the prebuilt addon, dist/, the install scripts and LICENSE, and nothing of the checkout', () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ['prebuilds/linux-x64/rustplug.node', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'LICENSE', 'README.md', 'package.json', 'binding.gyp', 'CMakeLists.txt', 'scripts/install.mjs', 'scripts/build-addon.mjs', 'scripts/node-toolchain.mjs', 'native/addon.cc']) {
      expect(files, f).toContain(f);
    }
    for (const f of files) expect(f).not.toMatch(/^(build|test|rust-fixtures|bench|node_modules)\//);
  });

  it('installs with --ignore-scripts: nothing is compiled, the prebuild is there', () => {
    const pkg = join(app, 'node_modules', 'rustplug');
    expect(existsSync(join(pkg, 'prebuilds', 'linux-x64', 'rustplug.node'))).toBe(true);
    expect(existsSync(join(pkg, 'build'))).toBe(false);
  });
});

const checks = (mod: string) => `
const maps = () => require('node:fs').readFileSync('/proc/self/maps', 'utf8');
(async () => {
  const rp = ${mod};
  const out = {};
  out.addonAtImport = maps().includes('rustplug.node');
  out.inspectKind = rp.inspect(${JSON.stringify(PLUGINS.basic)}).kind;
  const lib = rp.open(${JSON.stringify(PLUGINS.basic)}, {
    add: { parameters: ['i32', 'i32'], result: 'i32' },
    greet: { parameters: ['string'], result: 'string', free: 'basic_free_string' },
  });
  out.add = lib.symbols.add(2, 3);
  out.greet = lib.symbols.greet('tarball');
  const plugin = rp.open(${JSON.stringify(asyncPluginPath)}, { sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } } });
  out.future = await plugin.symbols.sleep_u64(2, 42);
  out.addon = maps().split('\\n').map((l) => l.split(/\\s+/)[5]).find((p) => p && p.endsWith('rustplug.node'));
  out.errorClass = typeof rp.PluginError;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function expectWorks(r: SpawnSyncReturns<string>): void {
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(JSON.parse(r.stdout)).toEqual({
    inspectKind: 'cdylib',
    addonAtImport: false, // lazy: importing rustplug does not load the addon
    add: 5,
    greet: 'Hello, tarball!',
    future: 42,
    addon: join(app, 'node_modules', 'rustplug', 'prebuilds', 'linux-x64', 'rustplug.node'),
    errorClass: 'function',
  });
}

describe('the installed package', () => {
  it('ESM: import works and calls run on the prebuilt addon', () => {
    writeFileSync(join(app, 'app.mjs'), `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${checks("await import('rustplug')")}`);
    expectWorks(run(process.execPath, ['app.mjs'], app, 'node app.mjs'));
  });

  it('CommonJS: require("rustplug") from a .cjs file works', () => {
    writeFileSync(join(app, 'app.cjs'), checks("require('rustplug')"));
    expectWorks(run(process.execPath, ['app.cjs'], app, 'node app.cjs'));
  });

  it('the CLI runs from node_modules/.bin', () => {
    const r = run(join(app, 'node_modules', '.bin', 'rustplug'), ['sri', PLUGINS.basic], app, 'rustplug sri');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sha256-[A-Za-z0-9+/]{43}=\n$/);
  });

  it('rustplug bench runs from node_modules/.bin: mitata comes with the package', () => {
    const args = ['bench', '--json', '--time', '5', '--rounds', '1', PLUGINS.basic, 'add', '--sig', '(i32,i32)->i32', '1', '2'];
    const r = run(join(app, 'node_modules', '.bin', 'rustplug'), args, app, 'rustplug bench');
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const report = JSON.parse(r.stdout) as { result: unknown; series: { name: string }[] };
    expect(report.result).toBe(3);
    expect(report.series.map((s) => s.name)).toEqual(['rustplug', 'koffi']);
  });

  it('TypeScript: a --strict consumer without `as const` type-checks, and wrong calls are errors', () => {
    // The app's own @types/node; rustplug's types come from the installed dist/index.d.ts.
    mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(REPO, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'));
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { open, type Declarations, type PluginError } from 'rustplug';

// Inline: the literal types are inferred (open has a const type parameter).
const basic = open('libbasic.so', {
  add: { parameters: ['i32', 'i32'], result: 'i32' },
  point_add: { parameters: [{ struct: { x: 'f64', y: 'f64' } }, { struct: { x: 'f64', y: 'f64' } }], result: { struct: { x: 'f64', y: 'f64' } } },
  greet: { parameters: ['string'], result: 'string', free: 'basic_free_string' },
});
const sum: number = basic.symbols.add(1, 2);
const p: { x: number; y: number } = basic.symbols.point_add({ x: 1, y: 2 }, { x: 3, y: 4 });
const g: string | null = basic.symbols.greet('x');

// Kept in a variable: \`satisfies Declarations\` (no \`as const\`) keeps literals and tuples.
const decls = {
  sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } },
  pair: { parameters: [], result: { struct: ['u8', 'i32'] } },
} satisfies Declarations;
const plugin = open('libasync_plugin.so', decls);
const f: Promise<number | bigint> = plugin.symbols.sleep_u64(1, 2n, { signal: AbortSignal.timeout(10) });
const pair: [number, number] = plugin.symbols.pair();

// @ts-expect-error a string where an i32 goes
basic.symbols.add('1', 2);
// @ts-expect-error one argument too few
basic.symbols.add(1);
// @ts-expect-error a tuple struct is not an object
const wrong: { x: number } = plugin.symbols.pair();
// @ts-expect-error no such symbol
basic.symbols.sub(1, 2);

export const used: unknown[] = [sum, p, g, f, pair, wrong, null as PluginError | null];
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'] }, files: ['consumer.ts'] }),
    );
    const r = run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app, 'tsc --strict');
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  }, 90_000);
});
