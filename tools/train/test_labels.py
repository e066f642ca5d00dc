"""Labels on constructed notes and MIDI whose right matrices are known: python3 -m unittest discover -s tools -t ."""
import os
import tempfile
import unittest

from tools.train import labels as L

DT = 0.032


def keys(matrix, key):
    return [t for t in range(matrix.shape[0]) if matrix[t, key - L.LOWEST_KEY]]


class Labels(unittest.TestCase):
    def test_onset_offset_and_frame_spans(self):
        # C4 from 0.1 s to 0.5 s: onset [0.1, 0.132) meets frames 3 and 4 (spans [0.08, 0.112), [0.112, 0.144));
        # the note touches frames 3 to 16 (frame 16 is [0.496, 0.528)); the offset [0.5, 0.532) frames 16, 17.
        on, off, fr, vel = L.labels([(0.1, 0.5, 60, 80)], [], 40, DT)
        self.assertEqual(keys(on, 60), [3, 4])
        self.assertEqual(keys(off, 60), [16, 17])
        self.assertEqual(keys(fr, 60), list(range(3, 17)))
        self.assertEqual(keys(vel, 60), [3, 4])
        self.assertEqual(on.sum(), 2)

    def test_aligned_onset_is_one_frame(self):
        on, _, _, _ = L.labels([(2.5 * DT, 10 * DT, 60, 80)], [], 40, DT)
        self.assertEqual(keys(on, 60), [3])

    def test_velocity_is_relative_to_the_loudest_note(self):
        _, _, _, vel = L.labels([(0.1, 0.3, 60, 50), (0.5, 0.7, 62, 100)], [], 40, DT)
        self.assertAlmostEqual(float(vel[3, 60 - 21]), 0.5)
        self.assertAlmostEqual(float(vel[16, 62 - 21]), 1.0)

    def test_sustain_extends_until_release_or_restrike(self):
        notes = [(0.5, 1.5, 60, 64), (2.0, 2.5, 60, 64), (0.2, 0.8, 62, 64), (3.0, 4.0, 64, 64)]
        ext = L.extend_with_sustain(notes, [(1.0, 5.0)])
        self.assertEqual([n[1] for n in ext], [2.0, 5.0, 0.8, 5.0])
        _, off, fr, _ = L.labels([(0.1, 0.3, 60, 80)], [(0.2, 0.6)], 40, DT)
        self.assertEqual(keys(fr, 60)[-1], 19)  # 0.6 s: frame 19 is [0.592, 0.624)
        self.assertEqual(keys(off, 60), [19, 20])

    def test_keys_outside_the_piano_are_left_out(self):
        on, _, _, _ = L.labels([(0.1, 0.2, 20, 80), (0.1, 0.2, 109, 80)], [], 10, DT)
        self.assertEqual(on.sum(), 0)

    def test_read_midi_follows_tempo_and_pedal(self):
        try:
            import mido
        except ImportError:
            self.skipTest("mido is not installed")
        mid = mido.MidiFile(ticks_per_beat=480)
        tr = mido.MidiTrack()
        mid.tracks.append(tr)
        tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))  # 120 bpm: a beat is 0.5 s
        tr.append(mido.Message("note_on", note=60, velocity=90, time=480))  # 0.5 s
        tr.append(mido.Message("control_change", control=64, value=127, time=240))  # 0.75 s
        tr.append(mido.MetaMessage("set_tempo", tempo=1000000, time=0))  # 60 bpm from here
        tr.append(mido.Message("note_off", note=60, velocity=0, time=480))  # 1.75 s
        tr.append(mido.Message("note_on", note=60, velocity=40, time=480))  # 2.75 s: struck again
        tr.append(mido.Message("control_change", control=64, value=0, time=480))  # 3.75 s
        tr.append(mido.Message("note_on", note=60, velocity=0, time=240))  # 4.25 s
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.mid")
            mid.save(path)
            notes, sustain = L.read_midi(path)
        self.assertEqual([(round(a, 6), round(b, 6), p, v) for a, b, p, v in notes],
                         [(0.5, 1.75, 60, 90), (2.75, 4.25, 60, 40)])
        self.assertEqual([(round(a, 6), round(b, 6)) for a, b in sustain], [(0.75, 3.75)])
        ext = L.extend_with_sustain(notes, sustain)
        self.assertEqual(round(ext[0][1], 6), 2.75)  # held by the pedal until the key is struck again


if __name__ == "__main__":
    unittest.main()
