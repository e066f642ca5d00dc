#!/usr/bin/env bash
# Note accuracy on the maps-dev pieces from FLAC and from LAME MP3s of them (with LAME's Info tag) at the given
# bitrates: the CLI's timing must not depend on the format (README, Formats).
#   bench/mp3-accuracy.sh [KBPS ...]          (default: 128 64)
set -euo pipefail
cd "$(dirname "$0")/.."
maps=../shared/data/maps-dev
work=target/mp3-accuracy
rates=("$@")
[ $# -gt 0 ] || rates=(128 64)
for tool in ffmpeg lame; do command -v "$tool" >/dev/null || { echo "error: $tool is missing" >&2; exit 1; }; done
cargo build --release --quiet
for kbps in flac "${rates[@]}"; do
  dir="$work/$kbps"
  mkdir -p "$dir/in"
  for f in "$maps"/*.flac; do
    stem="$(basename "$f" .flac)"
    if [ "$kbps" = flac ]; then
      ln -sf "$(realpath "$f")" "$dir/in/$stem.flac"
    elif [ ! -s "$dir/in/$stem.mp3" ]; then
      ffmpeg -nostdin -loglevel error -i "$f" -f wav - | lame --quiet -b "$kbps" - "$dir/in/$stem.mp3"
    fi
  done
  target/release/pianoscribe transcribe "$dir/in" -o "$dir/out" --tsv 2>/dev/null
  echo "== $kbps"
  target/release/pianoscribe eval "$dir/out" "$maps" --json "$dir/scores.json" | tail -n 2
done
