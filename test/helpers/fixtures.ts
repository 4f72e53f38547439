// Where the fixtures are, as their build reported it: scripts/build-fixtures.mjs writes
// rust-fixtures/target/fixtures.json, each Rust library at the path cargo named in its JSON
// messages (rustplug/cargo) and each C library where cc wrote it. Tests and helpers take paths
// from here, never from a guess under target/; child processes and worker threads get theirs
// from the test that starts them. RUSTPLUG_FIXTURES names another map of the same shape
// (scripts/test-tsan.sh: its instrumented builds over the normal ones).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Cargo's target names of the Rust fixtures, and the C fixtures' file names (rust-fixtures/README.md). */
const NAMES = [
  'basic',
  'basic_dylib',
  'async_plugin',
  'mod_static_a',
  'mod_static_b',
  'exports',
  'mod_a',
  'mod_b',
  'mod_features',
  'cplugin',
  'c_async',
  'c_hooks',
  'cbench',
  'cunion',
] as const;
export type FixtureName = (typeof NAMES)[number];
export type Fixtures = Readonly<Record<FixtureName, string>>;

const builtMap = fileURLToPath(new URL('../../rust-fixtures/target/fixtures.json', import.meta.url));
const buildScript = fileURLToPath(new URL('../../scripts/build-fixtures.mjs', import.meta.url));

/** The map the tests read: RUSTPLUG_FIXTURES, else the one scripts/build-fixtures.mjs writes. */
export const FIXTURES_MAP = process.env.RUSTPLUG_FIXTURES || builtMap;

/** The map at `path`, or why it cannot serve: missing, not JSON, a fixture absent from it or from disk. */
function read(path: string): Fixtures | string {
  let map: Record<string, unknown>;
  try {
    map = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    return `cannot read ${path}: ${(e as Error).message}`;
  }
  const out = {} as Record<FixtureName, string>;
  for (const name of NAMES) {
    const p = map[name];
    if (typeof p !== 'string') return `${path} has no fixture '${name}'`;
    if (!existsSync(p)) return `${path} names ${p} for '${name}', which does not exist`;
    out[name] = p;
  }
  return Object.freeze(out);
}

function load(): Fixtures {
  let map = read(FIXTURES_MAP);
  // A test file run on its own after a clean, or after a fixture was added: build (cargo decides
  // what is stale). A map named by RUSTPLUG_FIXTURES belongs to whoever set it.
  if (typeof map === 'string' && FIXTURES_MAP === builtMap) {
    execFileSync(process.execPath, [buildScript], { stdio: 'inherit' });
    map = read(FIXTURES_MAP);
  }
  if (typeof map === 'string') throw new Error(`test fixtures: ${map}`);
  return map;
}

/** Every fixture's file, by name. */
export const FIXTURES: Fixtures = load();
