"""Expected metric values from mir_eval itself, for the Rust metrics tests (tests/fixtures/mir_eval.json).

Small constructed cases (ties, chords, repeated notes, offset edge cases, velocity rescaling) plus the real
MAPS pieces in ../shared (the reference transcriber's notes against the ground truth). Frame metrics use
mir_eval.multipitch on the grid the Rust code states: frames at k * hop seconds, a pitch sounding at frame k
when onset <= k * hop < offset.

Run through ./run.sh, which makes the venv.
"""
import glob
import json
import math
import os
import random
import sys

import numpy as np
import mir_eval

HOP = 0.01


def read_table(path):
    notes = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f for f in line.replace(",", " ").split() if f]
        try:
            float(fields[0])
        except ValueError:
            continue
        vel = float(fields[3]) if len(fields) > 3 else 64.0
        notes.append([float(fields[0]), float(fields[1]), int(round(float(fields[2]))), int(round(vel))])
    return notes


def frames(notes, n):
    out = [set() for _ in range(n)]
    for on, off, p, _ in notes:
        k = max(0, math.ceil(on / HOP))
        while k < n and k * HOP < off:
            if k * HOP >= on:
                out[k].add(p)
            k += 1
    return out


def scores(ref, est):
    ri = np.array([[n[0], n[1]] for n in ref]).reshape(-1, 2)
    ei = np.array([[n[0], n[1]] for n in est]).reshape(-1, 2)
    rp = np.array([mir_eval.util.midi_to_hz(n[2]) for n in ref])
    ep = np.array([mir_eval.util.midi_to_hz(n[2]) for n in est])
    rv = np.array([n[3] for n in ref], dtype=float)
    ev = np.array([n[3] for n in est], dtype=float)
    out = {}
    if len(ref) == 0 or len(est) == 0:
        zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        out = {"note": zero, "note_offset": zero, "note_offset_velocity": zero}
    else:
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, offset_ratio=None)
        out["note"] = {"precision": p, "recall": r, "f1": f}
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep)
        out["note_offset"] = {"precision": p, "recall": r, "f1": f}
        p, r, f, _ = mir_eval.transcription_velocity.precision_recall_f1_overlap(ri, rp, rv, ei, ep, ev)
        out["note_offset_velocity"] = {"precision": p, "recall": r, "f1": f}
    end = max([n[1] for n in ref + est] + [0.0])
    n = math.ceil(end / HOP) + 1
    times = np.arange(n) * HOP
    rf = [np.array(sorted(mir_eval.util.midi_to_hz(p) for p in s)) for s in frames(ref, n)]
    ef = [np.array(sorted(mir_eval.util.midi_to_hz(p) for p in s)) for s in frames(est, n)]
    if sum(len(x) for x in rf) == 0 or sum(len(x) for x in ef) == 0:
        out["frame"] = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        out["frame_accuracy"] = 0.0
    else:
        m = mir_eval.multipitch.evaluate(times, rf, times, ef)
        p, r = m["Precision"], m["Recall"]
        out["frame"] = {"precision": p, "recall": r, "f1": 0.0 if p + r == 0 else 2 * p * r / (p + r)}
        out["frame_accuracy"] = m["Accuracy"]
    return out


def constructed_cases():
    cases = {}
    # Two refs and two ests where a greedy matching finds one pair and the maximum matching two.
    cases["greedy_trap"] = ([[1.0, 2.0, 60, 64], [1.06, 2.0, 60, 70]], [[1.03, 2.0, 60, 50], [0.96, 2.0, 60, 90]])
    # Onsets exactly at the 50 ms tolerance (after rounding), and just past it.
    cases["onset_edges"] = ([[1.0, 2.0, 60, 64], [3.0, 4.0, 62, 64]], [[1.05, 2.0, 60, 64], [3.0501, 4.0, 62, 64]])
    # A chord with one wrong pitch and one missing note.
    cases["chord"] = ([[0.5, 1.5, 60, 80], [0.5, 1.5, 64, 70], [0.5, 1.5, 67, 60], [0.5, 1.5, 72, 50]],
                      [[0.51, 1.4, 60, 90], [0.49, 1.6, 64, 85], [0.5, 1.5, 68, 80]])
    # Repeated notes of one key close together: ties between several candidates.
    cases["repeats"] = ([[0.0, 0.1, 60, 40], [0.04, 0.14, 60, 50], [0.08, 0.2, 60, 60], [0.12, 0.3, 60, 70]],
                        [[0.02, 0.12, 60, 45], [0.06, 0.16, 60, 55], [0.1, 0.25, 60, 65]])
    # Offsets: 20 % of a long note, the 50 ms floor for a short one, and misses on both sides.
    cases["offsets"] = ([[0.0, 1.0, 60, 64], [2.0, 2.1, 62, 64], [3.0, 5.0, 64, 64], [6.0, 6.05, 65, 64]],
                        [[0.0, 1.2, 60, 64], [2.0, 2.15, 62, 64], [3.0, 5.41, 64, 64], [6.0, 6.1001, 65, 64]])
    # Constant estimated velocities (a rank-deficient least-squares fit).
    cases["constant_velocity"] = ([[0.0, 1.0, 60, 30], [1.0, 2.0, 62, 90], [2.0, 3.0, 64, 60]],
                                  [[0.0, 1.0, 60, 64], [1.0, 2.0, 62, 64], [2.0, 3.0, 64, 64]])
    cases["empty_estimate"] = ([[0.0, 1.0, 60, 64]], [])
    # Random pieces with jittered estimates: many overlapping candidates.
    rng = random.Random(7)
    for k in range(4):
        ref = []
        for _ in range(120):
            on = round(rng.uniform(0, 20), 3)
            ref.append([on, round(on + rng.uniform(0.03, 1.5), 3), rng.randint(55, 70), rng.randint(20, 110)])
        est = []
        for n in ref:
            if rng.random() < 0.85:
                on = round(n[0] + rng.uniform(-0.07, 0.07), 3)
                est.append([max(0.0, on), round(max(on, 0) + (n[1] - n[0]) * rng.uniform(0.6, 1.4), 3),
                            n[2] if rng.random() < 0.93 else n[2] + 1, max(1, min(127, n[3] + rng.randint(-25, 25)))])
        for _ in range(15):
            on = round(rng.uniform(0, 20), 3)
            est.append([on, round(on + rng.uniform(0.05, 0.8), 3), rng.randint(55, 70), rng.randint(20, 110)])
        rng.shuffle(est)
        cases[f"random_{k}"] = (ref, est)
    return cases


def main():
    shared = sys.argv[1]
    out_path = sys.argv[2]
    fixture = {"hop": HOP, "mir_eval": mir_eval.__version__, "constructed": {}, "maps_dev": {}}
    for name, (ref, est) in constructed_cases().items():
        fixture["constructed"][name] = {"ref": ref, "est": est, "expected": scores(ref, est)}
    for ref_path in sorted(glob.glob(os.path.join(shared, "data/maps-dev/*.tsv"))):
        stem = os.path.splitext(os.path.basename(ref_path))[0]
        est_path = os.path.join(shared, "data/maps-dev-transkun", stem + ".tsv")
        fixture["maps_dev"][stem] = scores(read_table(ref_path), read_table(est_path))
    keys = ["note", "note_offset", "note_offset_velocity"]
    for k in keys:
        f1 = np.mean([v[k]["f1"] for v in fixture["maps_dev"].values()])
        print(f"maps-dev mean {k} F1 = {f1:.4f}")
    with open(out_path, "w") as f:
        json.dump(fixture, f, indent=1)
    print("wrote", out_path)


if __name__ == "__main__":
    main()
