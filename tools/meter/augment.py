"""Augmentation of a window of performed notes for the metrical model (numpy only): what the score stage meets
beyond clean performance MIDI.

- tempo: every time (notes, pedal, beats) divided by a factor drawn log-uniformly from 0.8 to 1.25;
- (with `warp` > 0) rubato: the tempo of the window made to drift and sway (`warp`: a smooth random tempo curve
  of up to that depth in log, notes, pedal and beats moved alike, so that a note on a beat stays on it);
- transposition by -6..+6 semitones (notes pushed off the keyboard move an octave back);
- velocity: a loudness scale for the window and a jitter per note;
- the errors of a transcription (`errors`, most windows): onset jitter (a standard deviation of up to 20 ms for
  the window), note lengths off by a factor, soft notes missed (a few %, the softer the likelier), short extra
  notes (ghosts: an octave, a twelfth or a fifth above a played note at its onset, or anywhere), long notes split
  in two (a second onset while the key is held), repeated notes merged into one, the sustain pedal lost.

`window(...)` applies them all with one random generator; each function alone is deterministic given its rng.
"""
import numpy as np

LOWEST, HIGHEST = 21, 108


def tempo(notes, sustain, beats, downbeats, factor):
    """Played `factor` times faster (times divided by factor)."""
    return notes * np.array([1 / factor, 1 / factor, 1, 1]), sustain / factor, beats / factor, downbeats / factor


def warp(notes, sustain, beats, downbeats, rng, depth):
    """Every time t mapped to the integral up to t of a tempo curve exp(r(s)): r a sum of three sinusoids of
    random periods (2 to 20 s) and phases, scaled to a peak of `depth` (log tempo). Monotonic, so order and
    coincidences are kept."""
    times = [notes[:, 0], notes[:, 1], sustain.ravel(), beats, downbeats]
    everything = np.concatenate(times)
    if len(everything) == 0 or depth <= 0:
        return notes, sustain, beats, downbeats
    lo, hi = everything.min() - 1.0, everything.max() + 1.0
    grid = np.linspace(lo, hi, max(int((hi - lo) * 50), 2))  # 20 ms steps
    periods = rng.uniform(2.0, 20.0, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    r = sum(np.sin(2 * np.pi * (grid - lo) / p + f) for p, f in zip(periods, phases))
    r = depth * r / max(np.abs(r).max(), 1e-9)
    # Seconds played per second written: the trapezoid integral, starting at lo so that times stay near their own.
    rate = np.exp(r)
    mapped = lo + np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(grid))])
    move = lambda t: np.interp(t, grid, mapped)
    out = notes.copy()
    out[:, 0], out[:, 1] = move(notes[:, 0]), move(notes[:, 1])
    return out, move(sustain.ravel()).reshape(sustain.shape), move(beats), move(downbeats)


def transpose(notes, semitones):
    out = notes.copy()
    p = out[:, 2] + semitones
    p = np.where(p < LOWEST, p + 12, p)
    p = np.where(p > HIGHEST, p - 12, p)
    out[:, 2] = p
    return out


def velocity(notes, rng, spread=0.2, jitter=6.0):
    out = notes.copy()
    v = out[:, 3] * np.exp(rng.normal(0, spread)) + rng.normal(0, jitter, len(out))
    out[:, 3] = np.clip(np.round(v), 1, 127)
    return out


def jitter(notes, rng, sd):
    """Onsets moved by N(0, sd) and releases by the same plus N(0, sd); lengths also scaled by a factor per note
    (releases are what a transcription gets least right); every note keeps at least 10 ms."""
    out = notes.copy()
    shift = rng.normal(0, sd, len(out))
    length = (out[:, 1] - out[:, 0]) * np.exp(rng.normal(0, 0.2, len(out))) + rng.normal(0, sd, len(out))
    out[:, 0] = out[:, 0] + shift
    out[:, 1] = out[:, 0] + np.maximum(length, 0.01)
    return out


def drop_soft(notes, rng, share):
    """About `share` of the notes dropped, each with a probability growing with (1 - velocity / 127)^2."""
    if len(notes) == 0 or share <= 0:
        return notes
    w = (1 - notes[:, 3] / 127.0) ** 2 + 1e-6
    p = np.minimum(1.0, share * len(notes) * w / w.sum())
    return notes[rng.random(len(notes)) >= p]


