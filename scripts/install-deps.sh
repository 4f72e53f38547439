#!/usr/bin/env bash
# Installs what rust-fixtures/ needs to build offline, and checks the toolchain. Idempotent.
#
# Rust crates come from Debian's librust-*-dev packages (crates.io is not reachable): their
# sources land in /usr/share/cargo/registry, which the rust-fixtures/.cargo/config.toml that
# scripts/build-fixtures.mjs generates (RUSTPLUG_CRATES=debian) uses as the
# crates.io replacement. Only tokio and futures-core (and what they pull in) are needed.
set -euo pipefail

REGISTRY=/usr/share/cargo/registry
PACKAGES=(librust-tokio-dev librust-futures-core-dev)

have_crates() {
  compgen -G "$REGISTRY/tokio-1*" >/dev/null && compgen -G "$REGISTRY/futures-core-0.3*" >/dev/null
}

# RUSTPLUG_CRATES=crates-io (set by build-fixtures.mjs when cargo uses crates.io): no Debian crates needed.
if [ "${RUSTPLUG_CRATES:-debian}" != crates-io ] && ! have_crates; then
  if [ "$(id -u)" -ne 0 ]; then
    cat >&2 <<MSG
install-deps: the Rust crate sources for the fixtures are missing ($REGISTRY/tokio-1*).
Run as root:

  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES[*]}

MSG
    exit 1
  fi
  echo "install-deps: installing ${PACKAGES[*]} (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
  if ! have_crates; then
    echo "install-deps: ${PACKAGES[*]} installed but $REGISTRY/tokio-1* or futures-core-0.3* is still missing" >&2
    exit 1
  fi
fi

missing=0
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: 'cargo' not found on PATH. Install a Rust toolchain >= 1.78 (e.g. https://rustup.rs; Debian's own cargo package is too old)" >&2
  missing=1
fi
if ! command -v cc >/dev/null 2>&1; then
  echo "install-deps: 'cc' (a C compiler) not found on PATH. As root: apt-get install -y --no-install-recommends gcc libc6-dev" >&2
  missing=1
fi
exit "$missing"
