"""Reference inference for an Onsets & Frames network: windows with overlap, stitched probabilities and
onset-gated decoding, exactly as the engine does them (src/pipeline.rs, src/decode/onset_gated.rs), so that
parity tests can compare the two. Also used by tools/train for validation.

Windows: the recording gets `lead_in` frames of zeros in front; window k starts at sample k * step (step a
whole number of frames) of that padded signal and is `segment` samples long (zero-padded at the end). Of its
frames, the `step` frames after the first `lead_in` are kept: the BiLSTMs see `lead_in` frames of context
before every kept frame and at least as many after it.
"""
import math

import numpy as np
import torch


def window_geometry(header):
    """(segment samples, step frames, lead-in frames, frames per window) from a bundle header."""
    sr, hop = header["sample_rate"], header["hop"]
    segment = math.ceil(header["segment_seconds"] * sr)
    step = math.ceil(header["segment_hop_seconds"] * sr / hop)
    lead_in = (segment // hop - step) // 2
    return segment, step, lead_in, header["frames_per_segment"]


def probabilities(net, frontend, audio, header):
    """Stitched outputs of `net` (mel [1, T, n_mels] -> onset, offset, frame, velocity, each [1, T, 88]) over
    mono `audio` at the bundle's rate: four arrays [frames, 88], frames = 1 + len(audio) // hop."""
    segment, step, lead_in, _ = window_geometry(header)
    hop = header["hop"]
    total = 1 + len(audio) // hop
    padded = np.concatenate([np.zeros(lead_in * hop, np.float32), audio.astype(np.float32),
                             np.zeros(segment, np.float32)])
    kept = [[] for _ in range(4)]
    windows = math.ceil((len(audio) + lead_in * hop) / (step * hop))
    with torch.no_grad():
        for k in range(windows):
            x = torch.from_numpy(padded[k * step * hop:][:segment]).unsqueeze(0)
            outs = net(frontend(x))
            for lst, o in zip(kept, outs):
                lst.append(o[0, lead_in:lead_in + step].numpy())
    return [np.concatenate(k)[:total] for k in kept]


def decode(onset, frame, velocity, header):
    """Notes (onset s, offset s, MIDI pitch, MIDI velocity) from stitched probabilities: a note starts where the
    onset probability passes the key's onset threshold (and no note of that key sounds, or the onset is new:
    the previous frame's did not pass), and sounds while the frame probability or the onset probability passes
    its threshold. Velocity: the velocity head at the start frame, clipped to [0, 1], as scale * v + offset."""
    th_on = np.array(header["thresholds"]["onset"], np.float32)
    th_fr = np.array(header["thresholds"]["frame"], np.float32)
    lowest = header["keys"]["lowest"]
    vs, vo = header["velocity"]["scale"], header["velocity"]["offset"]
    seconds = header["hop"] / header["sample_rate"]
    on, fr = onset > th_on, frame > th_fr
    notes = []
    for key in range(on.shape[1]):
        start, prev_on = None, False
        for t in range(on.shape[0] + 1):
            o = t < on.shape[0] and on[t, key]
            f = t < on.shape[0] and fr[t, key]
            if start is not None and ((o and not prev_on) or not (o or f)):
                notes.append((start * seconds, t * seconds, lowest + key, vel))
                start = None
            if start is None and o:
                start = t
                v = np.float32(vs) * np.clip(velocity[t, key], np.float32(0), np.float32(1)) + np.float32(vo)
                vel = int(np.floor(v + np.float32(0.5)))  # half away from zero, as Rust's round
            prev_on = o
    notes.sort(key=lambda n: (n[0], n[1], n[2]))
    return notes
