#!/usr/bin/env bash
# Benchmark of the score stage on long input: an hour of piano notes (MAESTRO v2 performance MIDI from
# ../shared, one piece after another: bench/hour_of_notes.py) scored by the CLI with the learned metrical
# model (the default) and with the hand-made rules. Prints notes, seconds (the faster of two runs) and peak
# memory. Not a test: compare the rows of one run.
#   bench/score.sh [SECONDS]     (default 3600)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-3600}"
tools/meter/run.sh setup
cargo build --release --quiet
out="$(mktemp -d)"
PYTHONPATH="$root" tools/meter/.venv/bin/python -m bench.hour_of_notes "$root/../shared/data/maestro-v2-midi" \
  "$out/notes.tsv" --seconds "$seconds"
printf '%-10s %8s %9s %9s\n' tracker notes seconds peak_MB
notes="$(wc -l < "$out/notes.tsv")"
for tracker in learned rules; do
  best=""
  for _ in 1 2; do
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$out/mem" target/release/pianoscribe score "$out/notes.tsv" -o "$out/score.musicxml" \
      --tracker "$tracker" 2>/dev/null
    s="$(echo "$(date +%s.%N) - $start" | bc)"
    best="$(echo "$s ${best:-$s}" | awk '{ print ($1 < $2) ? $1 : $2 }')"
  done
  printf '%-10s %8d %9.1f %9d\n' "$tracker" "$notes" "$best" "$(( $(cat "$out/mem") / 1024 ))"
done
rm -rf "$out"
