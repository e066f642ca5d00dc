"""How well a trained metrical model's beat period points at the annotated metrical level: per performance, the
median of the per-note beat periods weighted by their beat probabilities, against the annotated median
inter-beat interval; on the training and validation splits, raw and with a linear calibration in the log
domain fitted on the training split (README, Sheet music: "The model's own beat period").

  python -m tools.meter.period --checkpoint RUN/best.pt --cache CACHE
"""
import argparse

import numpy as np
import torch

from tools.meter import data, network, train


def log_periods(net, cache, split):
    """[(ln model period, ln annotated period)] for the split's performances with at least 3 beats."""
    out = []
    for i in cache.indices(split):
        notes, sustain, beats = cache.notes(i), cache.sustain(i), cache.beats(i)
        if len(beats) < 3 or len(notes) == 0:
            continue
        beat, _, period, _, _ = train.probabilities(net, notes, sustain)
        out.append((np.log(train.regressed_period(beat, period)), np.log(np.median(np.diff(beats)))))
    return np.array(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--cache", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    state = torch.load(args.checkpoint, weights_only=False)
    net = network.MeterNet(**state["config"])
    net.load_state_dict(state["model"])
    net.eval()
    cache = data.Cache(args.cache)
    splits = {s: log_periods(net, cache, s) for s in ("train", "validation")}
    t = splits["train"]
    a, b = np.linalg.lstsq(np.c_[np.ones(len(t)), t[:, 0]], t[:, 1], rcond=None)[0]
    print(f"calibration fitted on the training split: ln annotated = {a:.4f} + {b:.4f} ln model")
    for name, d in splits.items():
        for label, error in (("raw", d[:, 0] - d[:, 1]), ("calibrated", a + b * d[:, 0] - d[:, 1])):
            print(f"{name:<10} {label:<10} within 15 %: {np.mean(np.abs(error) < np.log(1.15)):.3f}   "
                  f"median ratio {np.exp(np.median(error)):.3f}   ({len(d)} performances)")


if __name__ == "__main__":
    main()
