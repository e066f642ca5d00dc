"""The prepared validation renders as two folders `pianoscribe calibrate` reads: OUT/audio (links to the
cache's FLAC files) and OUT/reference (links to their MIDI), matched by file stem.

  python -m tools.train.validation_set --out DIR [--cache DIR] [--renderers fluidr3,musescore] [--hours H]

--renderers and --hours take a part of the cache's validation renders (per renderer, pieces in the cache's order
until H hours, as prepare.py's --hours chose them), so that a cache that grew calibrates as the smaller one did.
"""
import argparse
import json
import os
import sys

from tools.train import prepare


def link(src, dst):
    if os.path.lexists(dst):
        os.remove(dst)
    os.symlink(os.path.abspath(src), dst)


def chosen(entries, renderers, hours):
    """The entries of `renderers` (all if None), each renderer's first ones until `hours` (all if None)."""
    out, total = [], {}
    for e in entries:
        if renderers is not None and e["renderer"] not in renderers:
            continue
        if hours is not None and total.get(e["renderer"], 0.0) >= hours * 3600:
            continue
        total[e["renderer"]] = total.get(e["renderer"], 0.0) + e["duration"]
        out.append(e)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default=prepare.default_cache())
    ap.add_argument("--renderers", help="only these renderers' validation renders (comma-separated)")
    ap.add_argument("--hours", type=float, help="at most this much per renderer")
    args = ap.parse_args(argv)
    with open(os.path.join(args.cache, "manifest.json")) as f:
        entries = chosen([e for e in json.load(f) if e["split"] == "validation"],
                         args.renderers.split(",") if args.renderers else None, args.hours)
    if not entries:
        which = f" of renderers {args.renderers}" if args.renderers else ""
        sys.exit(f"error: no validation pieces{which} in {args.cache} (tools/train/run.sh prepare --split validation)")
    for sub in ("audio", "reference"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    for e in entries:
        # The renderer in the name keeps two renderings of one piece apart.
        stem = f"{e['renderer']}-{os.path.splitext(os.path.basename(e['audio']))[0]}"
        link(os.path.join(args.cache, e["audio"]), os.path.join(args.out, "audio", stem + ".flac"))
        link(e["midi"], os.path.join(args.out, "reference", stem + os.path.splitext(e["midi"])[1]))
    print(f"{len(entries)} validation recordings in {args.out}")


if __name__ == "__main__":
    main()
