#!/usr/bin/env bash
# Runs the future tests with ThreadSanitizer watching the native addon, the C plugins and the
# Rust fixtures: the waker vtable is called from plugin threads while the JS thread polls,
# cancels and tears down, and this is the run that checks those paths for data races.
#
#   npm run test:tsan                 # the runtime tests: future*, stream, js-callback, runtime, sync-fast-path
#   npm run test:tsan -- test/future.test.ts
#
# Everything it builds goes to build/tsan/ (the normal addon and rust-fixtures/target are left
# alone; nothing is downloaded):
# 1. build/tsan/rustplug.node: the cmake-js preset `tsan` (CMakePresets.json: -fsanitize=thread)
#    (scripts/sanitizer-common.sh).
# 2. scripts/tsan/build-fixtures.mjs: the C plugins with cc -fsanitize=thread and the Rust
#    fixtures basic and async-plugin with rustc's -Zsanitizer=thread (through rustplug/cargo) into
#    build/tsan/target, and build/tsan/fixtures.json, the fixture map with those in place of the
#    normal builds. rustc's newer LLVM calls __tsan_memcpy/memmove/memset, which gcc 12's libtsan
#    lacks: scripts/tsan/mem-shim.c provides them.
# 3. vitest runs with LD_PRELOAD=libtsan (node is not instrumented, the runtime must come first),
#    RUSTPLUG_ADDON pointing src/native.ts at the instrumented addon, and RUSTPLUG_FIXTURES
#    pointing the tests (test/helpers/fixtures.ts) at that map; the tests hand its paths to their
#    child processes and worker threads, which inherit the rest. If the kernel's address-space
#    randomisation leaves TSan no room ("unexpected memory mapping"), everything runs under
#    `setarch -R` (ASLR off for this process tree only).
# 4. Reports go to build/tsan/logs/. The run fails when a racing access is made by code in
#    native/ or rust-fixtures/c/ (ours); reports about node, V8, tokio or vitest alone are
#    counted, not fatal.
#    scripts/tsan/suppressions.txt lists known-benign reports, each with its reason.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=build/tsan
logs=$out/logs
mkdir -p "$out"
rm -rf "$logs"
mkdir -p "$logs"

source scripts/sanitizer-common.sh
cxx=${CXX:-g++}
cc=${CC:-cc}
libtsan=$("$cxx" -print-file-name=libtsan.so)
if [ ! -e "$libtsan" ] || [ "$libtsan" = libtsan.so ]; then
  echo "test-tsan: $cxx has no libtsan.so (apt-get install g++ provides it)" >&2
  exit 1
fi
libtsan=$(readlink -f "$libtsan")
san_find_headers test-tsan

# The normal fixtures first: installs the crate sources (scripts/install-deps.sh) and checks cargo.
node scripts/build-fixtures.mjs >/dev/null

# 1. The addon.
san_build_addon test-tsan "$out/rustplug.node" tsan

# 2. The instrumented fixtures and their map (the one line it prints on stdout).
map=$(node scripts/tsan/build-fixtures.mjs "$out")
[ -f "$map" ] || { echo "test-tsan: scripts/tsan/build-fixtures.mjs wrote no fixture map" >&2; exit 1; }
rust_libs=()
mapfile -t rust_libs < <(node -e 'const m = require(process.argv[1]); console.log(`${m.basic}\n${m.async_plugin}`)' "$map")

# rustc's TSan pass must find every entry point it calls in libtsan or in the shim.
shim=$out/libtsan-mem-shim.so
if [ ! -f "$shim" ] || [ scripts/tsan/mem-shim.c -nt "$shim" ]; then
  "$cc" -shared -fPIC -O2 -Wall -o "$shim" scripts/tsan/mem-shim.c
fi
missing=$(comm -23 \
  <(nm -D --undefined-only "${rust_libs[@]}" | grep -o '__tsan_[a-z0-9_]*' | sort -u) \
  <(nm -D --defined-only "$libtsan" "$shim" | grep -o '__tsan_[a-z0-9_]*' | sort -u))
if [ -n "$missing" ]; then
  echo "test-tsan: the instrumented Rust fixtures call TSan entry points that $libtsan lacks:" $missing >&2
  echo "test-tsan: add them to scripts/tsan/mem-shim.c" >&2
  exit 1
fi
preload="$libtsan:$root/$shim"

