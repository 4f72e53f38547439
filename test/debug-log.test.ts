// NODE_DEBUG=rustplug (util.debuglog): resolution steps, dlopen flags, symbols bound, futures with
// timings, close. And nothing at all without it.
import { spawnSync } from 'node:child_process';

import { expect, it } from 'vitest';

import { asyncPluginPath, distIndex } from './helpers/async-fixture.js';
import { PLUGINS, REPO } from './helpers/plugins.js';

const script = `
  const { open } = await import(${JSON.stringify(distIndex)});
  const basic = open(${JSON.stringify(PLUGINS.basic)}, {
    add: { parameters: ['i32', 'i32'], result: 'i32' },
    nope: { parameters: [], result: 'void', optional: true },
    point_len: { parameters: [{ struct: { x: 'f64', y: 'f64' } }], result: 'f64' },
  }, { lazy: true });
  basic.symbols.add(1, 2);
  const p = open(${JSON.stringify(asyncPluginPath)}, { sleep_u64: { parameters: ['u32', 'u64'], result: { future: 'u64' } } });
  await p.symbols.sleep_u64(3, 7);
  const c = new AbortController();
  const pending = p.symbols.sleep_u64(10_000, 1, { signal: c.signal }).catch(() => {});
  c.abort();
  await pending;
  basic.close();
  p.close();
`;

const runWith = (nodeDebug: string | undefined) => {
  const env = { ...process.env };
  if (nodeDebug === undefined) delete env.NODE_DEBUG;
  else env.NODE_DEBUG = nodeDebug;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, env, encoding: 'utf8', timeout: 30_000 });
};

it('NODE_DEBUG=rustplug logs resolution, dlopen flags, bindings, futures with timings and close', () => {
  const r = runWith('rustplug');
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('RUSTPLUG '));
  const text = lines.map((l) => l.replace(/^RUSTPLUG \d+: /, '')).join('\n');
  expect(text).toMatch(/^addon: loaded \/.*rustplug\.node$/m);
  expect(text).toContain(`resolve ${PLUGINS.basic}:`);
  expect(text).toMatch(/^ {2}NEEDED libc\.so\.6 \(by .*libbasic\.so\): \/\S*libc\.so\.6 via \S+ \(already loaded\)$/m);
  expect(text).toContain(`dlopen ${PLUGINS.basic}: RTLD_LAZY|RTLD_LOCAL|RTLD_NODELETE`);
  expect(text).toContain(`dlopen ${asyncPluginPath}: RTLD_NOW|RTLD_LOCAL|RTLD_NODELETE`);
  // Registers only: the addon makes the call; a struct by value goes through koffi.
  expect(text).toMatch(/^bind add -> add at 0x[0-9a-f]+ \(sync, called by the addon\)$/m);
  expect(text).toMatch(/^bind point_len -> point_len at 0x[0-9a-f]+ \(sync, through koffi\)$/m);
  expect(text).toContain('bind nope -> nope: not exported (optional: null)');
  expect(text).toMatch(/^bind sleep_u64 -> sleep_u64 at 0x[0-9a-f]+ \(async\)$/m);
  expect(text).toMatch(/^future sleep_u64 #1: start\nfuture sleep_u64 #1: resolved after \d+\.\d{3} ms$/m);
  const settled = Number(/future sleep_u64 #1: resolved after (\d+\.\d+) ms/.exec(text)![1]);
  expect(settled).toBeGreaterThanOrEqual(2.5); // the plugin sleeps 3 ms
  expect(text).toMatch(/^future sleep_u64 #2: rejected after \d+\.\d{3} ms \(ABORT_ERR\)$/m);
  expect(text).toContain(`close ${PLUGINS.basic}: 0 future(s)/stream(s) pending`);
  expect(text).toContain(`close ${asyncPluginPath}: 0 future(s)/stream(s) pending`);
});

it('without NODE_DEBUG nothing is logged', () => {
  const r = runWith(undefined);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
});
