"""Exports a trained metrical model (tools/meter/train.py's best.pt or checkpoint.pt) as the bundle the engine's
score stage runs (src/score/meter.rs):

  python -m tools.meter.export --checkpoint RUN/best.pt --cache CACHE --out models/meter.pscb [--fixture PATH]

One ONNX part, `meter`: input `notes` [N, FEATURES] (tools/meter/data.features of a performance's notes, in
onset order), outputs `beat` and `downbeat` (probabilities, [N]) and `beat_seconds` (the local inter-beat
interval, [N]). The header holds the numbers the engine needs to compute the same inputs (the feature names in
order, the chord and pedal windows, the clip and floor of the log intervals) and the share of downbeats among
the training set's beats (the prior the bar decoder divides by), and the run's provenance (data, split,
steps, hours, validation figures).

--fixture PATH also writes what the engine's parity test (tests/score.rs) compares with: the first notes of
one performance (notes, sustain), their inputs as computed here and the exported graph's outputs (by torch).
"""
import argparse
import io
import json
import os

import numpy as np
import torch

from tools.meter import data, network
from tools.pscb import bundle

OPSET = 17


class Exported(torch.nn.Module):
    """The network (or the mean of several, an ensemble) on one performance: [N, FEATURES] in, probabilities
    (the members' mean) and seconds (their geometric mean) out."""

    def __init__(self, *nets):
        super().__init__()
        self.nets = torch.nn.ModuleList(nets)

    def forward(self, notes):
        beat, down, ibi = 0.0, 0.0, 0.0
        for net in self.nets:
            # Bar-length and period-bin heads (train.py --bar-classes, --period-bins) are left out: the engine
            # does not read them.
            b, d, i, _, _ = net(notes.unsqueeze(0))
            beat, down, ibi = beat + torch.sigmoid(b[0]), down + torch.sigmoid(d[0]), ibi + i[0]
        n = len(self.nets)
        return beat / n, down / n, torch.exp(ibi / n)


def onnx_bytes(*nets):
    module = Exported(*nets).eval()
    example = torch.zeros(64, data.FEATURES)
    buf = io.BytesIO()
    torch.onnx.export(module, (example,), buf, opset_version=OPSET, dynamo=False, input_names=["notes"],
                      output_names=["beat", "downbeat", "beat_seconds"],
                      dynamic_axes={"notes": {0: "n"}, "beat": {0: "n"}, "downbeat": {0: "n"},
                                    "beat_seconds": {0: "n"}})
    return buf.getvalue()


def downbeat_share(cache):
    """Downbeats over beats in the training split: the rate the model's downbeat probabilities are relative to."""
    train = cache.indices("train")
    beats = sum(len(cache.beats(i)) for i in train)
    downs = sum(len(cache.downbeats(i)) for i in train)
    return downs / max(beats, 1)


def header(provenance, share):
    return {
        "family": "meter",
        "format": 1,
        "features": list(data.FEATURE_NAMES),
        "chord_seconds": data.CHORD_SECONDS,
        "pedal_before": data.PEDAL_BEFORE,
        "pedal_after": data.PEDAL_AFTER,
        "interval_clip": data.INTERVAL_CLIP,
        "interval_floor": data.INTERVAL_FLOOR,
        "downbeat_share": round(share, 4),
        "provenance": provenance,
    }


def fixture(nets, cache, notes=300):
    """The parity fixture: the first `notes` notes of the first validation performance (never trained on), their
    sustain presses, the inputs computed here and the exported module's outputs."""
    i = cache.indices("validation")[0]
    n = cache.notes(i)[:notes]
    end = n[:, 0].max()
    s = cache.sustain(i)
    s = s[s[:, 0] <= end + 1.0]
    x = data.features(n, s)
    with torch.no_grad():
        beat, down, seconds = Exported(*nets).eval()(torch.from_numpy(x))
    r = lambda a: [float(v) for v in np.asarray(a).ravel()]  # exact: f64 times, f32 values
    return {"source": cache.entries[i]["midi"], "notes": [r(row) for row in n], "sustain": [r(row) for row in s],
            "features": [r(row) for row in x], "beat": r(beat), "downbeat": r(down), "beat_seconds": r(seconds)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, nargs="+",
                    help="one checkpoint, or several (same inputs) exported as their mean")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fixture", help="also write the engine's parity fixture (JSON) here")
    args = ap.parse_args(argv)
    cache = data.Cache(args.cache)
    nets, members = [], []
    for path in args.checkpoint:
        state = torch.load(path, weights_only=False)
        net = network.MeterNet(**state["config"])
        net.load_state_dict(state["model"])
        nets.append(net.eval())
        p = dict(state["provenance"])
        p.pop("features", None)  # the header lists them
        # The cache's data folder is where asap-train lay on the training machine: keep its name only.
        if "trained_on" in p:
            p["trained_on"] = p["trained_on"].replace(cache.manifest["data"], os.path.basename(cache.manifest["data"]))
        p["exported_from"] = os.path.basename(path)
        members.append(p)
    if len(members) == 1:
        provenance = members[0]
    else:
        provenance = {"ensemble": f"the mean of {len(members)} networks' probabilities (geometric mean of their "
                                  "beat periods)", "members": members}
    provenance["weights"] = "fp32"
    found = bundle.machine_paths(provenance, "provenance")
    if found:
        raise SystemExit(f"error: the provenance names a machine path: {found}")
    graph = onnx_bytes(*nets)
    written = bundle.write(args.out, header(provenance, downbeat_share(cache)), [("meter", graph)])
    print(bundle.summary(args.out, written))
    if args.fixture:
        with open(args.fixture, "w") as f:
            json.dump(fixture(nets, cache), f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {args.fixture}")


if __name__ == "__main__":
    main()
