"""Acoustic variety for synthetic training audio (../shared/docs/onsets-and-frames.md: synthetic audio transfers
poorly to real recordings without room, microphone, EQ and noise augmentation). Pure numpy; every function
takes the random generator it draws from, so an example is reproducible from its seed.

- gain: level in dB;
- noise: white or pink noise at a given signal-to-noise ratio;
- room: convolution with a synthetic room impulse response (a direct path, sparse early reflections and an
  exponentially decaying diffuse tail with the given RT60), mixed wet/dry;
- colour: a microphone / EQ colouring from random low-shelf, peaking and high-shelf biquads;
- varispeed: the recording played a little faster or slower (pitch and tempo together, as a tape or a
  detuned piano would); the labels follow through `stretch_notes` with the same factor. Within +-2 % the
  pitch moves by at most a third of a semitone, so every note stays on its key.
"""
import math

import numpy as np


def gain(audio, db):
    return audio * np.float32(10.0 ** (db / 20.0))


def power(x):
    return float(np.mean(np.square(x, dtype=np.float64)))


def noise(audio, snr_db, rng, colour="white"):
    """`audio` plus noise whose power is `snr_db` below the audio's."""
    n = rng.standard_normal(len(audio))
    if colour == "pink":  # 1/f power: shape white noise in the frequency domain
        spec = np.fft.rfft(n)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        n = np.fft.irfft(spec / np.sqrt(f), len(audio))
    p = power(audio)
    if p == 0.0:
        return audio.copy()
    n *= math.sqrt(p / (power(n) * 10.0 ** (snr_db / 10.0)))
    return (audio + n).astype(np.float32)


def room_impulse(sr, rt60, rng, early=8, length=None):
    """A synthetic room impulse response: 1 at t = 0, `early` reflections in the first 50 ms, and Gaussian noise
    decaying by 60 dB over `rt60` seconds, from 5 ms on."""
    length = length or int(sr * min(rt60 * 1.2, 3.0))
    t = np.arange(length) / sr
    tail = rng.standard_normal(length) * 10.0 ** (-3.0 * t / rt60)  # -60 dB at rt60
    tail[: int(0.005 * sr)] = 0.0
    h = 0.3 * tail / max(np.sqrt(np.sum(tail ** 2)), 1e-12)
    for _ in range(early):
        i = int(rng.uniform(0.002, 0.05) * sr)
        if i < length:
            h[i] += rng.uniform(-0.5, 0.5) * 10.0 ** (-3.0 * i / sr / rt60)
    h[0] = 1.0
    return h.astype(np.float32)


def room(audio, impulse, wet):
    """`audio` through the room, mixed `wet` (0..1) with the dry signal, at the dry signal's level."""
    n = len(audio) + len(impulse) - 1
    size = 1 << (n - 1).bit_length()
    out = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(impulse, size), size)[: len(audio)]
    mixed = (1.0 - wet) * audio + wet * out
    p = power(mixed)
    return (mixed * math.sqrt(power(audio) / p) if p > 0 else mixed).astype(np.float32)


def biquad(kind, f0, db, q, sr):
    """RBJ audio-EQ-cookbook coefficients (b, a), a[0] = 1."""
    a_gain = 10.0 ** (db / 40.0)
    w = 2.0 * math.pi * f0 / sr
    cos, alpha = math.cos(w), math.sin(w) / (2.0 * q)
    if kind == "peak":
        b = [1 + alpha * a_gain, -2 * cos, 1 - alpha * a_gain]
        a = [1 + alpha / a_gain, -2 * cos, 1 - alpha / a_gain]
    else:
        s = 2.0 * math.sqrt(a_gain) * alpha
        sign = 1.0 if kind == "low" else -1.0
        b = [a_gain * ((a_gain + 1) - sign * (a_gain - 1) * cos + s),
             sign * 2 * a_gain * ((a_gain - 1) - sign * (a_gain + 1) * cos),
             a_gain * ((a_gain + 1) - sign * (a_gain - 1) * cos - s)]
        a = [(a_gain + 1) + sign * (a_gain - 1) * cos + s,
             -sign * 2 * ((a_gain - 1) + sign * (a_gain + 1) * cos),
             (a_gain + 1) + sign * (a_gain - 1) * cos - s]
    return np.array(b) / a[0], np.array(a) / a[0]


def response_db(b, a, freqs, sr):
    z = np.exp(-1j * 2.0 * np.pi * np.asarray(freqs) / sr)
    return 20.0 * np.log10(np.abs((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)))


def filter_biquad(x, b, a):
    """Direct form I, in float64 (scipy's lfilter where it is installed: the same recursion, in C)."""
    try:
        from scipy.signal import lfilter
        return lfilter(b, a, x.astype(np.float64))
    except ImportError:
        pass
    y = np.zeros(len(x))
    x1 = x2 = y1 = y2 = 0.0
    for i, xi in enumerate(x.astype(np.float64)):
        yi = b[0] * xi + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
        x2, x1, y2, y1 = x1, xi, y1, yi
        y[i] = yi
    return y


def colour(audio, sr, rng, max_db=6.0):
    """A random microphone / EQ colouring: a low shelf, a peak and a high shelf of up to +-max_db each.
    Returns the coloured audio and the filters [(kind, f0, db)]."""
    filters = [("low", rng.uniform(80, 300), rng.uniform(-max_db, max_db)),
               ("peak", rng.uniform(300, 4000), rng.uniform(-max_db, max_db)),
               ("high", rng.uniform(3000, min(7000, 0.4 * sr)), rng.uniform(-max_db, max_db))]
    out = audio.astype(np.float64)
    for kind, f0, db in filters:
        b, a = biquad(kind, f0, db, 0.7, sr)
        out = filter_biquad(out, b, a)
    return out.astype(np.float32), filters


def varispeed(audio, factor, sr):
    """`audio` played `factor` times as fast: len(audio) / factor samples, every frequency times `factor`."""
    import soxr
    return soxr.resample(audio.astype(np.float32), sr * factor, sr, quality="HQ").astype(np.float32)


def stretch_notes(notes, sustain, tempo=1.0, transpose=0):
    """Notes and sustain intervals played `tempo` times as fast and `transpose` semitones higher (the labels
    are computed from what this returns, so they follow)."""
    notes = [(on / tempo, off / tempo, pitch + transpose, vel) for on, off, pitch, vel in notes]
    return notes, [(a / tempo, b / tempo) for a, b in sustain]
