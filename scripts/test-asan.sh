#!/usr/bin/env bash
# Runs the future tests against an AddressSanitizer + UndefinedBehaviorSanitizer build of the
# native addon.
#
#   npm run test:asan                 # the runtime tests: future*, stream, js-callback, runtime, sync-fast-path
#   npm run test:asan -- test/future.test.ts
#
# 1. Builds the addon with the cmake-js preset `asan` (CMakePresets.json: -fsanitize=address,
#    undefined, -fno-sanitize-recover=undefined) and copies it to build/asan/rustplug.node (the
#    normal build/Release/rustplug.node is left alone; nothing is downloaded: the headers are the
#    running Node's; scripts/sanitizer-common.sh).
# 2. Runs vitest with LD_PRELOAD=libasan.so (node itself is not instrumented, so the ASan
#    runtime must come first) and RUSTPLUG_ADDON pointing src/native.ts at that build. Child
#    processes and worker threads inherit both.
# 3. Every sanitizer report goes to build/asan/logs/ and is summarised at the end. The run fails
#    on any UBSan report (halt_on_error=1 also stops the process), on any ASan error whose stack
#    goes through native/, and on leaked blocks that native/ code allocated itself.
#
# LeakSanitizer is off by default; ASAN_LEAKS=1 turns it on. It then reports, in every process,
# allocations node, V8 and koffi keep until exit (~40 KB in each child process, more in the
# vitest workers); the filter below keeps only blocks whose first frame above the allocator is
# in native/. (A pending future's napi_deferred cannot be freed through N-API once the
# environment stops, so a process or worker that exits with futures pending shows 8-byte V8
# handle wrappers allocated inside napi_create_promise called from hub.cc: reported, not fatal.)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=build/asan
logs=$out/logs
mkdir -p "$out"
rm -rf "$logs"
mkdir -p "$logs"

source scripts/sanitizer-common.sh
cxx=${CXX:-g++}
libasan=$("$cxx" -print-file-name=libasan.so)
if [ ! -e "$libasan" ] || [ "$libasan" = libasan.so ]; then
  echo "test-asan: $cxx has no libasan.so (apt-get install g++ provides it)" >&2
  exit 1
fi
san_find_headers test-asan
addon=$out/rustplug.node
san_build_addon test-asan "$addon" asan

# The fixtures and their map (rust-fixtures/target/fixtures.json), built here rather than by the
# first sanitized test process that misses them (it would run cargo under LD_PRELOAD=libasan).
node scripts/build-fixtures.mjs >/dev/null

# dist/ must exist for the child processes and workers (test/global-setup.ts rebuilds it when
# stale, but it runs inside the sanitized vitest process too; build it here first).
node node_modules/typescript/bin/tsc -p tsconfig.build.json

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(test/future*.test.ts test/stream.test.ts test/js-callback.test.ts test/runtime.test.ts test/sync-fast-path.test.ts)
fi

leaks=${ASAN_LEAKS:-0}
# alloc_dealloc_mismatch=0: node and V8 mix allocators in ways ASan flags without a bug of ours.
export ASAN_OPTIONS="detect_leaks=$leaks:halt_on_error=1:abort_on_error=0:alloc_dealloc_mismatch=0:detect_odr_violation=0:log_path=$root/$logs/asan:log_exe_name=1:print_summary=1"
export LSAN_OPTIONS="log_path=$root/$logs/asan:exitcode=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$root/$logs/ubsan"
export RUSTPLUG_ADDON="$root/$addon"

san_vitest test-asan "$addon" env LD_PRELOAD="$libasan" -- "${files[@]}"
status=$vitest_status

# Reports. Any UBSan report or any ASan error report (use-after-free, overflow, double free...)
# whose stack goes through native/ fails the run. For leaks, only blocks that rustplug's own code
# allocated (the first frame above the allocator is in native/) count: V8 allocates inside N-API
# calls made from our frames, and the deferreds of futures still pending at exit can't be freed
# through N-API (napi_reject_deferred refuses once JS can't run), so those are reported, not fatal.
shopt -s nullglob
reports=("$logs"/*)
set +e
node --input-type=module - "${reports[@]}" <<'JS'
import { readFileSync } from 'node:fs';
let fatal = 0;
const ours = /native\/(?:[a-z0-9_]+\/)*[a-z0-9_]+\.(cc|h):\d+/;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8');
  const errors = [...text.matchAll(/ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)[^\n]*/g)].map((m) => m[0]);
  const ubsan = /runtime error:/.test(text);
  let line = `--- ${file}: ${errors[0] ?? (ubsan ? 'UBSan runtime error' : 'no error report')}`;
  if (ubsan || errors.some((e) => !e.includes('LeakSanitizer'))) {
    if (ubsan || ours.test(text)) {
      fatal = 1;
      line += ' [involves rustplug]';
      console.log(line);
      console.log(text.split('\n').slice(0, 80).join('\n'));
      continue;
    }
  }
  // Leak blocks: "Direct leak of N byte(s) in K object(s) allocated from:" + frames.
  const blocks = text.split(/\n(?=(?:Direct|Indirect) leak of )/).filter((b) => /^(Direct|Indirect) leak of/.test(b));
  const mine = blocks.filter((b) => {
    const frames = b.split('\n').filter((l) => /^\s+#\d+ /.test(l));
    const first = frames.find((f) => !/libsanitizer|asan_|operator new|malloc|calloc|realloc|posix_memalign/.test(f));
    return first !== undefined && ours.test(first);
  });
  const bytes = (bs) => bs.reduce((n, b) => n + Number(/leak of (\d+)/.exec(b)[1]), 0);
  if (blocks.length) line += ` — ${blocks.length} leak block(s), ${bytes(blocks)} bytes; allocated by native/: ${mine.length} (${bytes(mine)} bytes)`;
  console.log(line);
  for (const b of mine) {
    fatal = 1;
    console.log(b.split('\n').slice(0, 12).join('\n'));
  }
}
process.exit(fatal);
JS
filter=$?
set -e
san_finish test-asan "${#reports[@]}" "$logs" "$status" "$filter"
