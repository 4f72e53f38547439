# Sourced by scripts/test-asan.sh and scripts/test-tsan.sh: finds the headers and builds the
# native addon with a sanitizer preset of the cmake-js build (CMakePresets.json).
# Expects $root (the repo) as the working directory; bash, `set -euo pipefail`.

# Node's headers: /usr/include/node (Debian's nodejs-dev / NodeSource), else next to the node
# binary, else $NODE_INCLUDE. Sets node_include and napi_include.
san_find_headers() {
  local tag=$1
  node_include=${NODE_INCLUDE:-/usr/include/node}
  if [ ! -f "$node_include/node_api.h" ]; then
    node_include=$(dirname "$(command -v node)")/../include/node
  fi
  if [ ! -f "$node_include/node_api.h" ]; then
    echo "$tag: node_api.h not found (set NODE_INCLUDE to the directory with Node's headers)" >&2
    exit 1
  fi
  napi_include=$(node -p "require('node-addon-api').include_dir")
}

# san_build_addon TAG OUT_NODE PRESET
# Builds the addon with cmake-js's sanitizer preset PRESET (CMakePresets.json: asan, tsan; the
# same sources and flags as every other build, from CMakeLists.txt) and copies it to OUT_NODE,
# when it is missing or older than anything in native/, the build files or the calling script.
san_build_addon() {
  local tag=$1 addon=$2 preset=$3
  if [ -f "$addon" ] && [ -z "$(find native binding.gyp CMakeLists.txt CMakePresets.json "scripts/$tag.sh" scripts/sanitizer-common.sh -newer "$addon" -print -quit)" ]; then
    return 0
  fi
  echo "$tag: building the addon with the cmake-js preset '$preset'"
  local built
  built=$(node scripts/build-cmake.mjs --preset "$preset" | tail -n 1)
  [ -f "$built" ] || { echo "$tag: the cmake-js preset '$preset' built nothing ($built)" >&2; exit 1; }
  mkdir -p "$(dirname "$addon")"
  cp "$built" "$addon.tmp"
  mv "$addon.tmp" "$addon"
}

# san_vitest TAG ADDON PREFIX... -- VITEST_ARGS...
# Checks that node started through PREFIX (e.g. `env LD_PRELOAD=...`) loads ADDON (RUSTPLUG_ADDON
# must point at it), then runs vitest through PREFIX. Sets vitest_status instead of failing:
# the sanitizer logs are read either way.
san_vitest() {
  local tag=$1 addon=$2
  shift 2
  local prefix=()
  while [ "$1" != -- ]; do
    prefix+=("$1")
    shift
  done
  shift
  # No leak report from this short check (ASan: later options win).
  "${prefix[@]}" env ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" node --input-type=module -e "
    // The addon loads on first use (importing rustplug does not load it): use it.
    (await import('./dist/index.js')).futureStats();
    const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
    if (!maps.includes('$addon')) { console.error('$tag: $addon was not loaded'); process.exit(1); }
  "
  echo "$tag: vitest $* through ${prefix[*]}"
  set +e
  "${prefix[@]}" node node_modules/vitest/vitest.mjs run "$@"
  vitest_status=$?
  set -e
}

# san_finish TAG LOG_COUNT LOG_DIR VITEST_STATUS FILTER_STATUS: the run's verdict. A report of
# ours fails the run even when every test passed.
san_finish() {
  echo "$1: $2 sanitizer log file(s) in $3; vitest exit status $4; report filter status $5"
  if [ "$5" -ne 0 ]; then exit 1; fi
  exit "$4"
}
