"""Augmentations do what they claim: python3 -m unittest discover -s tools -t . -p 'test_*.py'"""
import math
import unittest

import numpy as np

from tools.train import augment as A
from tools.train.testing import missing

SR = 16000


def tone(seconds=2.0, f=440.0):
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


class Augment(unittest.TestCase):
    def test_gain(self):
        x = tone()
        self.assertAlmostEqual(10 * math.log10(A.power(A.gain(x, -6.0)) / A.power(x)), -6.0, places=4)

    def test_noise_has_the_asked_snr(self):
        x = tone()
        for colour in ("white", "pink"):
            for snr in (0.0, 20.0, 40.0):
                y = A.noise(x, snr, np.random.default_rng(1), colour)
                got = 10 * math.log10(A.power(x) / A.power(y - x))
                self.assertAlmostEqual(got, snr, delta=0.01, msg=colour)
        silent = np.zeros(100, np.float32)
        self.assertTrue(np.array_equal(A.noise(silent, 10.0, np.random.default_rng(1)), silent))

    def test_room_decays_by_60_db_at_rt60(self):
        h = A.room_impulse(SR, 0.5, np.random.default_rng(2))
        self.assertEqual(h[0], 1.0)
        energy = np.square(h[int(0.06 * SR):].astype(np.float64))
        # Energy in 50 ms windows a whole RT60 apart: 60 dB less, within 5 dB (it is noise).
        w = int(0.05 * SR)
        first = energy[:w].sum()
        later = energy[int(0.5 * SR):int(0.5 * SR) + w].sum()
        self.assertAlmostEqual(10 * math.log10(first / later), 60.0, delta=5.0)

    def test_room_keeps_length_and_level(self):
        x = tone(0.5)
        y = A.room(x, A.room_impulse(SR, 0.8, np.random.default_rng(3)), 0.5)
        self.assertEqual(len(y), len(x))
        self.assertAlmostEqual(A.power(y), A.power(x), places=6)
        self.assertGreater(np.abs(y - x).max(), 0.01)

    def test_colour_filters_have_their_gain(self):
        for kind, f0, db, probe in (("low", 200, 6.0, 20.0), ("high", 4000, -6.0, 7900.0), ("peak", 1000, 4.0, 1000.0)):
            b, a = A.biquad(kind, f0, db, 0.7, SR)
            self.assertAlmostEqual(float(A.response_db(b, a, [probe], SR)[0]), db, delta=0.3, msg=kind)
        y, filters = A.colour(tone(0.2), SR, np.random.default_rng(4))
        self.assertEqual(len(filters), 3)
        self.assertTrue(np.all(np.isfinite(y)))
        # A 440 Hz tone through the filters changes level by what their responses say there.
        expect = sum(float(A.response_db(*A.biquad(k, f, d, 0.7, SR), [440.0], SR)[0]) for k, f, d in filters)
        x = tone(0.2)
        got = 10 * math.log10(A.power(y[SR // 20:]) / A.power(x[SR // 20:]))
        self.assertAlmostEqual(got, expect, delta=0.2)

    def test_varispeed_moves_pitch_and_length_together(self):
        try:
            import soxr  # noqa: F401 (the training venv has it; Debian's python3 may not)
        except ImportError:
            missing(self, "soxr is not installed")
        x = tone(2.0)
        y = A.varispeed(x, 1.02, SR)
        self.assertAlmostEqual(len(y), len(x) / 1.02, delta=2)
        spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
        peak = np.argmax(spectrum) * SR / len(y)
        self.assertAlmostEqual(peak, 440.0 * 1.02, delta=SR / len(y))

    def test_stretch_notes(self):
        notes, sustain = A.stretch_notes([(1.0, 2.0, 60, 80)], [(0.5, 3.0)], tempo=2.0, transpose=-3)
        self.assertEqual(notes, [(0.5, 1.0, 57, 80)])
        self.assertEqual(sustain, [(0.25, 1.5)])


if __name__ == "__main__":
    unittest.main()
