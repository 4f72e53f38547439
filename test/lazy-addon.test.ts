// Where rustplug's own addon cannot load (another libc, a broken install), everything but open()
// still works: importing the package, inspect(), sriOf(), the CLI, the ELF and resolution helpers.
// The addon is made unloadable for real: RUSTPLUG_ADDON points at a file that is not an ELF object.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { distIndex } from './helpers/async-fixture.js';
import { PLUGINS, REPO, tempDir } from './helpers/plugins.js';

let dir: string;
let broken: string;

beforeAll(() => {
  dir = tempDir();
  broken = join(dir, 'rustplug.node');
  writeFileSync(broken, 'not an addon\n');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const node = (args: string[]) =>
  spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', timeout: 30_000, env: { ...process.env, RUSTPLUG_ADDON: broken } });

it('import, inspect, sriOf and the ELF helpers work; open() throws ERR_PLUGIN_ADDON_UNAVAILABLE, every time', () => {
  const script = `
    const rp = await import(${JSON.stringify(distIndex)});
    const out = {};
    const info = rp.inspect(${JSON.stringify(PLUGINS.basic)});
    out.kind = info.kind;
    out.libc = info.needed.find((n) => n.name === 'libc.so.6')?.path ?? null;
    out.sri = rp.sriOf(${JSON.stringify(PLUGINS.basic)}).startsWith('sha256-');
    out.errors = [];
    for (let i = 0; i < 2; i++) {
      try { rp.open(${JSON.stringify(PLUGINS.basic)}, { add: { parameters: ['i32', 'i32'], result: 'i32' } }); out.errors.push('opened'); }
      catch (e) { out.errors.push({ code: e.code, cls: e.constructor.name, plugin: e instanceof rp.PluginError, message: e.message }); }
    }
    console.log(JSON.stringify(out));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const out = JSON.parse(r.stdout);
  expect(out.kind).toBe('cdylib');
  expect(out.libc).toMatch(/\/libc\.so\.6$/); // resolved through /proc/self/maps without the addon
  expect(out.sri).toBe(true);
  expect(out.errors).toHaveLength(2);
  expect(out.errors[0]).toEqual(out.errors[1]);
  expect(out.errors[0]).toMatchObject({ code: 'ERR_PLUGIN_ADDON_UNAVAILABLE', cls: 'AddonUnavailableError', plugin: true });
  expect(out.errors[0].message).toContain(broken);
  expect(out.errors[0].message).toContain('npm rebuild rustplug');
});

it('the CLI inspects and hashes without the addon', () => {
  const cli = join(REPO, 'dist', 'cli.js');
  const inspect = node([cli, 'inspect', PLUGINS.basic]);
  expect(inspect.stderr).toBe('');
  expect(inspect.status).toBe(0);
  expect(inspect.stdout).toContain('kind      cdylib');
  const sri = node([cli, 'sri', PLUGINS.basic]);
  expect(sri.status).toBe(0);
  expect(sri.stdout).toMatch(/^sha256-/);
  // call needs the addon: a typed error and what to do, exit 2 (not a crash).
  const call = node([cli, 'call', PLUGINS.basic, 'add', '--sig', '(i32,i32)->i32', '1', '2']);
  expect(call.status).toBe(2);
  expect(call.stdout).toBe('');
  expect(call.stderr).toMatch(/^ERR_PLUGIN_ADDON_UNAVAILABLE: .*\nhint: call needs rustplug's native addon: reinstall rustplug \(npm rebuild rustplug\); inspect, sizes and sri work without it\n$/);
});
