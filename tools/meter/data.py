"""ASAP performances as note sequences with metrical targets, for the learned beat and downbeat model (issue 22).

  python -m tools.meter.data [--data ../shared/data/asap-train] --out CACHE [--validation-share 0.15]
  python -m tools.meter.data --list-validation CACHE      (the validation split's MIDI files, one per line)

reads every performance of ASAP's metadata.csv (its performance MIDI: notes with onset, offset, pitch and
velocity, and the sustain pedal; its annotations: beats, downbeats, time signatures, key signatures) and writes
CACHE/asap.npz (all of it, concatenated, with offsets per performance) and CACHE/manifest.json (each
performance's names, its split and what the cache was made from), so that training never parses MIDI again.

The split is by composition (composer and title: a piece's `_no_repeat` folder goes with the piece), so that no
composition is on both sides: compositions in the order of the SHA-1 of "composer/title" go to validation until
it holds `--validation-share` of the performances. Deterministic, and independent of the order of metadata.csv.

Everything here is numpy (and mido to read MIDI): the per-note inputs (`features`) and the targets
(`targets`) are what the engine will compute too, and the unit tests run them with Debian's python3.
"""
import argparse
import csv
import hashlib
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "..", "shared", "data", "asap-train")

CHORD_SECONDS = 0.035  # notes starting within 35 ms of a chord's first note belong to it (as src/score's chords)
BEAT_SECONDS = 0.05  # a note is on a beat when its onset is within 50 ms of an annotated beat...
NEAREST_SECONDS = 0.07  # ...or it is the note nearest that beat, within the 70 ms that the F-measure allows
PEDAL_BEFORE, PEDAL_AFTER = 0.15, 0.05  # a sustain press this close to an onset counts as "pressed at" it
INTERVAL_CLIP, INTERVAL_FLOOR = 10.0, 0.01  # time intervals enter as ln(min(seconds, 10) + 0.01)

# The per-note inputs, in order (`features`); the network reads FEATURES columns.
FEATURE_NAMES = (
    ["log_ioi_prev", "log_ioi_next", "log_duration", "velocity", "pitch", "log_chord_ioi_prev",
     "log_chord_ioi_next", "log_chord_size", "chord_lowest", "chord_highest", "chord_offset", "pedal_down",
     "pedal_pressed"]
    + [f"pitch_class_{k}" for k in range(12)])
FEATURES = len(FEATURE_NAMES)


# --- reading ----------------------------------------------------------------------------------------------

def read_midi(path):
    """(notes [N, 4] float64: onset s, offset s, pitch, velocity, sorted by onset then pitch; sustain [M, 2]:
    pedal down s, up s). tools/train/labels.read_midi reads the file (tempo changes followed, a key struck again
    before its release ends the earlier note there, CC64 >= 64 is down)."""
    from tools.train.labels import read_midi as read
    notes, sustain = read(path)
    notes = np.array(notes, np.float64).reshape(-1, 4)
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))]
    return notes, np.array(sustain, np.float64).reshape(-1, 2)


