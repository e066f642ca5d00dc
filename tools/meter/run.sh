#!/usr/bin/env bash
# The metrical-structure model (issue 22 item 1) in a venv of its own (PyTorch, mido, numpy):
#   tools/meter/run.sh prepare [--data DIR] --out CACHE   tools/meter/data.py: ASAP performances -> CACHE/asap.npz
#   tools/meter/run.sh train --cache CACHE --out RUN ...   tools/meter/train.py (resumes from RUN/checkpoint.pt)
#   tools/meter/run.sh export --checkpoint RUN/best.pt --cache CACHE --out models/meter.pscb [--fixture F]
#                                                          tools/meter/export.py: the bundle the score stage runs
#   tools/meter/run.sh recover --bundle models/meter.pscb --out RUN/shipped.pt [--fixture F]
#                                                          tools/meter/recover.py: a bundle's network back as a checkpoint
#   tools/meter/run.sh plot RUN/log.csv                    tools/meter/plot.py: losses and validation F as RUN/curve.svg
#   tools/meter/run.sh setup                               only make the venv
# The training is meant for 2 CPU cores shared with other work: it runs at nice 15 on one thread unless
# THREADS says otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv}"
requirements=("torch==2.11.0" "onnx==1.23.*" "mido==1.3.*" "numpy==2.*")
# shellcheck source=../venv.sh
. "$root/tools/venv.sh"
ensure_venv "$venv" "${requirements[@]}"
# The scripts are modules of the package `tools` (python -m tools.meter.train): the root goes on PYTHONPATH.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
threads="${THREADS:-1}"
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
py=(nice -n "${NICE:-15}" "$venv/bin/python")
cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  prepare) exec "${py[@]}" -m tools.meter.data "$@" ;;
  train) exec "${py[@]}" -m tools.meter.train --threads "$threads" "$@" ;;
  export) exec "${py[@]}" -m tools.meter.export "$@" ;;
  recover) exec "${py[@]}" -m tools.meter.recover "$@" ;;
  plot) exec "${py[@]}" -m tools.meter.plot "$@" ;;
  setup) ;;
  *) echo "usage: $0 prepare|train|export|recover|plot|setup ARGS..." >&2; exit 2 ;;
esac
