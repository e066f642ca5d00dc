#!/usr/bin/env bash
# Onsets & Frames tools in a venv of their own (PyTorch CPU, librosa, onnx).
#   tools/oaf/run.sh fixtures        the engine's parity fixtures in tests/fixtures (a tiny seeded f32 bundle,
#                                    PyTorch's probabilities and notes on 10 s of maps-dev, librosa's features)
#   tools/oaf/run.sh export ARGS...  tools/oaf/export.py ARGS (e.g. --out X.pscb --size 2019 --seed 1)
# The scripts are modules of the package `tools` (python -m tools.oaf.export): the root goes on PYTHONPATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "torch==2.11.0" "onnx==1.23.*" "onnxruntime" "librosa==0.11.*" "soundfile" "numpy"
shared="${SHARED:-$root/../shared}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
case "${1:-}" in
  fixtures)
    "$venv/bin/python" -m tools.oaf.export --out "$root/tests/fixtures/oaf-tiny.pscb" --size tiny --seed 0 \
      --weights f32 --segment-seconds 4 --segment-hop-seconds 3 \
      --parity-audio "$shared/data/maps-dev/MAPS_MUS-chpn-p19_ENSTDkCl.flac" --parity-seconds 10 \
      --parity-out "$root/tests/fixtures"
    ;;
  export)
    shift
    "$venv/bin/python" -m tools.oaf.export "$@"
    ;;
  *)
    echo "usage: $0 fixtures | export ARGS..." >&2
    exit 2
    ;;
esac
