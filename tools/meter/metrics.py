"""The validation metric of the metrical model: beats decoded simply from per-note probabilities, scored with
mir_eval's beat F-measure (numpy only, so that the unit tests run it with Debian's python3).

- `decode`: the notes whose probability exceeds the threshold, in onset order, grouped while they start within
  `merge` s of their group's first note; each group is one event, at the onset of its most probable note.
- `f_measure`: mir_eval.beat.f_measure (and mir_eval's downbeat use of it): estimated and reference events
  matched one to one within `window` s (0.07), precision over the estimate, recall over the reference, F their
  harmonic mean; 0 when either is empty. Like src/metrics.rs's event_f_measure (what tests/score.rs reports),
  nothing is trimmed (mir_eval trims beats before 5 s by default). On a line a greedy scan finds a maximum
  matching: each reference event, in order, takes the earliest unmatched estimate within its window.
"""
import numpy as np


def decode(onsets, probs, threshold=0.5, merge=0.05):
    """Event times (sorted) from notes' onsets and their probabilities."""
    onsets = np.asarray(onsets, np.float64)
    probs = np.asarray(probs, np.float64)
    keep = np.flatnonzero(probs > threshold)
    keep = keep[np.argsort(onsets[keep], kind="stable")]
    out = []
    start, best = None, None
    for i in keep:
        if start is None or onsets[i] - start > merge:
            if best is not None:
                out.append(onsets[best])
            start, best = onsets[i], i
        elif probs[i] > probs[best]:
            best = i
    if best is not None:
        out.append(onsets[best])
    return np.array(out)


def matches(reference, estimate, window=0.07):
    """The size of a maximum one-to-one matching of events within `window` s."""
    ref = np.sort(np.asarray(reference, np.float64))
    est = np.sort(np.asarray(estimate, np.float64))
    i = j = count = 0
    while i < len(ref) and j < len(est):
        d = est[j] - ref[i]
        if abs(d) <= window:
            count += 1
            i += 1
            j += 1
        elif d < 0:
            j += 1  # this estimate is too early for this and every later reference event
        else:
            i += 1  # no estimate left is near this reference event
    return count


def f_measure(reference, estimate, window=0.07):
    """(precision, recall, F)."""
    if len(reference) == 0 or len(estimate) == 0:
        return 0.0, 0.0, 0.0
    m = matches(reference, estimate, window)
    p, r = m / len(estimate), m / len(reference)
    return p, r, (0.0 if m == 0 else 2 * p * r / (p + r))


def per_composition(values, compositions):
    """The mean over compositions of each composition's mean value: every composition counts alike, however many
    of its performances a set holds."""
    by = {}
    for v, c in zip(values, compositions):
        by.setdefault(c, []).append(v)
    return float(np.mean([np.mean(v) for v in by.values()])) if by else float("nan")
