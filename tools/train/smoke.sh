#!/usr/bin/env bash
# The training pipeline end to end on a tiny configuration (CI runs it from ./build.sh test):
#   render the first 8 s of two MAESTRO pieces (one train, one validation) -> labels -> train a tiny network for
#   40 steps -> export (f32) -> the engine's probabilities against PyTorch's -> pianoscribe transcribe --model
#   -> pianoscribe eval.
# Fails unless the training loss falls and the engine, on the exported bundle, computes PyTorch's probabilities
# (tests/onsets_frames.rs with PIANOSCRIBE_OAF_FIXTURES pointing at the export).
# Needs fluidsynth and fluid-soundfont-gm (Debian), ../shared beside the repository, and a built CLI
# (cargo build --release). Usage: tools/train/smoke.sh [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
shared="$root/../shared/data"
run=tools/train/run.sh
venv="${VENV:-$root/tools/train/.venv}"
"$run" setup  # the venv, before the clock starts
start=$(date +%s)

"$run" prepare --cache "$work/cache" --split train,validation --renderers fluidr3 --hours 0.0001 --max-seconds 8
"$run" train --out "$work/run" --cache "$work/cache" --size tiny --steps 40 --batch 4 --seconds 4 \
  --validate-every 20 --checkpoint-every 20 --validation-pieces 1 --maps ""

# The loss falls: the mean of the last 5 steps' total loss against the first 5 steps'.
"$venv/bin/python" - "$work/run/log.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
total = [sum(float(r[k]) for k in ("onset", "offset", "frame", "velocity")) for r in rows]
first, last = sum(total[:5]) / 5, sum(total[-5:]) / 5
print(f"loss: first 5 steps {first:.4f}, last 5 steps {last:.4f}")
if not last < 0.8 * first:
    sys.exit(f"error: the training loss did not fall (first 5 steps {first:.4f}, last 5 {last:.4f})")
EOF

# Export as the parity fixtures expect them (f32 weights, 4 s windows 3 s apart, 10 s of chpn-p19).
fixtures="$work/fixtures"
"$run" export --checkpoint "$work/run/best.pt" --out "$fixtures/oaf-tiny.pscb" --weights f32 \
  --segment-seconds 4 --segment-hop-seconds 3 \
  --parity-audio "$shared/maps-dev/MAPS_MUS-chpn-p19_ENSTDkCl.flac" --parity-out "$fixtures" --parity-seconds 10
PIANOSCRIBE_OAF_FIXTURES="$fixtures" cargo test --release --test onsets_frames -- \
  probabilities_match_pytorch front_end_matches_librosa

# The CLI transcribes the validation piece with the trained bundle and scores it against its cut MIDI.
flac=$(find "$work/cache" -path '*validation*' -name '*.flac' | head -1)
target/release/pianoscribe transcribe "$flac" --model "$fixtures/oaf-tiny.pscb" -o "$work/out.mid"
target/release/pianoscribe eval "$work/out.mid" "${flac%.flac}.mid" --pedal-extend-ref --json "$work/eval.json"
# The reference against itself scores 1 (the eval reads the cut MIDI the render was made from), and the
# transcription's scores are figures of that one piece (40 steps of a tiny network find few notes: no floor).
target/release/pianoscribe eval "${flac%.flac}.mid" "${flac%.flac}.mid" --pedal-extend-ref --pedal-extend-est \
  --json "$work/self.json" >/dev/null
"$venv/bin/python" - "$work/eval.json" "$work/self.json" <<'EOF'
import json, sys
run, self_ = (json.load(open(p)) for p in sys.argv[1:])
assert len(run["pieces"]) == 1 and len(self_["pieces"]) == 1, (run["pieces"].keys(), self_["pieces"].keys())
assert self_["mean"]["note"]["f1"] == 1.0 and self_["mean"]["frame"]["f1"] == 1.0, self_["mean"]
for kind in ("note", "note_offset", "frame"):
    f = run["mean"][kind]["f1"]
    assert 0.0 <= f <= 1.0, (kind, f)
print(f"eval: the reference against itself 1.0; the tiny model's note F1 {run['mean']['note']['f1']:.3f}")
EOF
echo "training smoke test: passed in $(( $(date +%s) - start )) s (after the venv), work in $work"
