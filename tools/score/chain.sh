#!/usr/bin/env bash
# The whole chain on ASAP's development performances: each performance MIDI (../shared/data/asap-dev) rendered
# to audio by fluidsynth (FluidR3 GM), its first SECONDS transcribed by the CLI (default model), and the score
# stage on that transcription scored against the annotations beside the score stage on the performance MIDI
# itself (tests/score.rs, `tracked_beats_on_asap`, reads OUT through PIANOSCRIBE_ASAP_TRANSCRIBED).
#   tools/score/chain.sh OUT [SECONDS]      (SECONDS: 60 by default; 0 for whole performances)
# Renders and transcriptions already in OUT are kept, so a second run only scores.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[ -n "${1:-}" ] || { echo "usage: tools/score/chain.sh OUT [SECONDS]" >&2; exit 2; }
mkdir -p "$1"
out="$(cd "$1" && pwd)" # absolute: the links below and the test run from elsewhere
seconds="${2:-60}"
asap="$root/../shared/data/asap-dev"
sf2=/usr/share/sounds/sf2/FluidR3_GM.sf2
[ -d "$asap" ] || { echo "error: $asap is missing: ../shared must sit beside the repository" >&2; exit 1; }
for tool in fluidsynth ffmpeg; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing (apt-get install fluidsynth fluid-soundfont-gm ffmpeg)" >&2; exit 1; }
done
[ -f "$sf2" ] || { echo "error: $sf2 is missing (apt-get install fluid-soundfont-gm)" >&2; exit 1; }
(cd "$root" && cargo build --release --quiet --bin pianoscribe)
# Renders and transcriptions are of the first SECONDS: made again when SECONDS changes.
if [ "$(cat "$out/seconds" 2>/dev/null)" != "$seconds" ]; then
  rm -rf "$out/audio" "$out/midi"
  echo "$seconds" > "$out/seconds"
fi
mkdir -p "$out/audio" "$out/midi"
cut=()
[ "$seconds" = 0 ] || cut=(-t "$seconds")
# Performances are named as tests/score.rs names them: the path under asap-dev, '/' -> '_', no extension.
find "$asap" -name '*_annotations.txt' ! -name 'midi_score_annotations.txt' | sort | while read -r ann; do
  perf="${ann%_annotations.txt}"
  name="$(realpath --relative-to="$asap" "$perf" | tr '/' '_')"
  wav="$out/audio/$name.wav"
  if [ ! -s "$wav" ]; then
    fluidsynth -ni -q -g 0.5 -r 44100 -F "$out/audio/partial.wav" "$sf2" "$perf.mid" >/dev/null 2>&1
    ffmpeg -nostdin -hide_banner -loglevel error -y -i "$out/audio/partial.wav" "${cut[@]}" "$wav"
    rm -f "$out/audio/partial.wav"
  fi
done
# One CLI run over the folder: each transcription goes to OUT/midi/<name>.mid; those already there are skipped.
todo="$out/todo"
rm -rf "$todo" && mkdir -p "$todo"
for wav in "$out"/audio/*.wav; do
  name="$(basename "$wav" .wav)"
  [ -s "$out/midi/$name.mid" ] || ln -s "$wav" "$todo/$name.wav"
done
if [ -n "$(ls -A "$todo")" ]; then
  "$root/target/release/pianoscribe" transcribe "$todo" -o "$out/midi"
fi
rm -rf "$todo"
cd "$root"
PIANOSCRIBE_ASAP_TRANSCRIBED="$out/midi" PIANOSCRIBE_ASAP_SECONDS="$seconds" \
  cargo test --release --test score tracked_beats_on_asap -- --nocapture
