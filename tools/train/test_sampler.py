"""The sampler (sampler.py) on samples made here: the sampled key and layer each note plays, its pitch after
resampling, and the release (the damper, and the sustain pedal holding it)."""
import os
import tempfile
import unittest

from tools.train.testing import requires

RATE = 16000


class Sampler(unittest.TestCase):
    def test_sampled_keys_names_and_layers(self):
        from tools.train import sampler as S
        self.assertEqual([S.sampled_key(p) for p in (21, 22, 23, 60, 61, 62, 108, 110)], [21, 21, 24, 60, 60, 63, 108, 108])
        self.assertEqual(S.sample_name(60, 8), "C4v8.ogg")
        self.assertEqual(S.sample_name(63, 1), "D#4v1.ogg")
        self.assertEqual(S.sample_name(21, 16), "A0v16.ogg")
        self.assertEqual([S.layer_of(v) for v in (1, 7, 8, 64, 127)], [1, 1, 2, 9, 16])

    def test_a_note_sounds_at_its_pitch_and_stops_when_released_unless_the_pedal_holds_it(self):
        requires(self, "numpy", "soundfile", "soxr", why="rendering")
        import numpy as np
        import soundfile as sf
        from tools.train import sampler as S
        with tempfile.TemporaryDirectory() as d:
            # Samples of C4 and D#4 in every layer: 3 s sines at their keys' frequencies, louder by layer, at
            # 48 kHz as the real ones are (the sampler resamples them to 16 kHz).
            t = np.arange(3 * 48000) / 48000
            for key in (60, 63):
                for layer in range(1, S.LAYERS + 1):
                    tone = 0.02 * layer * np.sin(2 * np.pi * 440 * 2 ** ((key - 69) / 12) * t)
                    sf.write(os.path.join(d, S.sample_name(key, layer)), tone.astype(np.float32), 48000,
                             format="OGG", subtype="VORBIS")
            piano = S.Piano(d, RATE)

            def peak_hz(audio):
                spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
                return np.argmax(spectrum) * RATE / len(audio)

            def rms(audio, a, b):
                return float(np.sqrt(np.mean(audio[int(a * RATE):int(b * RATE)] ** 2)))

            # C#4 (61) plays the C4 sample a semitone up: 277.2 Hz, within a bin (1 s: 1 Hz).
            a = piano.render([(0.5, 2.0, 61, 100)], [], 3.0)
            self.assertEqual(len(a), 3 * RATE)
            self.assertAlmostEqual(peak_hz(a[int(0.6 * RATE):int(1.6 * RATE)]), 277.18, delta=1.5)
            self.assertLess(rms(a, 0.0, 0.49), 1e-4)  # silence before the onset
            held = rms(a, 1.0, 1.9)
            self.assertGreater(held, 0.1)
            # Released at 2.0 s: the damper (about 0.1 s at this height) leaves almost nothing 0.5 s later.
            self.assertLess(rms(a, 2.5, 2.9), 0.01 * held)
            # The sustain pedal, down from 1.5 s to 2.8 s, holds it past its release.
            b = piano.render([(0.5, 2.0, 61, 100)], [(1.5, 2.8)], 3.0)
            self.assertGreater(rms(b, 2.5, 2.75), 0.5 * held)
            # Louder layers for louder notes: velocity 100 is layer 13, velocity 20 layer 3.
            c = piano.render([(0.5, 2.0, 61, 20)], [], 3.0)
            self.assertAlmostEqual(rms(c, 1.0, 1.9) / held, 3 / 13, delta=0.02)
            # D4 (62) is nearer D#4 than C4: a semitone down from it.
            d4 = piano.render([(0.0, 1.5, 62, 64)], [], 1.5)
            self.assertAlmostEqual(peak_hz(d4[: RATE]), 293.66, delta=1.5)
            # prepare.py's renderer `salamander` plays a MIDI file so (until a second after its last release).
            requires(self, "mido", why="rendering a MIDI file")
            import mido
            from tools.train import prepare
            midi = mido.MidiFile(ticks_per_beat=480)  # 120 bpm: 960 ticks a second
            midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=61, velocity=100, time=480),
                                               mido.Message("note_off", note=61, velocity=0, time=1440)]))
            midi.save(os.path.join(d, "one.mid"))
            rendered = prepare.render(os.path.join(d, "one.mid"), prepare.SAMPLER, samples=d)
            self.assertEqual(len(rendered), 3 * RATE)
            self.assertLess(float(np.abs(rendered - a).max()), 1e-6)
            with self.assertRaises(SystemExit):
                piano.render([(0.0, 1.0, 72, 64)], [], 1.0)  # no C5 here: says which file and how to fetch


if __name__ == "__main__":
    unittest.main()
