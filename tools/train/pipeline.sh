#!/usr/bin/env bash
# The whole chain in one command, from MAESTRO MIDI to a calibrated, scored bundle:
#   tools/train/run.sh all OUT [--hours H] [--validation-hours H] [--size small|2018|2019] [--steps N]
#                              [--device cpu|cuda] [--batch B] [--seconds S] [--cache DIR] [--maps-synth CHECKOUT]
#                              [--renderers fluidr3,musescore,salamander] [--resume-from FILE]
# 1. prepare: render H hours of MAESTRO train MIDI per renderer (FluidR3 and MuseScore, or --renderers; the
#    Salamander Grand's samples: python -m tools.train.sampler fetch, once) and the validation
#    hours with FluidR3 (resumable; the cache is shared between runs); with --maps-synth, add the MAPS
#    sampled-piano recordings ../shared/data/maps-synth-train.txt lists from that checkout of
#    github:jongwook/onsets-and-frames;
# 2. train: OUT/run (resumes if OUT/run/checkpoint.pt exists, else from --resume-from's kept state; --steps is
#    the total);
# 3. export OUT/run/best.pt -> OUT/model-uncalibrated.pscb;
# 4. calibrate per-register thresholds on the validation renders (never on maps-dev) -> OUT/thresholds.txt;
# 5. transcribe maps-dev with the calibrated bundle and score it (pianoscribe eval) -> OUT/maps-dev.json;
# 6. stamp those scores into the bundle's provenance -> OUT/model.pscb.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
[ $# -ge 1 ] || { sed -n 2,16p "$0" >&2; exit 2; }
out="$(mkdir -p "$1" && cd "$1" && pwd)"
shift
hours=6 vhours=1 size=small steps=3000 device="" batch=8 seconds=10 cache="" maps_synth=""
renderers=fluidr3,musescore resume=()
while [ $# -gt 0 ]; do
  case "$1" in
    --hours) hours="$2"; shift 2 ;;
    --validation-hours) vhours="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    --maps-synth) maps_synth="$2"; shift 2 ;;
    --renderers) renderers="$2"; shift 2 ;;
    --resume-from) resume=(--resume-from "$2"); shift 2 ;;
    *) echo "error: unknown option $1" >&2; exit 2 ;;
  esac
done
run="$here/run.sh"
venv="${VENV:-$here/.venv}"
cache_args=()
[ -n "$cache" ] && cache_args=(--cache "$cache")
device_args=()
[ -n "$device" ] && device_args=(--device "$device")
cli="$root/target/release/pianoscribe"
[ -x "$cli" ] || (cd "$root" && cargo build --release --bin pianoscribe)
maps="$root/../shared/data/maps-dev"
# The Python steps are modules of the package `tools` (python -m tools.pscb.stamp): the root on PYTHONPATH.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

"$run" prepare --split train --hours "$hours" --renderers "$renderers" "${cache_args[@]}"
"$run" prepare --split validation --hours "$vhours" --renderers fluidr3 "${cache_args[@]}"
[ -z "$maps_synth" ] || "$run" prepare --maps-synth "$maps_synth" "${cache_args[@]}"
"$run" train --out "$out/run" --size "$size" --steps "$steps" --batch "$batch" --seconds "$seconds" \
  "${device_args[@]}" "${cache_args[@]}" "${resume[@]}"
"$run" export --checkpoint "$out/run/best.pt" --out "$out/model-uncalibrated.pscb"
"$venv/bin/python" -m tools.train.validation_set --out "$out/validation" "${cache_args[@]}"
"$cli" calibrate --model "$out/model-uncalibrated.pscb" "$out/validation/audio" "$out/validation/reference" \
  --pedal-extend-ref -o "$out/thresholds.txt" --bundle "$out/model-calibrated.pscb"
"$cli" transcribe "$maps" -o "$out/maps-dev" --model "$out/model-calibrated.pscb"
"$cli" eval "$out/maps-dev" "$maps" --json "$out/maps-dev.json"
"$venv/bin/python" -m tools.pscb.stamp "$out/model-calibrated.pscb" "$out/model.pscb" --set maps-dev \
  --eval "$out/maps-dev.json" --note "pianoscribe eval on the six maps-dev recordings, calibrated thresholds"
"$run" plot "$out/run/log.csv"
echo "model: $out/model.pscb (training curve: $out/run/curve.svg)"