def parse_annotations(text):
    """ASAP's annotation lines `time<TAB>time<TAB>type[,time signature[,key]]`, type b, bR (a beat of a bar
    that the score's meter does not fill) or db: {beats, downbeats: sorted seconds (every line is a beat, as
    tests/score.rs counts them), time_signatures: [(seconds, "3/4")], keys: [(seconds, sharps; flats < 0)]},
    each signature listed where it is given (ASAP gives them where they change)."""
    beats, downbeats, signatures, keys = [], [], [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < 3:
            raise ValueError(f"annotation line without a type: {line!r}")
        t = float(cells[0])
        kind = cells[2].strip().split(",")
        if kind[0] not in ("b", "bR", "db"):
            raise ValueError(f"unknown annotation type {kind[0]!r} in {line!r}")
        beats.append(t)
        if kind[0] == "db":
            downbeats.append(t)
        if len(kind) > 1 and kind[1].strip():
            num, den = kind[1].strip().split("/")
            signatures.append((t, f"{int(num)}/{int(den)}"))
        if len(kind) > 2 and kind[2].strip():
            keys.append((t, int(kind[2])))
    return {"beats": np.array(sorted(beats)), "downbeats": np.array(sorted(downbeats)),
            "time_signatures": signatures, "keys": keys}


def read_metadata(data_dir):
    with open(os.path.join(data_dir, "metadata.csv"), newline="") as f:
        return list(csv.DictReader(f))


def composition(row):
    return f"{row['composer']}/{row['title']}"


def split_compositions(rows, share=0.15):
    """{composition: "train" | "validation"}: compositions in the order of the SHA-1 of their names go to
    validation until it holds `share` of the performances (rows); the rest train."""
    counts = {}
    for r in rows:
        counts[composition(r)] = counts.get(composition(r), 0) + 1
    order = sorted(counts, key=lambda c: hashlib.sha1(c.encode()).hexdigest())
    split, held = {}, 0
    for c in order:
        if held < share * len(rows):
            split[c] = "validation"
            held += counts[c]
        else:
            split[c] = "train"
    return split


def score_rows(rows, split):
    """The rows whose written score's MIDI (`midi_score`, with `midi_score_annotations`) joins the training
    data (`prepare --scores`): one row per score file, of the training compositions only, so that no note of
    a validation composition is trained on. The score's MIDI plays the notes at the written tempo; the window
    augmentation (tempo, rubato, velocity, a transcription's errors) makes performances of it."""
    seen, out = set(), []
    for r in rows:
        if split[composition(r)] == "train" and r["midi_score"] not in seen:
            seen.add(r["midi_score"])
            out.append(r)
    return out


# --- targets ----------------------------------------------------------------------------------------------

def nearest(sorted_times, t):
    """Index into sorted_times of the value nearest each t (sorted_times non-empty)."""
    i = np.searchsorted(sorted_times, t)
    i = np.clip(i, 1, len(sorted_times) - 1) if len(sorted_times) > 1 else np.zeros_like(i)
    if len(sorted_times) > 1:
        left = np.abs(t - sorted_times[i - 1]) <= np.abs(sorted_times[i] - t)
        i = np.where(left, i - 1, i)
    return i


def on_events(onsets, events, within=BEAT_SECONDS, nearest_within=NEAREST_SECONDS):
    """Per note 0/1 (float32): its onset lies within `within` s of an event (a beat), or it is the note whose
    onset is nearest an event and within `nearest_within` s of it. onsets sorted."""
    onsets = np.asarray(onsets, np.float64)
    events = np.asarray(events, np.float64)
    out = np.zeros(len(onsets), np.float32)
    if len(onsets) == 0 or len(events) == 0:
        return out
    out[np.abs(onsets - events[nearest(events, onsets)]) <= within + 1e-9] = 1
    j = nearest(onsets, events)
    close = np.abs(onsets[j] - events) <= nearest_within + 1e-9
    out[j[close]] = 1
    return out


def targets(onsets, beats, downbeats):
    """Per note (sorted onsets): beat and downbeat (0/1), ln of the local inter-beat interval (the interval
    between the annotated beats around the onset), and a mask (float32, 1 where the note lies within the
    annotated span, widened by one inter-beat interval either side: notes outside it have no known targets)."""
    onsets = np.asarray(onsets, np.float64)
    beats = np.asarray(beats, np.float64)
    n = len(onsets)
    beat = on_events(onsets, beats)
    down = on_events(onsets, downbeats)
    ibi = np.zeros(n, np.float32)
    mask = np.zeros(n, np.float32)
    if len(beats) >= 2 and n:
        k = np.clip(np.searchsorted(beats, onsets, side="right") - 1, 0, len(beats) - 2)
        ibi = np.log(np.maximum(beats[k + 1] - beats[k], 1e-3)).astype(np.float32)
        first, last = beats[1] - beats[0], beats[-1] - beats[-2]
        mask = ((onsets >= beats[0] - first) & (onsets <= beats[-1] + last)).astype(np.float32)
    return beat, down, ibi, mask


PERIOD_LOWEST, PERIOD_BINS_PER_OCTAVE = 0.15, 8  # beat-period bins: 8 a doubling from 150 ms (a bin is 9 %)


def period_bin(seconds, bins):
    """The bin (0 .. bins - 1, the edges taking what lies beyond) of each beat period in seconds: bin k is
    centred on PERIOD_LOWEST * 2^(k / PERIOD_BINS_PER_OCTAVE)."""
    k = np.round(np.log2(np.maximum(np.asarray(seconds, np.float64), 1e-6) / PERIOD_LOWEST) * PERIOD_BINS_PER_OCTAVE)
    return np.clip(k, 0, bins - 1).astype(np.int64)


def bin_seconds(bins):
    """The period (seconds) at the centre of each bin."""
    return PERIOD_LOWEST * 2.0 ** (np.arange(bins) / PERIOD_BINS_PER_OCTAVE)


BAR_LENGTHS = (2, 3, 4)


def bar_lengths(onsets, beats, downbeats):
    """Per note (sorted onsets): the class of its bar's length in annotated beats (index into BAR_LENGTHS: the
    beats from the downbeat at or before the onset to the next one), or -1 where unknown (before the first or
    after the last downbeat, or a bar of another length: a pickup, a 5/4 bar)."""
    onsets = np.asarray(onsets, np.float64)
    beats = np.sort(np.asarray(beats, np.float64))
    downbeats = np.sort(np.asarray(downbeats, np.float64))
    out = np.full(len(onsets), -1, np.int64)
    if len(downbeats) < 2 or len(onsets) == 0:
        return out
    # Beats per bar, counted with a tolerance so that a downbeat annotated a hair off its beat counts once.
    eps = 1e-3
    counts = np.searchsorted(beats, downbeats[1:] - eps) - np.searchsorted(beats, downbeats[:-1] - eps)
    cls = np.full(len(counts), -1, np.int64)
    for c, length in enumerate(BAR_LENGTHS):
        cls[counts == length] = c
    k = np.searchsorted(downbeats, onsets + eps, side="right") - 1
    inside = (k >= 0) & (k < len(counts))
    out[inside] = cls[k[inside]]
    return out


# --- inputs -----------------------------------------------------------------------------------------------

def chords(onsets):
    """Chord index of each note (sorted onsets): a chord starts at a note more than CHORD_SECONDS after the
    previous chord's first note."""
    out = np.zeros(len(onsets), np.int64)
    start, c = -math.inf, -1
    for i, t in enumerate(onsets):
        if t - start > CHORD_SECONDS:
            c += 1
            start = t
        out[i] = c
    return out


def features(notes, sustain):
    """[N, FEATURES] float32 for notes [N, 4] (sorted by onset) and sustain [M, 2] (see FEATURE_NAMES): time
    intervals as ln(seconds + 0.01), to the neighbouring notes and between chords; the note's length; velocity
    / 127; (pitch - 60) / 24 and its pitch class; the chord's size, whether the note is its lowest or highest,
    how far after the chord's first note it starts; whether the sustain pedal is down at the onset, and
    whether it was pressed within 150 ms before to 50 ms after it."""
    notes = np.asarray(notes, np.float64).reshape(-1, 4)
    n = len(notes)
    out = np.zeros((n, FEATURES), np.float32)
    if n == 0:
        return out
    on, off, pitch, vel = notes[:, 0], notes[:, 1], notes[:, 2], notes[:, 3]

    def log(x):
        return np.log(np.clip(x, 0.0, INTERVAL_CLIP) + INTERVAL_FLOOR)

    gap = np.diff(on)
    out[:, 0] = log(np.concatenate([[1.0], gap]))
    out[:, 1] = log(np.concatenate([gap, [1.0]]))
    out[:, 2] = log(off - on)
    out[:, 3] = vel / 127.0
    out[:, 4] = (pitch - 60.0) / 24.0
    c = chords(on)
    first = np.concatenate([[0], np.flatnonzero(np.diff(c)) + 1])  # each chord's first note
    starts = on[first]
    cgap = np.diff(starts)
    out[:, 5] = log(np.concatenate([[1.0], cgap]))[c]
    out[:, 6] = log(np.concatenate([cgap, [1.0]]))[c]
    size = np.bincount(c)
    out[:, 7] = np.log(size[c])
    lowest = np.full(len(first), np.inf)
    highest = np.full(len(first), -np.inf)
    np.minimum.at(lowest, c, pitch)
    np.maximum.at(highest, c, pitch)
    out[:, 8] = pitch == lowest[c]
    out[:, 9] = pitch == highest[c]
    out[:, 10] = (on - starts[c]) / CHORD_SECONDS
    if len(sustain):
        down, up = np.asarray(sustain, np.float64)[:, 0], np.asarray(sustain, np.float64)[:, 1]
        order = np.argsort(down)
        down, up = down[order], up[order]
        k = np.searchsorted(down, on, side="right") - 1
        ok = k >= 0
        out[ok, 11] = on[ok] < up[k[ok]]
        lo = np.searchsorted(down, on - PEDAL_BEFORE, side="left")
        hi = np.searchsorted(down, on + PEDAL_AFTER, side="right")
        out[:, 12] = hi > lo
    out[np.arange(n), 13 + (pitch.astype(np.int64) % 12)] = 1
    return out


# --- the cache --------------------------------------------------------------------------------------------

def concat(parts, width=None):
    """(values concatenated, offsets [len(parts) + 1])."""
    offsets = np.zeros(len(parts) + 1, np.int64)
    offsets[1:] = np.cumsum([len(p) for p in parts])
    if width is None:
        values = np.concatenate([np.asarray(p, np.float64) for p in parts]) if parts else np.zeros(0)
    else:
        values = (np.concatenate([np.asarray(p, np.float64).reshape(-1, width) for p in parts])
                  if parts else np.zeros((0, width)))
    return values, offsets


class Cache:
    """The prepared cache: performances (manifest entries) with their notes, sustain, beats and downbeats."""

    def __init__(self, folder):
        with open(os.path.join(folder, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.entries = self.manifest["performances"]
        with np.load(os.path.join(folder, "asap.npz")) as z:
            self.arrays = {k: z[k] for k in z.files}

    def _part(self, name, i):
        o = self.arrays[name + "_offsets"]
        return self.arrays[name][o[i]:o[i + 1]]

    def notes(self, i):
        return self._part("notes", i)

    def sustain(self, i):
        return self._part("sustain", i)

    def beats(self, i):
        return self._part("beats", i)

    def downbeats(self, i):
        return self._part("downbeats", i)

    def indices(self, split):
        return [i for i, e in enumerate(self.entries) if e["split"] == split]


def sha1_file(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def prepare(data_dir, out, share=0.15, scores=False, log=print):
    rows = read_metadata(data_dir)
    split = split_compositions(rows, share)
    entries, notes, sustain, beats, downbeats = [], [], [], [], []
    sources = [(r, "performance", r["midi_performance"], r["performance_annotations"]) for r in rows]
    if scores:
        sources += [(r, "score", r["midi_score"], r["midi_score_annotations"]) for r in score_rows(rows, split)]
    for i, (r, source, midi, annotations) in enumerate(sources):
        n, s = read_midi(os.path.join(data_dir, midi))
        with open(os.path.join(data_dir, annotations)) as f:
            a = parse_annotations(f.read())
        notes.append(n)
        sustain.append(s)
        beats.append(a["beats"])
        downbeats.append(a["downbeats"])
        entries.append({"composer": r["composer"], "title": r["title"], "folder": r["folder"],
                        "composition": composition(r), "source": source, "midi": midi,
                        "annotations": annotations, "split": split[composition(r)],
                        "notes": len(n), "beats": len(a["beats"]), "downbeats": len(a["downbeats"]),
                        "seconds": float(n[:, 1].max()) if len(n) else 0.0,
                        "time_signatures": a["time_signatures"], "keys": a["keys"]})
        if (i + 1) % 50 == 0 or i + 1 == len(sources):
            log(f"{i + 1}/{len(sources)} files read")
    arrays = {}
    for name, parts, width in (("notes", notes, 4), ("sustain", sustain, 2), ("beats", beats, None),
                               ("downbeats", downbeats, None)):
        arrays[name], arrays[name + "_offsets"] = concat(parts, width)
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, "asap.part.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, os.path.join(out, "asap.npz"))
    per = {s: sum(1 for e in entries if e["split"] == s and e["source"] == "performance")
           for s in ("train", "validation")}
    comps = {s: len({e["composition"] for e in entries if e["split"] == s}) for s in ("train", "validation")}
    manifest = {"data": os.path.abspath(data_dir), "metadata_sha1": sha1_file(os.path.join(data_dir, "metadata.csv")),
                "validation_share": share, "performances_per_split": per,
                "training_scores": sum(1 for e in entries if e["source"] == "score"), "compositions_per_split": comps,
                "notes": int(sum(e["notes"] for e in entries)), "features": FEATURE_NAMES, "performances": entries}
    with open(os.path.join(out, "manifest.part.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(os.path.join(out, "manifest.part.json"), os.path.join(out, "manifest.json"))
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out")
    ap.add_argument("--validation-share", type=float, default=0.15)
    ap.add_argument("--scores", action="store_true",
                    help="also train on the training compositions' written scores (their MIDI, one per score file)")
    ap.add_argument("--list-validation", metavar="CACHE",
                    help="only print the validation split's performance MIDI files (paths under the data folder, as "
                         "tests/score.rs's PIANOSCRIBE_ASAP_ONLY reads them), one per line")
    args = ap.parse_args(argv)
    if args.list_validation:
        with open(os.path.join(args.list_validation, "manifest.json")) as f:
            for e in json.load(f)["performances"]:
                if e["split"] == "validation":
                    print(e["midi"])
        return
    if not args.out:
        ap.error("--out is required")
    if os.path.basename(os.path.normpath(args.data)) == "asap-dev":
        raise SystemExit("error: asap-dev is the evaluation set; the model never trains or validates on it")
    m = prepare(args.data, args.out, args.validation_share, args.scores)
    print(f"{args.out}: {len(m['performances'])} MIDI files, {m['notes']} notes; train "
          f"{m['performances_per_split']['train']} performances of {m['compositions_per_split']['train']} "
          f"compositions, validation {m['performances_per_split']['validation']} of "
          f"{m['compositions_per_split']['validation']}"
          + (f"; {m['training_scores']} written scores of the training compositions" if args.scores else ""))


if __name__ == "__main__":
    main()
