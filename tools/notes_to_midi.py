"""A note table (onset, offset, pitch, velocity per line, seconds; `#` lines skipped) as a MIDI file, at 960 ticks a
second, for fluidsynth to play: the format matrix's clip (tests/formats/encode.sh) and the page's sample
(tools/sample/make.sh). Debian's python3 with mido is enough.

  python3 -m tools.notes_to_midi TABLE OUT.mid [--until SECONDS]

--until: only the notes that start before SECONDS, each released by SECONDS + 0.5 at the latest.
"""
import argparse


def read_table(path):
    """[(onset, offset, pitch, velocity)] of a note table, sorted."""
    notes = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            onset, offset, pitch, velocity = (float(v) for v in line.split()[:4])
            notes.append((onset, offset, int(pitch), int(velocity)))
    return sorted(notes)


def write_midi(notes, path):
    """notes: (onset s, offset s, pitch, velocity); a note-on and a note-off each, in time order."""
    import mido
    events = sorted([(on, 1, p, v) for on, off, p, v in notes] + [(off, 0, p, 0) for on, off, p, v in notes])
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)])  # 480 ticks a beat: 960 a second
    last = 0
    for t, on, pitch, velocity in events:
        tick = round(t * 960)
        track.append(mido.Message("note_on" if on else "note_off", note=pitch, velocity=velocity, time=tick - last))
        last = tick
    mido.MidiFile(ticks_per_beat=480, tracks=[track]).save(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("table")
    ap.add_argument("out")
    ap.add_argument("--until", type=float)
    args = ap.parse_args(argv)
    notes = read_table(args.table)
    if args.until is not None:
        notes = [(on, min(off, args.until + 0.5), p, v) for on, off, p, v in notes if on < args.until]
    write_midi(notes, args.out)


if __name__ == "__main__":
    main()
