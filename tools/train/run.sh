#!/usr/bin/env bash
# The training pipeline in a venv of its own (PyTorch, librosa, soundfile, soxr, mido, mir_eval):
#   tools/train/run.sh prepare ARGS...   tools/train/prepare.py (needs Debian's fluidsynth and SoundFonts)
#   tools/train/run.sh train ARGS...     tools/train/train.py
#   tools/train/run.sh export ARGS...    tools/oaf/export.py (e.g. --checkpoint RUN/best.pt --out X.pscb)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${VENV:-$here/.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "torch==2.11.0" "onnx==1.23.*" "onnxruntime" "librosa==0.11.*" "soundfile" "soxr" \
  "mido" "mir_eval" "scipy" "numpy"
cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  prepare) exec "$venv/bin/python" "$here/prepare.py" "$@" ;;
  train) exec "$venv/bin/python" "$here/train.py" "$@" ;;
  export) exec "$venv/bin/python" "$here/../oaf/export.py" "$@" ;;
  *) echo "usage: $0 prepare|train|export ARGS..." >&2; exit 2 ;;
esac
