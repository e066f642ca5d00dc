"""Training labels from performance MIDI, as ../shared/docs/onsets-and-frames.md specifies them, on the engine's
frame grid (tools/oaf/frontend.py: frame t is centred on t * hop / sample_rate seconds, so it covers
[(t - 1/2) dt, (t + 1/2) dt) with dt = hop / sample_rate = 32 ms).

- Sustain first: a note released while the sustain pedal (CC64 >= 64) is down sounds until the pedal lifts
  or the same key is struck again, whichever comes first.
- onset: the frames that contain any of the first 32 ms of a note (two frames, one when aligned);
- offset: the frames that contain any of the 32 ms after its (extended) end;
- frame: every frame the (extended) note touches;
- velocity: the note's MIDI velocity over the piece's loudest, at its onset frames (0 elsewhere: the loss is
  masked to onsets).
"""
import math

import numpy as np

KEYS = 88
LOWEST_KEY = 21
LABEL_SECONDS = 0.032  # the spec's 32 ms for onsets and offsets


def read_midi(path):
    """(notes, sustain) of a MIDI file: notes as (onset s, offset s, pitch, velocity), sustain as (down s, up s).
    Tempo changes are followed; a key struck again before its release ends the earlier note there."""
    import mido
    notes, sustain = [], []
    sounding, pedal_down, t = {}, None, 0.0
    for msg in mido.MidiFile(path):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            if msg.note in sounding:
                start, vel = sounding.pop(msg.note)
                notes.append((start, t, msg.note, vel))
            sounding[msg.note] = (t, msg.velocity)
        elif msg.type in ("note_off", "note_on"):
            if msg.note in sounding:
                start, vel = sounding.pop(msg.note)
                notes.append((start, t, msg.note, vel))
        elif msg.type == "control_change" and msg.control == 64:
            if msg.value >= 64 and pedal_down is None:
                pedal_down = t
            elif msg.value < 64 and pedal_down is not None:
                sustain.append((pedal_down, t))
                pedal_down = None
    for pitch, (start, vel) in sounding.items():
        notes.append((start, t, pitch, vel))
    if pedal_down is not None:
        sustain.append((pedal_down, t))
    notes.sort()
    return notes, sustain


def read_notes(path):
    """(notes, sustain) of a label file: MIDI (read_midi), or a note table (`.tsv`: onset, offset, pitch,
    velocity per line, `#` comments; MAPS's, as github:jongwook/onsets-and-frames has them), which holds no pedal:
    its offsets are where the notes end."""
    if not path.endswith(".tsv"):
        return read_midi(path)
    from tools.notes_to_midi import read_table
    return read_table(path), []


def extend_with_sustain(notes, sustain):
    """The spec's sustain rule (the engine's notes::extend_with_sustain does the same)."""
    next_onset = {}
    order = sorted(range(len(notes)), key=lambda i: (notes[i][2], notes[i][0]))
    for a, b in zip(order, order[1:]):
        if notes[a][2] == notes[b][2]:
            next_onset[a] = notes[b][0]
    out = []
    for i, (on, off, pitch, vel) in enumerate(notes):
        for down, up in sustain:
            if down <= off < up:
                off = max(off, min(up, next_onset.get(i, math.inf)))
                break
        out.append((on, off, pitch, vel))
    return out


def frames_touching(start, end, dt, n_frames):
    """Frames t whose span [(t - 1/2) dt, (t + 1/2) dt) meets [start, end)."""
    first = math.floor(start / dt - 0.5) + 1
    last = math.ceil(end / dt + 0.5) - 1
    return range(max(first, 0), min(last, n_frames - 1) + 1)


def labels(notes, sustain, n_frames, dt):
    """onset, offset, frame (0/1) and velocity (0..1) matrices, [n_frames, 88] float32 each."""
    onset = np.zeros((n_frames, KEYS), np.float32)
    offset = np.zeros_like(onset)
    frame = np.zeros_like(onset)
    velocity = np.zeros_like(onset)
    notes = [n for n in extend_with_sustain(notes, sustain) if LOWEST_KEY <= n[2] < LOWEST_KEY + KEYS]
    loudest = max((n[3] for n in notes), default=1) or 1
    for on, off, pitch, vel in notes:
        k = pitch - LOWEST_KEY
        for t in frames_touching(on, max(off, on + 1e-9), dt, n_frames):
            frame[t, k] = 1
        for t in frames_touching(on, on + LABEL_SECONDS, dt, n_frames):
            onset[t, k] = 1
            velocity[t, k] = vel / loudest
        for t in frames_touching(off, off + LABEL_SECONDS, dt, n_frames):
            offset[t, k] = 1
    return onset, offset, frame, velocity
