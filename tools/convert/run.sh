#!/usr/bin/env bash
# Converts the pretrained Transkun V2 checkpoint into models/transkun-v2.pscb (and the front-end test fixture)
# in a venv of its own. Re-runnable; the output is byte-for-byte reproducible (check models/SHA256SUMS).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "transkun==2.0.1" "torch==2.11.0" "torchaudio==2.11.0" "onnx==1.23.*" "onnxruntime" "scipy"
shared="${SHARED:-$root/../shared}"
"$venv/bin/python" "$here/convert.py" --out "$root/models/transkun-v2.pscb" \
  --fixtures "$root/tests/fixtures" --fixture-audio "$shared/data/stereo-44k/madmom_stereo_sample.wav" "$@"
(cd "$root/models" && sha256sum -c SHA256SUMS)
