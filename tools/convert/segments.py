"""Does the Transkun V2 checkpoint keep its accuracy on segments shorter than the 16 s it was trained on?

The engine runs a clip shorter than a segment as one whole 16 s segment: the clip after the lead-in, zeros
after it. A segment cut to the clip's length would cost less in proportion; this measures what it does to the
notes. Clips of MAESTRO's validation MIDI, rendered by fluidsynth (FluidR3, as tools/train/prepare.py renders
training audio), are transcribed by transkun's own PyTorch model as one segment laid out

  * as the engine does: `lead` s of zeros, the clip, zeros to 16 s;
  * cut to the clip: `lead` s of zeros, the clip, `tail` s of zeros, for a few (lead, tail);
  * cut to the clip, with the gain normalisation's mean and deviation taken over the 16 s layout (the one
    statistic of the input that depends on the segment's length), to tell the network's dependence on the
    length from the normalisation's.

Each layout's onset F1 (mir_eval, 50 ms, offsets ignored) against the MIDI's notes and against the 16 s
layout's notes, and its network time, are printed per clip and on average.

Usage (tools/convert/run.sh makes the venv; rendering needs Debian's fluidsynth and fluid-soundfont-gm):
  tools/convert/run.sh segments [--pieces N] [--seed S] [--threads N]
"""
import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import time

import numpy as np
import torch

from tools.convert.convert import load_transkun
from tools.train import labels, prepare

# The engine's lead-in at its default segment hop (src/family/transkun/config.rs DEFAULT_SEGMENT_HOP_SECONDS,
# 12 s): the checkpoint's 16 s segment less that hop.
LEAD_SECONDS = 4.0
CLIP_SECONDS = (4.0, 8.0)
# (name, lead s, tail s or None for zeros up to the whole segment, gain statistics over the 16 s layout)
LAYOUTS = [
    ("16 s, as the engine", LEAD_SECONDS, None, False),
    ("lead 4 s, tail 4 s", LEAD_SECONDS, 4.0, False),
    ("lead 4 s, tail 1 s", LEAD_SECONDS, 1.0, False),
    ("lead 2 s, tail 1 s", 2.0, 1.0, False),
    ("lead 1 s, tail 1 s", 1.0, 1.0, False),
    ("lead 4 s, tail 4 s, 16 s gain", LEAD_SECONDS, 4.0, True),
    ("lead 1 s, tail 1 s, 16 s gain", 1.0, 1.0, True),
]


class Renormalised(torch.nn.Module):
    """transkun's feature extractor behind a change of gain normalisation: the frames it gets were normalised
    by their own segment's mean and deviation (`own`); it sees them normalised by `target`'s instead."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.own = self.target = None

    def forward(self, frames):
        if self.target is not None:
            (m, s), (m2, s2) = self.own, self.target
            frames = (frames * (s + 1e-8) + m - m2) / (s2 + 1e-8)
        return self.inner(frames)


def statistics(frames):
    """transkun's per-segment gain normalisation: one mean and one unbiased deviation over every value."""
    return torch.mean(frames), torch.std(frames)


def transcribe(model, clip, lead, tail, gain16, renormalised):
    """The clip's notes (onset s, offset s, MIDI pitch) from one segment laid out as described above, and the
    segment's frames and the seconds its network and decoding took."""
    from transkun.Util import makeFrame
    fs, hop = model.fs, model.hopSize
    first = math.ceil(lead * fs)

    def layout(total):
        y = torch.zeros(1, total)
        y[0, first:first + len(clip)] = torch.from_numpy(clip)
        return makeFrame(y, hop, model.windowSize)

    whole = math.ceil(model.segmentSizeInSecond * fs)
    total = whole if tail is None else first + len(clip) + math.ceil(tail * fs)
    frames = layout(total)
    renormalised.own = statistics(frames)
    renormalised.target = statistics(layout(whole)) if gain16 else None
    start = math.floor(lead * fs / hop)
    with torch.no_grad():
        began = time.perf_counter()
        events, _ = model.transcribeFrames(frames.unsqueeze(0), forcedStartPos=[start] * len(model.targetMIDIPitch),
                                           velocityCriteron="hamming", lastFrameIdx=round(total / hop))
        seconds = time.perf_counter() - began
    notes = [(e.start - lead, e.end - lead, e.pitch) for e in events[0] if e.pitch >= 21 and e.hasOnset]
    return notes, frames.shape[-2], seconds


