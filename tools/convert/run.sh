#!/usr/bin/env bash
# Converts the pretrained Transkun V2 checkpoint into models/transkun-v2.pscb (and the front-end test fixture)
# in a venv of its own, then stamps the model's measured maps-dev scores (models/transkun-v2-maps-dev.json,
# `pianoscribe eval --json` of the CLI's transcriptions) into its provenance. Re-runnable; the output is
# byte-for-byte reproducible (check models/SHA256SUMS).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "transkun==2.0.1" "torch==2.11.0" "torchaudio==2.11.0" "onnx==1.23.*" "onnxruntime" "scipy"
shared="${SHARED:-$root/../shared}"
# The scripts are modules of the package `tools` (python -m tools.convert.convert): the root goes on PYTHONPATH.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
model="$root/models/transkun-v2.pscb"
"$venv/bin/python" -m tools.convert.convert --out "$model" \
  --fixtures "$root/tests/fixtures" --fixture-audio "$shared/data/stereo-44k/madmom_stereo_sample.wav" "$@"
"$venv/bin/python" -m tools.pscb.stamp "$model" "$model" \
  --set maps-dev --eval "$root/models/transkun-v2-maps-dev.json" \
  --note "pianoscribe eval on the six maps-dev recordings, default options, 12 s segment hop"
(cd "$root/models" && sha256sum -c SHA256SUMS)
