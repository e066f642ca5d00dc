#!/usr/bin/env bash
# The training pipeline in a venv of its own (PyTorch, librosa, soundfile, soxr, mido, mir_eval):
#   tools/train/run.sh prepare ARGS...   tools/train/prepare.py (needs Debian's fluidsynth and SoundFonts)
#   tools/train/run.sh train ARGS...     tools/train/train.py
#   tools/train/run.sh export ARGS...    tools/oaf/export.py (e.g. --checkpoint RUN/best.pt --out X.pscb)
#   tools/train/run.sh keep RUN OUT.pt   tools/train/keep.py: what the repository keeps of a run (train --resume-from)
#   tools/train/run.sh plot RUN/log.csv  tools/train/plot.py: losses and validation F1 as RUN/curve.svg
#   tools/train/run.sh setup             only make the venv
#   tools/train/run.sh all OUT [...]     the whole chain: prepare, train, export, calibrate, maps-dev scores
#                                        (tools/train/pipeline.sh)
#   tools/train/run.sh device pack|run|unpack ...   a run on a lent GPU machine (tools/train/device.sh; no venv:
#                                        the machine has PyTorch and no network)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ "${1:-}" != device ] || { shift; exec "$here/device.sh" "$@"; }
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv}"
requirements=("torch==2.11.0" "onnx==1.23.*" "onnxruntime" "librosa==0.11.*" "soundfile" "soxr" "mido" "mir_eval"
  "scipy" "numpy")
# shellcheck source=../venv.sh
. "$root/tools/venv.sh"
ensure_venv "$venv" "${requirements[@]}"
# The scripts are modules of the package `tools` (python -m tools.train.train): the root goes on PYTHONPATH.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  prepare) exec "$venv/bin/python" -m tools.train.prepare "$@" ;;
  train) exec "$venv/bin/python" -m tools.train.train "$@" ;;
  export) exec "$venv/bin/python" -m tools.oaf.export "$@" ;;
  plot) exec "$venv/bin/python" -m tools.train.plot "$@" ;;
  keep) exec "$venv/bin/python" -m tools.train.keep "$@" ;;
  setup) ;;
  all) exec "$here/pipeline.sh" "$@" ;;
  *) echo "usage: $0 prepare|train|export|plot|keep|setup|all ARGS..." >&2; exit 2 ;;
esac