def extra_notes(notes, rng, share):
    """About `share` x N short soft notes added: half over a played note (an octave, a twelfth or a fifth above,
    within 15 ms of its onset), half at a random time and pitch near the window's notes."""
    k = rng.poisson(share * len(notes)) if len(notes) else 0
    if k == 0:
        return notes
    extra = np.zeros((k, 4))
    base = notes[rng.integers(0, len(notes), k)]
    ghost = rng.random(k) < 0.5
    lo, hi = notes[:, 0].min(), notes[:, 0].max()
    extra[:, 0] = np.where(ghost, base[:, 0] + rng.normal(0, 0.015, k), rng.uniform(lo, hi, k))
    extra[:, 2] = np.where(ghost, base[:, 2] + rng.choice([12, 19, 7], k), base[:, 2] + rng.integers(-7, 8, k))
    extra[:, 2] = np.clip(extra[:, 2], LOWEST, HIGHEST)
    extra[:, 1] = extra[:, 0] + rng.uniform(0.03, 0.15, k)
    extra[:, 3] = rng.integers(10, 50, k)
    return np.concatenate([notes, extra])


def split_notes(notes, rng, share):
    """About `share` of the notes longer than 200 ms cut in two: a second, softer onset 30 to 70 % of the way."""
    long = np.flatnonzero(notes[:, 1] - notes[:, 0] > 0.2)
    pick = long[rng.random(len(long)) < share * len(notes) / max(len(long), 1)]
    if len(pick) == 0:
        return notes
    out = notes.copy()
    at = out[pick, 0] + rng.uniform(0.3, 0.7, len(pick)) * (out[pick, 1] - out[pick, 0])
    second = out[pick].copy()
    second[:, 0] = at
    second[:, 3] = np.maximum(1, np.round(second[:, 3] * rng.uniform(0.3, 0.8, len(pick))))
    out[pick, 1] = at
    return np.concatenate([out, second])


def merge_notes(notes, rng, share):
    """About `share` of the notes that the same key plays again within 300 ms of their release merged with that
    next note (its onset lost, the first note held to its release)."""
    if len(notes) < 2:
        return notes
    order = np.lexsort((notes[:, 0], notes[:, 2]))
    s = notes[order]
    same = (s[1:, 2] == s[:-1, 2]) & (s[1:, 0] - s[:-1, 1] < 0.3)
    cand = np.flatnonzero(same)
    pick = cand[rng.random(len(cand)) < share * len(notes) / max(len(cand), 1)]
    if len(pick) == 0:
        return notes
    keep = np.ones(len(s), bool)
    s = s.copy()
    for i in pick[::-1]:  # from the end, so that chains of merges carry the last release back
        if keep[i + 1]:
            s[i, 1] = max(s[i, 1], s[i + 1, 1])
            keep[i + 1] = False
    return s[keep]


def sort(notes):
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))]


def window(notes, sustain, beats, downbeats, rng, errors=0.8, tempo_range=(0.8, 1.25), semitones=6, rubato=0.0):
    """One augmented window: (notes sorted, sustain, beats, downbeats). `errors`: the share of windows given
    a transcription's errors; `rubato` > 0: every window's tempo warped (`warp`) to a depth drawn uniformly up
    to it (0 draws nothing, so that runs without it see the windows they saw before it existed)."""
    factor = float(np.exp(rng.uniform(np.log(tempo_range[0]), np.log(tempo_range[1]))))
    notes, sustain, beats, downbeats = tempo(notes, sustain, beats, downbeats, factor)
    if rubato > 0:
        notes, sustain, beats, downbeats = warp(notes, sustain, beats, downbeats, rng, rng.uniform(0.0, rubato))
    notes = transpose(notes, int(rng.integers(-semitones, semitones + 1)))
    notes = velocity(notes, rng)
    if rng.random() < errors:
        notes = jitter(notes, rng, rng.uniform(0.0, 0.02))
        notes = drop_soft(notes, rng, rng.uniform(0.0, 0.05))
        notes = extra_notes(notes, rng, rng.uniform(0.0, 0.03))
        notes = split_notes(notes, rng, rng.uniform(0.0, 0.02))
        notes = merge_notes(notes, rng, rng.uniform(0.0, 0.02))
        if rng.random() < 0.15:
            sustain = sustain[:0]
    return sort(notes), sustain, beats, downbeats
