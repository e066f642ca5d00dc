#!/usr/bin/env bash
# The page's sample recording: the first five bars of J. S. Bach's Prelude in C major, BWV 846 (public domain;
# the notes are written out below, from the score, into tests/fixtures/sample-notes.tsv), played by FluidR3 GM's grand piano (MIT licence; Debian's
# fluid-soundfont-gm) through fluidsynth, as a 44.1 kHz stereo MP3 for the page (www/sample/) and its notes as
# a note table (tests/fixtures/sample-notes.tsv: what the page test scores the page's transcription against).
#   tools/sample/make.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
font=/usr/share/sounds/sf2/FluidR3_GM.sf2
for tool in fluidsynth lame; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing (apt-get install fluidsynth fluid-soundfont-gm lame)" >&2; exit 1; }
done
[ -f "$font" ] || { echo "error: $font is missing (apt-get install fluid-soundfont-gm)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$root/tests/fixtures/sample-notes.tsv" <<'PY'
import sys
# Each bar is a figure of eight sixteenths played twice: the first note held for the half bar, the second for
# the rest of it after its own sixteenth, the other six as sixteenths (MIDI note numbers).
BARS = [
    [60, 64, 67, 72, 76, 67, 72, 76],  # C major
    [60, 62, 69, 74, 77, 69, 74, 77],  # D minor seventh over C
    [59, 62, 67, 74, 77, 67, 74, 77],  # G seventh over B
    [60, 64, 67, 72, 76, 67, 72, 76],  # C major
    [60, 64, 69, 76, 81, 69, 76, 81],  # A minor over C
]
SIXTEENTH = 60 / 66 / 4  # quarter = 66
LEAD = 0.5  # seconds of silence first
notes = []
for b, figure in enumerate(BARS):
    for half in range(2):
        start = LEAD + (b * 16 + half * 8) * SIXTEENTH
        for k, pitch in enumerate(figure):
            onset = start + k * SIXTEENTH
            end = start + 8 * SIXTEENTH if k < 2 else onset + 0.9 * SIXTEENTH
            velocity = 72 if k == 0 else 58 if k == 1 else 62 + 4 * (k % 3)
            notes.append((onset, end, pitch, velocity))
with open(sys.argv[1], "w") as f:
    f.write("# onset\toffset\tnote\tvelocity (tools/sample/make.sh: the page's sample recording)\n")
    for on, off, p, v in sorted(notes):
        # The times the MIDI file will hold (whole ticks of 1/960 s).
        f.write(f"{round(on * 960) / 960:.6f}\t{round(off * 960) / 960:.6f}\t{p}\t{v}\n")
PY
(cd "$root" && /usr/bin/python3 -m tools.notes_to_midi tests/fixtures/sample-notes.tsv "$tmp/prelude.mid")
fluidsynth -ni -q -g 1.0 -r 44100 -F "$tmp/prelude.wav" "$font" "$tmp/prelude.mid" >/dev/null
mkdir -p "$root/www/sample"
lame --quiet -b 128 --tt "Prelude in C major, BWV 846, bars 1-5 (J. S. Bach)" "$tmp/prelude.wav" "$root/www/sample/prelude-bwv846.mp3"
echo "wrote www/sample/prelude-bwv846.mp3 ($(stat -c %s "$root/www/sample/prelude-bwv846.mp3") bytes) and tests/fixtures/sample-notes.tsv"
