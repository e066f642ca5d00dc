"""What a training run on a lent GPU machine needs that the machine lacks (tools/train/device.sh pack): MAESTRO
MIDI to render there and the Salamander Grand's samples, small enough to travel (the device tool sends at most
64 MiB with the working tree, which is half of that already).

  python -m tools.train.device midi --hours H --validation-pieces N --out MIDI.tar.xz [--midi DIR]
  python -m tools.train.device samples --out DIR [--samples DIR] [--quality Q]
"""
import argparse
import csv
import io
import os
import tarfile

from tools.train import prepare, sampler

CSV_NAME = "maestro-v2.0.0-train-validation.csv"


def chosen_rows(rows, hours, validation_pieces):
    """The train rows in the CSV's order up to `hours` of music, and the first `validation_pieces` validation
    rows (the run's validation picks its best weights by them)."""
    train = prepare.plan(rows, ["train"], ["x"], hours)
    validation = [r for r in rows if r["split"] == "validation"][:validation_pieces]
    return [row for _, _, row in train] + validation


def pack_midi(midi_dir, hours, validation_pieces, out):
    """A tar.xz of the chosen rows' MIDI files in MAESTRO's layout, with a CSV that lists only them, so that
    prepare.py reads the unpacked folder as it reads MAESTRO."""
    rows = chosen_rows(prepare.read_csv(midi_dir), hours, validation_pieces)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = table.getvalue().encode()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with tarfile.open(out + ".part", "w:xz") as tar:
        info = tarfile.TarInfo(CSV_NAME)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for row in rows:
            tar.add(os.path.join(midi_dir, row["midi_filename"]), arcname=row["midi_filename"])
    os.replace(out + ".part", out)
    return rows


def pack_samples(samples, out, quality):
    """Every sample of the sampler's 16 layers, mono at the training rate as Ogg Vorbis (`quality`: libsndfile's
    compression level, 0 best to 1 smallest), in one folder, where sampler.Piano finds them by name."""
    import soundfile as sf
    import soxr
    os.makedirs(out, exist_ok=True)
    piano = sampler.Piano(samples, prepare.SAMPLE_RATE)  # only to find each sample's file as the sampler does
    count = 0
    for layer in range(1, sampler.LAYERS + 1):
        for key in range(sampler.LOWEST, sampler.HIGHEST + 1, 3):
            name = sampler.sample_name(key, layer)
            dest = os.path.join(out, name)
            if os.path.exists(dest):
                count += 1
                continue
            audio, rate = sf.read(piano.path(key, layer), dtype="float32", always_2d=True)
            audio = soxr.resample(audio.mean(axis=1), rate, prepare.SAMPLE_RATE, quality="HQ")
            sf.write(dest + ".part", audio, prepare.SAMPLE_RATE, format="OGG", subtype="VORBIS",
                     compression_level=quality)
            os.replace(dest + ".part", dest)
            count += 1
    return count


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("midi")
    m.add_argument("--midi", default=os.path.join(prepare.ROOT, "..", "shared", "data", "maestro-v2-midi"))
    m.add_argument("--hours", type=float, required=True)
    m.add_argument("--validation-pieces", type=int, default=4)
    m.add_argument("--out", required=True)
    s = sub.add_parser("samples")
    s.add_argument("--samples", default=sampler.default_dir())
    s.add_argument("--out", required=True)
    s.add_argument("--quality", type=float, default=0.8)
    args = ap.parse_args(argv)
    if args.command == "midi":
        rows = pack_midi(args.midi, args.hours, args.validation_pieces, args.out)
        hours = sum(float(r["duration"]) for r in rows if r["split"] == "train") / 3600
        print(f"{args.out}: {len(rows)} pieces ({hours:.1f} h to train on), {os.path.getsize(args.out) / 1e6:.1f} MB")
    else:
        if not os.path.isdir(args.samples):
            raise SystemExit(f"error: no samples in {args.samples} (python -m tools.train.sampler fetch)")
        n = pack_samples(args.samples, args.out, args.quality)
        print(f"{args.out}: {n} samples, {prepare.size_of(args.out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
