#!/usr/bin/env bash
# Converts the pretrained Transkun V2 checkpoint into models/transkun-v2.pscb (and the front-end test fixture)
# in a venv of its own, then stamps the model's measured maps-dev scores (models/transkun-v2-maps-dev.json,
# `pianoscribe eval --json` of the CLI's transcriptions) into its provenance. Re-runnable; the output is
# byte-for-byte reproducible (check models/SHA256SUMS). `run.sh tradeoff` measures the weight-storage table of
# models/README.md instead (below); `run.sh segments` the README's table of shorter segments (segments.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv}"
requirements=("transkun==2.0.1" "torch==2.11.0" "torchaudio==2.11.0" "onnx==1.23.*" "onnxruntime" "scipy"
              "soundfile" "mido")
# shellcheck source=../venv.sh
. "$root/tools/venv.sh"
ensure_venv "$venv" "${requirements[@]}"
shared="${SHARED:-$root/../shared}"
# The scripts are modules of the package `tools` (python -m tools.convert.convert): the root goes on PYTHONPATH.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

# `run.sh segments [--pieces N]`: the checkpoint on one segment cut to a short clip's length against the whole
# 16 s segment the engine runs (clips of MAESTRO validation MIDI rendered by fluidsynth, as tools/train renders).
if [ "${1:-}" = segments ]; then
  shift
  exec "$venv/bin/python" -m tools.convert.segments --midi "$shared/data/maestro-v2-midi" "$@"
fi

# `run.sh tradeoff [OUT]`: models/README.md's weight-storage table measured again. The checkpoint converted
# with each storage, maps-dev's chpn-p14 transcribed by the CLI (release build) with each bundle at the
# reference's own 8 s segment hop, its notes
# scored against the Python reference's own (maps-dev-transkun) by `pianoscribe eval`; one row per storage.
if [ "${1:-}" = tradeoff ]; then
  out="${2:-$root/target/tradeoff}"
  mkdir -p "$out"
  piece=MAPS_MUS-chpn-p14_ENSTDkAm
  (cd "$root" && cargo build --release -q --bin pianoscribe)
  cli="$root/target/release/pianoscribe"
  echo "| weights | bundle size | F1 vs reference |"
  for row in "f32|--weights f32" \
             "int8, one scale per output channel|--group 0" \
             "int8, one scale per 32 input weights of each output channel (shipped)|"; do
    name="${row%%|*}"
    read -r -a flags <<< "${row#*|}"
    model="$out/model.pscb"
    "$venv/bin/python" -m tools.convert.convert --out "$model" "${flags[@]}" > "$out/convert.log" 2>&1
    rm -f "$out/$piece".*
    "$cli" transcribe "$shared/data/maps-dev/$piece.flac" --model "$model" --segment-hop 8 --tsv -o "$out/$piece.mid"
    "$cli" eval "$out/$piece.tsv" "$shared/data/maps-dev-transkun/$piece.tsv" --json "$out/eval.json" >/dev/null
    f1="$("$venv/bin/python" -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["mean"]["note"]["f1"])' "$out/eval.json")"
    mb="$("$venv/bin/python" -c 'import os,sys; print("%.1f" % (os.path.getsize(sys.argv[1]) / 1e6))' "$model")"
    echo "| $name | $mb MB | $f1 |"
  done
  exit 0
fi
model="$root/models/transkun-v2.pscb"
"$venv/bin/python" -m tools.convert.convert --out "$model" \
  --fixtures "$root/tests/fixtures" --fixture-audio "$shared/data/stereo-44k/madmom_stereo_sample.wav" "$@"
"$venv/bin/python" -m tools.pscb.stamp "$model" "$model" \
  --set maps-dev --eval "$root/models/transkun-v2-maps-dev.json" \
  --note "pianoscribe eval on the six maps-dev recordings, default options, 12 s segment hop"
(cd "$root/models" && sha256sum -c SHA256SUMS)
