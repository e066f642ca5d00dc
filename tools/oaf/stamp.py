"""Writes measured scores into a bundle's provenance: `pianoscribe eval --json` output on a named set (maps-dev
for the figures we report) becomes header["provenance"]["scores"][SET], so that `pianoscribe info` and the
page's model picker show what the model scored and on what. The network graphs are copied byte for byte.

  python tools/oaf/stamp.py IN.pscb OUT.pscb --set maps-dev --eval EVAL.json [--note "how it was measured"]
"""
import argparse
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "convert"))
from convert import MAGIC, write_bundle_bytes  # noqa: E402


def read_bundle(path):
    """(header dict, the bytes after the header) of a bundle file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[: len(MAGIC)] != MAGIC:
        sys.exit(f"error: {path} is not a pianoscribe model bundle")
    (length,) = struct.unpack("<I", data[len(MAGIC): len(MAGIC) + 4])
    start = len(MAGIC) + 4
    return json.loads(data[start: start + length]), data[start + length:]


def scores_of(report):
    """The means of a `pianoscribe eval --json` report, as F1 figures rounded to 4 places."""
    mean = report["mean"]
    return {"pieces": len(report.get("pieces", {})),
            **{k: round(mean[k]["f1"], 4) for k in ("note", "note_offset", "note_offset_velocity", "frame")}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("out")
    ap.add_argument("--set", required=True, help="what the scores were measured on, e.g. maps-dev")
    ap.add_argument("--eval", required=True, help="`pianoscribe eval --json` output")
    ap.add_argument("--note", help="how the scores were measured")
    args = ap.parse_args(argv)
    header, rest = read_bundle(args.bundle)
    with open(args.eval) as f:
        entry = scores_of(json.load(f))
    if args.note:
        entry["measured"] = args.note
    header.setdefault("provenance", {}).setdefault("scores", {})[args.set] = entry
    write_bundle_bytes(args.out, header, rest)
    print(f"{args.out}: provenance.scores.{args.set} = {json.dumps(entry)}")


if __name__ == "__main__":
    main()
