"""Writes a note table of about --seconds of piano music (MAESTRO v2 performance MIDI, one file after another
with 2 s between them, in sorted path order) for bench/score.sh: a long input for the score stage.

  python -m bench.hour_of_notes MAESTRO_DIR OUT.tsv [--seconds 3600]
"""
import argparse
import glob
import os

from tools.meter.data import read_midi


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("maestro")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=3600.0)
    args = ap.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.maestro, "**", "*.mid*"), recursive=True))
    if not files:
        raise SystemExit(f"error: no MIDI files under {args.maestro}")
    start, count = 0.0, 0
    with open(args.out, "w") as out:
        for f in files:
            notes, _ = read_midi(f)
            for on, off, pitch, vel in notes:
                if start + on >= args.seconds:
                    break
                out.write(f"{start + on:.4f}\t{start + off:.4f}\t{int(pitch)}\t{int(vel)}\n")
                count += 1
            start += notes[:, 1].max() + 2.0
            if start >= args.seconds:
                break
    print(f"{args.out}: {count} notes over {min(start, args.seconds):.0f} s")


if __name__ == "__main__":
    main()
