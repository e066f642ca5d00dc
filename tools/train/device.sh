#!/usr/bin/env bash
# A training run on a GPU machine lent through the device tool, prepared so that a short loan is not wasted.
# Such a machine has PyTorch (Python 3.12) but no network, no fluidsynth and no training data; a call carries at
# most 64 MiB with the working tree, runs at most 10 minutes, and sends back at most 8 files of 16 MiB.
#
#   tools/train/device.sh pack [--hours 30] [--samples DIR] [--resume PARTS_DIR]
#       here: .device/ with the wheels the machine lacks, `--hours` of MAESTRO train MIDI (and 4 validation
#       pieces) as tar.xz, and the Salamander Grand's samples at 16 kHz mono (python -m tools.train.sampler
#       fetch, once); --resume adds the parts of an earlier device run to go on from. Fails if the call would
#       carry more than it may.
#   tools/train/device.sh run [--minutes 9] [--size 2019] [--batch 8] [--seconds 20] [--render-hours H]
#                             [--device cuda] [train.py options...]
#       there, as the device call's command (carry .device):
#         run(command="tools/train/device.sh run", carry=[".device"], timeout_s=600)
#       installs the wheels, renders the MIDI with the sampler on every core, trains with --device cuda and
#       batches made by every core until the minutes are up (validating and checkpointing), and writes the kept
#       state (fp16 weights, step, schedule, log) as parts of at most 16 MB, log.csv and device.log into $OUT.
#   tools/train/device.sh unpack FILES_AT OUT_DIR
#       here: the parts that came back -> OUT_DIR/kept.pt (fp32) and OUT_DIR/log.csv; then
#         tools/train/run.sh export --checkpoint OUT_DIR/kept.pt --out X.pscb   (and calibrate, as pipeline.sh)
#         tools/train/run.sh train --size 2019 --resume-from OUT_DIR/kept.pt ...  (go on, here or on a GPU)
# `run` works without a GPU too (--device cpu, a minute or two: how this script is checked here).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pack="$root/.device"
# What the machine's Python lacks of tools/train's needs, at the versions the training venv has.
# (librosa is not needed: tools/oaf/frontend.py computes its mel filters itself.)
WHEELS=(soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 soxr==1.1.0 mido==1.3.3 mir_eval==0.8.2 decorator==5.3.2)
LIMIT=$((64 * 1024 * 1024))

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
pack)
  hours=30 samples="" resume=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --hours) hours="$2"; shift 2 ;;
      --samples) samples="$2"; shift 2 ;;
      --resume) resume="$2"; shift 2 ;;
      *) echo "error: unknown option $1" >&2; exit 2 ;;
    esac
  done
  "$here/run.sh" setup
  venv="${VENV:-$here/.venv}"
  export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
  rm -rf "$pack/wheels" "$pack/resume" "$pack/midi.tar.xz"
  mkdir -p "$pack/wheels"
  "$venv/bin/pip" download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$pack/wheels" "${WHEELS[@]}"
  "$venv/bin/python" -m tools.train.device midi --hours "$hours" --out "$pack/midi.tar.xz"
  "$venv/bin/python" -m tools.train.device samples --out "$pack/samples" ${samples:+--samples "$samples"}
  if [ -n "$resume" ]; then
    mkdir -p "$pack/resume"
    cp "$resume"/kept.pt.[0-9][0-9][0-9] "$pack/resume/"
  fi
  # What travels: the tracked files, the untracked ones git does not ignore, and .device.
  tree=$(cd "$root" && { git ls-files -z; git ls-files -z --others --exclude-standard; } \
    | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
  carried=$(du -sb "$pack" | cut -f1)
  echo "the call carries $(( (tree + carried) / 1000000 )) MB (working tree $((tree / 1000000)) MB, .device" \
    "$((carried / 1000000)) MB) of at most $((LIMIT / 1000000)) MB"
  if [ $((tree + carried)) -gt $LIMIT ]; then
    echo "error: that is over the device tool's limit: pack fewer --hours" >&2
    exit 1
  fi
  ;;
run)
  minutes=9 size=2019 batch=8 seconds=20 device=cuda render=() rest=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --minutes) minutes="$2"; shift 2 ;;
      --size) size="$2"; shift 2 ;;
      --batch) batch="$2"; shift 2 ;;
      --seconds) seconds="$2"; shift 2 ;;
      --device) device="$2"; shift 2 ;;
      --render-hours) render=(--hours "$2"); shift 2 ;;
      *) rest+=("$1"); shift ;;
    esac
  done
  start=$(date +%s)
  out="${OUT:?OUT names the folder whose files come back (the device tool sets it)}"
  exec > >(tee -a "$out/device.log") 2>&1  # the whole output comes back too (the call's reply keeps its end)
  [ -d "$pack/wheels" ] || { echo "error: $pack is missing: run 'tools/train/device.sh pack' here and carry .device" >&2; exit 1; }
  work="${DEVICE_WORK:-/tmp/pianoscribe-device}"
  python="${PYTHON:-python3}"
  export PYTHONUNBUFFERED=1
  # The carried wheels, unless this Python has those packages already (a training venv, for a check here).
  if ! "$python" -c "import soundfile, soxr, mido, mir_eval" 2>/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$work/site" \
      "$pack"/wheels/*.whl
  fi
  export PYTHONPATH="$work/site:$root"
  [ "$device" = cpu ] || "$python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
  cores=$(nproc)
  mkdir -p "$work/midi"
  # (Python's tarfile, not tar: the machine's image may lack xz)
  "$python" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
    "$pack/midi.tar.xz" "$work/midi"
  prep=("$python" -m tools.train.prepare --midi "$work/midi" --cache "$work/cache" --renderers salamander
    --samples "$pack/samples" --jobs "$cores")
  "${prep[@]}" --split train "${render[@]}"
  "${prep[@]}" --split validation
  resume=()
  if [ -d "$pack/resume" ]; then
    "$python" -m tools.train.keep --join "$pack/resume" "$work/resume.pt"
    resume=(--resume-from "$work/resume.pt")
  fi
  # The training gets what is left of the minutes but one, which validating, checkpointing and packing take.
  left=$(( minutes * 60 - ($(date +%s) - start) - 60 ))
  [ "$left" -gt 30 ] || { echo "error: rendering took the time (${minutes} min): pack fewer --hours" >&2; exit 1; }
  echo "training for $left s on $cores cores' batches"
  status=0
  timeout $((left + 90)) "$python" -m tools.train.train --out "$work/run" --cache "$work/cache" --device "$device" \
    --size "$size" --batch "$batch" --seconds "$seconds" --workers $((cores > 2 ? cores - 2 : 1)) \
    --hours "$(awk -v s="$left" 'BEGIN {print s / 3600}')" --validate-every 500 --checkpoint-every 250 \
    --maps "" "${resume[@]}" "${rest[@]}" || status=$?
  [ -f "$work/run/checkpoint.pt" ] || { echo "error: the training stopped (status $status) before a checkpoint" >&2; exit 1; }
  "$python" -m tools.train.keep "$work/run" "$out/kept" --parts 16
  cp "$work/run/log.csv" "$out/log.csv"
  echo "device run: $(( $(date +%s) - start )) s in all; training status $status; $(tail -1 "$work/run/log.csv" | cut -d, -f1) steps"
  ;;
unpack)
  [ $# -eq 2 ] || { echo "usage: $0 unpack FILES_AT OUT_DIR" >&2; exit 2; }
  "$here/run.sh" setup
  mkdir -p "$2"
  parts="$1/kept"
  [ -d "$parts" ] || parts="$1"
  PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "${VENV:-$here/.venv}/bin/python" -m tools.train.keep --join "$parts" "$2/kept.pt"
  [ ! -f "$1/log.csv" ] || cp "$1/log.csv" "$2/log.csv"
  ;;
*)
  sed -n 2,23p "$0" >&2
  exit 2
  ;;
esac
