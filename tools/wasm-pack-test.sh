#!/usr/bin/env bash
# `wasm-pack test --headless --chrome` with this project's toolchain: the wasm tests (tests/web.rs,
# tests/web_threads.rs, and every other test target, empty on wasm32) in headless Chromium. Plain `wasm-pack
# test` stops at its check for a rustup wasm32 target; this build has none: it rebuilds std with atomics from
# Debian's rustc-web sources (-Z build-std, which build.sh sets up), so the check is skipped (--mode no-install,
# which also keeps wasm-pack from downloading anything) and Debian's chromedriver drives Debian's Chromium
# (webdriver.json). Extra arguments go to wasm-pack test, e.g. `-- --test web`.
#   tools/wasm-pack-test.sh [ARGS...]       (wasm-pack from crates: cargo install wasm-pack)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v wasm-pack >/dev/null 2>&1 || { echo "error: wasm-pack is missing (cargo install wasm-pack)" >&2; exit 1; }
driver="$(command -v chromedriver || true)"
[ -n "$driver" ] && command -v chromium >/dev/null 2>&1 \
  || { echo "error: Chromium or chromedriver is missing (apt-get install chromium chromium-driver)" >&2; exit 1; }
[ -d /usr/lib/rustlib/src/rust/library ] && [ -x /usr/bin/rust-lld ] \
  || { echo "error: Debian's wasm toolchain is missing: run ./build.sh web once (it installs rustc-web)" >&2; exit 1; }
cd "$root"
export PATH="/usr/bin:$HOME/.cargo/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/wasm \
  CARGO_UNSTABLE_BUILD_STD="std,panic_abort,test" WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-1200}"
exec wasm-pack test --headless --chrome --chromedriver "$driver" --mode no-install --release "$@"
