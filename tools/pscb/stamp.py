"""Writes into a bundle's provenance what is known about it, the graphs copied byte for byte: scores measured on
a named set (`pianoscribe eval --json` output; maps-dev for the figures we report) as provenance.scores[SET],
which `pianoscribe info` and the page's model picker show, and plain entries (--set-provenance KEY=VALUE), e.g.
where the thresholds come from, worded without a machine's paths.

  python -m tools.pscb.stamp IN.pscb OUT.pscb [--set maps-dev --eval EVAL.json [--note "how it was measured"]]
         [--set-provenance KEY=VALUE ...]

Run it from the repository root (or with the root on PYTHONPATH); OUT may be IN.
"""
import argparse
import json
import sys

from tools import pscb


def key_value(text):
    """KEY=VALUE from the command line as a (key, value) pair; `scores` is refused, as --set writes those."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if key == "scores":
        raise argparse.ArgumentTypeError("scores are written with --set SET --eval EVAL.json")
    return key, value


def parse_args(argv):
    """The options, checked together: --set and --eval go as a pair, and something must be stamped."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("out")
    ap.add_argument("--set", help="what the scores were measured on, e.g. maps-dev")
    ap.add_argument("--eval", help="`pianoscribe eval --json` output")
    ap.add_argument("--note", help="how the scores were measured")
    ap.add_argument("--set-provenance", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                    help="set provenance[KEY] to the string VALUE (repeatable)")
    args = ap.parse_args(argv)
    if (args.set is None) != (args.eval is None):
        ap.error("--set and --eval go together")
    if args.note and not args.set:
        ap.error("--note describes the scores of --set")
    if not args.set and not args.set_provenance:
        ap.error("nothing to stamp: give --set SET --eval EVAL.json and/or --set-provenance KEY=VALUE")
    return args


def warn_machine_paths(header):
    """Says (on stderr) which provenance entries name a path on this machine, e.g. the validation folder that
    `pianoscribe calibrate --bundle` quotes, so that they are reworded before the bundle ships."""
    for where, text in pscb.machine_paths(header.get("provenance", {}), "provenance"):
        print(f"warning: {where} names a path on this machine ({text!r}); reword it with --set-provenance",
              file=sys.stderr)


def main(argv=None):
    args = parse_args(argv)
    scores = None
    if args.set:
        with open(args.eval) as f:
            scores = pscb.scores_from_eval(json.load(f), args.note)

    def stamp(header):
        for key, value in args.set_provenance:
            pscb.set_provenance(header, key, value)
        if scores:
            pscb.set_scores(header, args.set, scores)
        warn_machine_paths(header)

    try:
        data = pscb.rewrite(args.bundle, args.out, stamp)
    except pscb.BundleError as e:
        sys.exit(f"error: {e}")
    for key, value in args.set_provenance:
        print(f"{args.out}: provenance.{key} = {json.dumps(value)}")
    if scores:
        print(f"{args.out}: provenance.scores.{args.set} = {json.dumps(scores)}")
    print(pscb.summary(args.out, data))


if __name__ == "__main__":
    main()