def onset_f1(reference, estimate):
    """mir_eval's note onset F1 (50 ms, offsets ignored; the training's `note_scores`), times shifted clear of
    zero and durations kept positive for mir_eval's checks; 1 when both are empty."""
    from tools.train.train import note_scores
    if not reference or not estimate:
        return float(not reference and not estimate)

    def shifted(notes):
        return [(on + 10.0, max(off, on + 1e-3) + 10.0, p, 0) for on, off, p in notes]

    return note_scores(shifted(reference), shifted(estimate))[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--midi", default=os.path.join(prepare.ROOT, "..", "shared", "data", "maestro-v2-midi"))
    ap.add_argument("--pieces", type=int, default=11, help="MAESTRO validation pieces, one clip of each length")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if not os.path.exists(prepare.SOUNDFONTS["fluidr3"]) or shutil.which("fluidsynth") is None:
        sys.exit("error: rendering the clips needs fluidsynth and FluidR3 (apt install fluidsynth fluid-soundfont-gm)")
    import soxr
    torch.set_num_threads(args.threads)
    model, _, _ = load_transkun()
    renormalised = Renormalised(model.framewiseFeatureExtractor)
    model.framewiseFeatureExtractor = renormalised
    rows = [r for r in prepare.read_csv(args.midi) if r["split"] == "validation"][: args.pieces]
    rng = random.Random(args.seed)
    results = []
    for row in rows:
        midi = os.path.join(args.midi, row["midi_filename"])
        seconds = min(float(row["duration"]), 90.0)
        with tempfile.TemporaryDirectory() as d:
            cut = os.path.join(d, "cut.mid")
            prepare.truncate_midi(midi, seconds, cut)
            audio = prepare.render(cut, "fluidr3", max_seconds=seconds)
            notes, _ = labels.read_midi(cut)
        audio = soxr.resample(audio, prepare.SAMPLE_RATE, model.fs, quality="HQ").astype(np.float32)
        for length in CLIP_SECONDS:
            t0 = rng.uniform(2.0, seconds - length - 2.0)
            clip = audio[int(t0 * model.fs):int((t0 + length) * model.fs)]
            reference = [(on - t0, off - t0, p) for on, off, p, _ in notes if t0 <= on < t0 + length]
            engine = None
            for name, lead, tail, gain16 in LAYOUTS:
                found, frames, took = transcribe(model, clip, lead, tail, gain16, renormalised)
                engine = engine if engine is not None else found
                r = dict(length=length, layout=name, frames=frames, seconds=took, f1=onset_f1(reference, found),
                         agreement=onset_f1(engine, found))
                results.append(r)
                print(f"{os.path.basename(midi)[:40]} at {t0:5.1f} s, {length:.0f} s clip, {name:30s} "
                      f"{frames:4d} frames {took:5.2f} s  F1 {r['f1']:.3f}  with the 16 s notes {r['agreement']:.3f}",
                      flush=True)
    print(f"\n| layout | frames (4 s / 8 s clip) | seconds, network and decoding (4 s / 8 s) | onset F1 (4 s / 8 s) | "
          f"F1 against the 16 s notes (4 s / 8 s) |\n|---|---|---|---|---|")
    for name, *_ in LAYOUTS:
        each = [[r for r in results if r["layout"] == name and r["length"] == length] for length in CLIP_SECONDS]
        cell = lambda key, fmt: " / ".join(fmt.format(np.mean([r[key] for r in rs])) for rs in each)
        print(f"| {name} | {cell('frames', '{:.0f}')} | {cell('seconds', '{:.2f}')} | {cell('f1', '{:.3f}')} | "
              f"{cell('agreement', '{:.3f}')} |")
    print(f"({len(rows)} MAESTRO validation pieces, one clip of each length from the first 90 s of each; "
          f"{args.threads} threads)")


if __name__ == "__main__":
    main()