# 3. Can TSan map its shadow memory here? With more address randomisation than gcc 12's runtime
#    expects (vm.mmap_rnd_bits = 32, the default of some recent distributions; 28 is fine) it
#    finds its ranges taken and aborts with "unexpected memory mapping". ASLR off for this
#    process tree (setarch -R, inherited by every child) avoids that without touching sysctls.
run=()
tsan_starts() { probe=$("$@" env LD_PRELOAD="$preload" node -e 0 2>&1) && ! grep -q 'FATAL\|unexpected memory mapping' <<<"$probe"; }
if ! tsan_starts; then
  echo "test-tsan: TSan cannot start with ASLR on (${probe:0:200}); running under setarch -R" >&2
  run=(setarch "$(uname -m)" -R)
  if ! tsan_starts "${run[@]}"; then
    echo "test-tsan: TSan cannot start even with ASLR off: $probe" >&2
    exit 1
  fi
fi

node node_modules/typescript/bin/tsc -p tsconfig.build.json

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(test/future*.test.ts test/stream.test.ts test/js-callback.test.ts test/runtime.test.ts test/sync-fast-path.test.ts)
fi

# ignore_noninstrumented_modules=1: libc functions the runtime intercepts (memcpy, strcmp...)
#   are checked only when instrumented code calls them. Node, V8, libuv and vitest's native
#   bundler are not instrumented: TSan cannot see their synchronisation, so the memcpy calls they
#   make would read as thousands of races that say nothing about rustplug.
# exitcode=0, halt_on_error=0: every process runs to its end (tests check exit codes of child
#   processes); the filter below decides.
# report_signal_unsafe=0: node's own signal handlers call malloc.
export TSAN_OPTIONS="ignore_noninstrumented_modules=1:halt_on_error=0:exitcode=0:report_signal_unsafe=0:second_deadlock_stack=1:history_size=4:suppressions=$root/scripts/tsan/suppressions.txt:log_path=$root/$logs/tsan"
export RUSTPLUG_ADDON="$root/$out/rustplug.node"
export RUSTPLUG_FIXTURES="$map"

# Everything runs several times slower: the default 5 s per test is not enough.
san_vitest test-tsan "$out/rustplug.node" "${run[@]}" env LD_PRELOAD="$preload" -- --testTimeout=60000 --hookTimeout=60000 "${files[@]}"
status=$vitest_status

# 4. Reports: one log file per process, reports between lines of '='. A report is ours when one
# of its racing accesses (or, for a mutex or use-after-free report, the operation) is made by code
# in native/ or rust-fixtures/c/: the innermost frame of that stack outside the TSan runtime (its
# interceptors: free, memcpy, pthread_*). Deeper frames do not count: every access a plugin makes
# while it is polled has hub.cc below it, and tokio's threads are created from inside a poll.
shopt -s nullglob
reports=("$logs"/*)
set +e
node --input-type=module - "${reports[@]}" <<'JS'
import { readFileSync } from 'node:fs';
const ours = /\b(native\/(?:[a-z0-9_]+\/)*[a-z0-9_]+\.(?:cc|h)|rust-fixtures\/c\/[a-z0-9_]+\.c):\d+/;
const runtime = /\((?:libtsan\.so[.0-9]*|libtsan-mem-shim\.so)\+0x[0-9a-f]+\)$/;
// Stacks that say where something was made, not who made the racing access.
const context = /^\s+(Thread T\d+ .*created|Location is|Mutex M\d+ .*created at|Mutex M\d+ is already destroyed)/;
/** The innermost frame outside the runtime of each stack in the report that is an access. */
function accessFrames(report) {
  const frames = [];
  let skip = true;
  let taken = false;
  for (const line of report.split('\n')) {
    if (/^\s+#\d+ /.test(line)) {
      if (!skip && !taken && !runtime.test(line.trim())) {
        frames.push(line.trim());
        taken = true;
      }
    } else if (/^ {2}\S/.test(line)) {
      skip = context.test(line);
      taken = false;
    }
  }
  return frames;
}
let fatal = 0;
const others = new Map();
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8');
  const found = text.split(/^=+$/m).filter((r) => r.includes('WARNING: ThreadSanitizer'));
  const mine = found.filter((r) => accessFrames(r).some((f) => ours.test(f)));
  console.log(`--- ${file}: ${found.length} report(s), ${mine.length} with an access in native/ or rust-fixtures/c/`);
  for (const r of mine) {
    fatal = 1;
    console.log(r.trim().split('\n').slice(0, 60).join('\n'));
    console.log('==================');
  }
  for (const r of found.filter((x) => !mine.includes(x))) {
    const key = /SUMMARY: ThreadSanitizer: ([^\n]*)/.exec(r)?.[1] ?? 'report without summary';
    others.set(key, (others.get(key) ?? 0) + 1);
  }
}
if (others.size) {
  console.log('test-tsan: reports without an access of ours (not fatal), the most frequent:');
  for (const [k, n] of [...others].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${n}× ${k.slice(0, 200)}`);
}
process.exit(fatal);
JS
filter=$?
set -e
san_finish test-tsan "${#reports[@]}" "$logs" "$status" "$filter"
