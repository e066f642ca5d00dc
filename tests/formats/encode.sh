#!/usr/bin/env bash
# The format x timing matrix: one 8 s piano clip, 44.1 kHz stereo with distinct channels and its full band (the
# first 8 s of maps-dev chpn-p14's aligned notes played by FluidR3 GM's stereo grand piano, rendered by
# fluidsynth), encoded as every format the CLI and the page read, by the encoders users have (LAME, ffmpeg).
# Used by tests/formats.rs and the page test (tests/e2e). Writes into OUT_DIR (default target/formats); files
# already there are kept.
#   tests/formats/encode.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/target/formats}"
notes="$root/../shared/data/maps-dev/MAPS_MUS-chpn-p14_ENSTDkAm.tsv"
font=/usr/share/sounds/sf2/FluidR3_GM.sf2
for tool in ffmpeg lame fluidsynth; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing (./build.sh test installs it)" >&2; exit 1; }
done
[ -f "$font" ] || { echo "error: $font is missing (Debian's fluid-soundfont-gm; ./build.sh test installs it)" >&2; exit 1; }
/usr/bin/python3 -c "import mido" 2>/dev/null || { echo "error: python3-mido is missing (./build.sh test installs it)" >&2; exit 1; }
[ -f "$notes" ] || { echo "error: $notes is missing: ../shared must sit beside the repository" >&2; exit 1; }
# 8 s: with the 4 s lead-in, one Transkun segment each (12 s took two), which halves the tests' transcriptions.
seconds=8
mkdir -p "$out"
cd "$out"
# Files encoded from another clip (an older version of this script) are made again.
stamp="$(basename "$notes") first ${seconds} s, FluidR3 GM, 44.1 kHz stereo"
if [ "$(cat clip 2>/dev/null)" != "$stamp" ]; then
  rm -f -- *.wav *.flac *.mp3 *.ogg *.opus *.m4a *.aac *.mid partial.tmp
  echo "$stamp" > clip
fi
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
make() { # make FILE COMMAND...: unless FILE exists, runs the command, which writes "partial/FILE", then moves it
  local f="$1"; shift
  [ -s "$f" ] && return 0
  mkdir -p partial
  "$@"
  mv "partial/$f" "$f"
}
# The notes starting in the first 8 s as MIDI (a note held past the end is released half a second after it).
midi() { local here="$PWD"; (cd "$root" && /usr/bin/python3 -m tools.notes_to_midi "$notes" "$here/partial/clip.mid" --until "$seconds"); }
render() {
  fluidsynth -ni -q -g 2.0 -r 44100 -F partial/render.wav "$font" clip.mid
  ff -i partial/render.wav -t "$seconds" -c:a pcm_s16le partial/wav-s16.wav
  rm partial/render.wav
}
make clip.mid midi
make wav-s16.wav render
make wav-48k.wav ff -i wav-s16.wav -ar 48000 -c:a pcm_s16le partial/wav-48k.wav
make wav-s24.wav ff -i wav-s16.wav -c:a pcm_s24le partial/wav-s24.wav
make wav-f32.wav ff -i wav-s16.wav -c:a pcm_f32le partial/wav-f32.wav
make flac.flac ff -i wav-s16.wav -c:a flac partial/flac.flac
make lame-cbr128.mp3 lame --quiet -b 128 wav-s16.wav partial/lame-cbr128.mp3
make lame-vbr.mp3 lame --quiet -V 2 wav-s16.wav partial/lame-vbr.mp3
make lame-notag.mp3 lame --quiet -t -b 128 wav-s16.wav partial/lame-notag.mp3
make lame-cbr128-48k.mp3 lame --quiet -b 128 wav-48k.wav partial/lame-cbr128-48k.mp3
make ffmpeg.mp3 ff -i wav-s16.wav -c:a libmp3lame -b:a 128k partial/ffmpeg.mp3
make vorbis.ogg ff -i wav-s16.wav -c:a libvorbis -q:a 5 partial/vorbis.ogg
make opus.opus ff -i wav-s16.wav -c:a libopus -b:a 128k partial/opus.opus
make aac.m4a ff -i wav-s16.wav -c:a aac -b:a 128k partial/aac.m4a
make aac-noedit.m4a ff -i wav-s16.wav -c:a aac -b:a 128k -use_editlist 0 partial/aac-noedit.m4a
make adts.aac ff -i wav-s16.wav -c:a aac -b:a 128k -f adts partial/adts.aac
# Damaged copies: 1000 bytes in the middle zeroed, as a bad sector or a broken download leaves them.
damage() { # damage FROM TO
  [ -s "$2" ] && return 0
  cp "$1" partial.tmp
  dd if=/dev/zero of=partial.tmp bs=1 seek=$(($(stat -c %s "$1") / 2)) count=1000 conv=notrunc status=none
  mv partial.tmp "$2"
}
damage lame-cbr128.mp3 damaged-lame-cbr128.mp3
damage vorbis.ogg damaged-vorbis.ogg
damage aac.m4a damaged-aac.m4a
rmdir partial 2>/dev/null || true
echo "$out"
