"""The metrical model's data, targets, split and metric on constructed examples whose answers are known (numpy and
mido only): /usr/bin/python3 -m unittest discover -s tools -t . -p 'test_*.py'"""
import os
import tempfile
import unittest

import numpy as np

from tools.meter import augment, data, metrics

ANNOTATIONS = """0.500000\t0.500000\tb,,-1
0.862500\t0.862500\tdb,3/8
1.213542\t1.213542\tb
1.522917\t1.522917\tbR

1.853125\t1.853125\tdb,4/4,2
2.183333\t2.183333\tb
"""


class Annotations(unittest.TestCase):
    def test_beats_downbeats_and_signatures(self):
        a = data.parse_annotations(ANNOTATIONS)
        np.testing.assert_allclose(a["beats"], [0.5, 0.8625, 1.213542, 1.522917, 1.853125, 2.183333])
        np.testing.assert_allclose(a["downbeats"], [0.8625, 1.853125])
        self.assertEqual(a["time_signatures"], [(0.8625, "3/8"), (1.853125, "4/4")])
        self.assertEqual(a["keys"], [(0.5, -1), (1.853125, 2)])

    def test_unknown_type_is_an_error(self):
        with self.assertRaises(ValueError):
            data.parse_annotations("1.0\t1.0\tx\n")


class Targets(unittest.TestCase):
    def test_notes_on_beats(self):
        # Beats at 1, 2, 3, 4 s (downbeats 1 and 3). Notes: a chord 1.00/1.03 (both within 50 ms), 1.5 (off),
        # 1.94 (60 ms early: not within 50 ms, but the note nearest beat 2 and within 70 ms), 2.065 (65 ms late:
        # not within 50 ms, and 1.94 is nearer beat 2), 3.1 (off: nothing within 70 ms of beat 3),
        # 4.02 and 4.049 (within 50 ms), 9.0 (after the annotated span plus one interval: masked).
        onsets = np.array([1.0, 1.03, 1.5, 1.94, 2.065, 3.1, 4.02, 4.049, 9.0])
        beat, down, ibi, mask = data.targets(onsets, [1.0, 2.0, 3.0, 4.0], [1.0, 3.0])
        np.testing.assert_array_equal(beat, [1, 1, 0, 1, 0, 0, 1, 1, 0])
        np.testing.assert_array_equal(down, [1, 1, 0, 0, 0, 0, 0, 0, 0])
        np.testing.assert_array_equal(mask, [1, 1, 1, 1, 1, 1, 1, 1, 0])
        np.testing.assert_allclose(ibi[:8], np.log(1.0), atol=1e-6)

    def test_local_interval(self):
        # The beat interval around each onset: 0.5 s before 2 s, 1 s after.
        _, _, ibi, mask = data.targets(np.array([0.9, 1.2, 1.7, 2.5, 3.2]), [1.0, 1.5, 2.0, 3.0], [1.0])
        np.testing.assert_allclose(np.exp(ibi), [0.5, 0.5, 0.5, 1.0, 1.0], rtol=1e-5)
        np.testing.assert_array_equal(mask, [1, 1, 1, 1, 1])

    def test_period_bins(self):
        # 8 bins a doubling from 150 ms; the edges take what lies beyond.
        np.testing.assert_array_equal(data.period_bin([0.15, 0.3, 0.6, 0.1, 100.0], 32), [0, 8, 16, 0, 31])
        np.testing.assert_allclose(data.bin_seconds(32)[[0, 8, 31]], [0.15, 0.3, 0.15 * 2 ** (31 / 8)])
        self.assertEqual(data.period_bin(0.15 * 2 ** (3.4 / 8), 32), 3)

    def test_bar_lengths(self):
        # Bars of 4, 3 and 5 beats (a downbeat a hair off its beat), notes before, in and after them.
        beats = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]
        downbeats = [1.0, 5.0005, 8.0, 13.0]
        onsets = np.array([0.5, 1.0, 4.9, 5.0, 7.99, 8.0, 11.5, 12.0, 13.5])
        self.assertEqual(list(data.bar_lengths(onsets, beats, downbeats)), [-1, 2, 2, 1, 1, -1, -1, -1, -1])
        self.assertEqual(list(data.bar_lengths(onsets, beats, [1.0])), [-1] * 9)

    def test_no_notes_or_no_beats(self):
        beat, down, ibi, mask = data.targets(np.array([]), [1.0, 2.0], [1.0])
        self.assertEqual(len(beat), 0)
        beat, _, _, mask = data.targets(np.array([1.0]), [], [])
        np.testing.assert_array_equal(beat, [0])
        np.testing.assert_array_equal(mask, [0])


def rows(spec):
    return [{"composer": c, "title": t, "folder": f, "midi_performance": f"{f}/{p}.mid"} for c, t, f, p in spec]


class Split(unittest.TestCase):
    def test_no_composition_on_both_sides(self):
        spec = []
        for k in range(40):
            title = f"Sonata_{k}"
            for j in range(1 + k % 5):
                # A piece's `_no_repeat` folder is the same composition as the piece.
                folder = f"C{k % 3}/{title}" + ("_no_repeat" if j == 2 else "")
                spec.append((f"C{k % 3}", title, folder, f"P{j}"))
        split = data.split_compositions(rows(spec), 0.15)
        by = {}
        for r in rows(spec):
            by.setdefault(data.composition(r), set()).add(split[data.composition(r)])
        self.assertTrue(all(len(s) == 1 for s in by.values()))
        held = sum(1 for r in rows(spec) if split[data.composition(r)] == "validation")
        self.assertGreaterEqual(held, 0.15 * len(spec))
        self.assertLess(held, 0.15 * len(spec) + 5)  # at most one composition (<= 5 performances) past the share
        self.assertIn("train", split.values())

    def test_asap_trains_validation_split_is_the_fixture(self):
        # tests/score.rs fits the rules' weights on the other performances: the two must agree on which is which.
        root = os.path.join(os.path.dirname(__file__), "..", "..")
        asap = os.path.join(root, "..", "shared", "data", "asap-train")
        if not os.path.exists(os.path.join(asap, "metadata.csv")):
            self.skipTest("../shared/data/asap-train is not beside the repository")
        rows_ = data.read_metadata(asap)
        split = data.split_compositions(rows_)
        listed = [r["midi_performance"] for r in rows_ if split[data.composition(r)] == "validation"]
        with open(os.path.join(root, "tests", "fixtures", "meter-validation.txt")) as f:
            self.assertEqual(listed, f.read().split())

    def test_written_scores_only_of_training_compositions(self):
        spec = [(f"C{k % 3}", f"T{k}", f"C{k % 3}/T{k}", f"P{j}") for k in range(20) for j in range(1 + k % 4)]
        rows_ = rows(spec)
        for r in rows_:
            r["midi_score"] = r["folder"] + "/midi_score.mid"
        split = data.split_compositions(rows_, 0.2)
        chosen = data.score_rows(rows_, split)
        files = [r["midi_score"] for r in chosen]
        self.assertEqual(len(files), len(set(files)))  # one per score file, not per performance
        train = {r["midi_score"] for r in rows_ if split[data.composition(r)] == "train"}
        self.assertEqual(set(files), train)
        self.assertIn("validation", split.values())

    def test_deterministic_and_independent_of_order(self):
        spec = [(f"C{k % 4}", f"T{k}", f"C{k % 4}/T{k}", f"P{j}") for k in range(30) for j in range(3)]
        a = data.split_compositions(rows(spec), 0.2)
        b = data.split_compositions(rows(spec[::-1]), 0.2)
        self.assertEqual(a, b)


class Metric(unittest.TestCase):
    def test_mir_eval_example(self):
        # mir_eval.beat.f_measure([1, 2, 3, 4], [1.05, 1.06, 2.2, 3.0, 5.0]): 2 matches, P 0.4, R 0.5
        # (the same case as src/metrics.rs's test).
        p, r, f = metrics.f_measure([1.0, 2.0, 3.0, 4.0], [1.05, 1.06, 2.2, 3.0, 5.0])
        self.assertAlmostEqual(p, 0.4)
        self.assertAlmostEqual(r, 0.5)
        self.assertAlmostEqual(f, 2 * 0.4 * 0.5 / 0.9)

    def test_empty_and_perfect(self):
        self.assertEqual(metrics.f_measure([], [1.0]), (0.0, 0.0, 0.0))
        self.assertEqual(metrics.f_measure([1.0], []), (0.0, 0.0, 0.0))
        self.assertEqual(metrics.f_measure([1.0, 2.0], [1.0, 2.0])[2], 1.0)
        self.assertEqual(metrics.f_measure([1.0], [1.5])[2], 0.0)

    def test_greedy_is_a_maximum_matching(self):
        # Against a plain augmenting-path matching on random events, crowded so that windows overlap.
        def maximum(ref, est, window):
            match = {}

            def augment_from(e, seen):
                for r in range(len(ref)):
                    if abs(ref[r] - est[e]) <= window and r not in seen:
                        seen.add(r)
                        if r not in match or augment_from(match[r], seen):
                            match[r] = e
                            return True
                return False
            return sum(augment_from(e, set()) for e in range(len(est)))

        rng = np.random.default_rng(7)
        for _ in range(200):
            ref = np.sort(rng.uniform(0, 1, rng.integers(1, 12)))
            est = np.sort(rng.uniform(0, 1, rng.integers(1, 12)))
            self.assertEqual(metrics.matches(ref, est, 0.07), maximum(ref, est, 0.07))

    def test_per_composition_mean(self):
        # Three performances of "a" (F 0.9 each) and one of "b" (0.1): 0.7 per performance, 0.5 per composition.
        self.assertAlmostEqual(metrics.per_composition([0.9, 0.9, 0.9, 0.1], ["a", "a", "a", "b"]), 0.5)
        self.assertTrue(np.isnan(metrics.per_composition([], [])))

    def test_decode_merges_chords(self):
        # Notes over 0.5 at 1.00, 1.02, 1.04 (one chord: the most probable, 1.02, stands for it), 1.2 below the
        # threshold, 2.0 and 2.06 (more than 50 ms apart: two events).
        onsets = [1.0, 1.02, 1.04, 1.2, 2.0, 2.06]
        probs = [0.6, 0.9, 0.7, 0.4, 0.8, 0.55]
        np.testing.assert_allclose(metrics.decode(onsets, probs), [1.02, 2.0, 2.06])
        self.assertEqual(len(metrics.decode([1.0], [0.2])), 0)

    def test_targets_decode_to_the_beats(self):
        # Notes on beats 0.5 s apart with fills between: the targets decode back to the annotated beats.
        beats = np.arange(1, 11) * 0.5
        onsets = np.sort(np.concatenate([beats, beats + 0.01, beats[:-1] + 0.25]))
        beat, down, _, _ = data.targets(onsets, beats, beats[::4])
        self.assertEqual(metrics.f_measure(beats, metrics.decode(onsets, beat))[2], 1.0)
        self.assertEqual(metrics.f_measure(beats[::4], metrics.decode(onsets, down))[2], 1.0)


class Inputs(unittest.TestCase):
    def test_features_of_a_chord_and_the_pedal(self):
        notes = np.array([[1.0, 1.5, 48, 64], [1.02, 1.4, 64, 100], [1.5, 2.0, 60, 50]])
        x = data.features(notes, np.array([[0.9, 1.3]]))
        self.assertEqual(x.shape, (3, data.FEATURES))
        col = {n: k for k, n in enumerate(data.FEATURE_NAMES)}
        np.testing.assert_allclose(x[:, col["log_ioi_prev"]], np.log([1.0 + 0.01, 0.02 + 0.01, 0.48 + 0.01]),
                                   rtol=1e-5)
        np.testing.assert_allclose(x[:, col["log_chord_ioi_prev"]], np.log([1.01, 1.01, 0.51]), rtol=1e-5)
        np.testing.assert_array_equal(x[:, col["chord_lowest"]], [1, 0, 1])
        np.testing.assert_array_equal(x[:, col["chord_highest"]], [0, 1, 1])
        np.testing.assert_allclose(np.exp(x[:, col["log_chord_size"]]), [2, 2, 1], rtol=1e-6)
        np.testing.assert_array_equal(x[:, col["pedal_down"]], [1, 1, 0])
        np.testing.assert_array_equal(x[:, col["pedal_pressed"]], [1, 1, 0])  # pressed 100 ms and 120 ms before
        np.testing.assert_array_equal(x[:, col["pitch_class_0"]], [1, 0, 1])
        np.testing.assert_array_equal(x[:, col["pitch_class_4"]], [0, 1, 0])

    def test_read_midi(self):
        import mido
        mid = mido.MidiFile(ticks_per_beat=480)
        track = mido.MidiTrack()
        mid.tracks.append(track)
        # 120 bpm: 480 ticks = 0.5 s. C4 at 0 to 0.5 s, E4 at 0.25 to 1 s; pedal down 0.5 s to 1 s.
        track += [mido.Message("note_on", note=60, velocity=80, time=0),
                  mido.Message("note_on", note=64, velocity=90, time=240),
                  mido.Message("note_off", note=60, velocity=0, time=240),
                  mido.Message("control_change", control=64, value=127, time=0),
                  mido.Message("note_on", note=64, velocity=0, time=480),
                  mido.Message("control_change", control=64, value=0, time=0)]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "x.mid")
            mid.save(path)
            notes, sustain = data.read_midi(path)
        np.testing.assert_allclose(notes, [[0.0, 0.5, 60, 80], [0.25, 1.0, 64, 90]])
        np.testing.assert_allclose(sustain, [[0.5, 1.0]])


class Augment(unittest.TestCase):
    def test_tempo_moves_beats_with_notes(self):
        notes = np.array([[1.0, 1.5, 60, 80], [2.0, 2.2, 62, 80]])
        n, s, b, d = augment.tempo(notes, np.array([[1.0, 2.0]]), np.array([1.0, 2.0]), np.array([1.0]), 1.25)
        np.testing.assert_allclose(n[:, :2], [[0.8, 1.2], [1.6, 1.76]])
        np.testing.assert_allclose(b, [0.8, 1.6])
        np.testing.assert_allclose(s, [[0.8, 1.6]])
        np.testing.assert_array_equal(n[:, 2:], notes[:, 2:])

    def test_warp_keeps_notes_on_their_beats(self):
        rng = np.random.default_rng(3)
        beats = np.arange(0.0, 30.0, 0.5)
        notes = np.stack([beats, beats + 0.3, np.full(len(beats), 60.0), np.full(len(beats), 80.0)], 1)
        sustain = np.array([[1.0, 2.0], [5.0, 9.0]])
        n, s, b, d = augment.warp(notes, sustain, beats, beats[::4], rng, 0.2)
        np.testing.assert_allclose(n[:, 0], b)  # a note on a beat stays on it
        np.testing.assert_allclose(d, b[::4])
        self.assertTrue(np.all(np.diff(b) > 0) and np.all(n[:, 1] > n[:, 0]) and np.all(s[:, 1] > s[:, 0]))
        ratio = np.diff(b) / 0.5
        # Tempo moved, within the depth (a little slack for the 20 ms integration steps).
        self.assertTrue(ratio.max() > 1.05 and ratio.min() < 0.95)
        self.assertTrue(np.all(np.abs(np.log(ratio)) <= 0.2 + 0.01))
        same = augment.warp(notes, sustain, beats, beats[::4], rng, 0.0)
        np.testing.assert_array_equal(same[0], notes)

    def test_transposition_stays_on_the_keyboard(self):
        notes = np.array([[0.0, 1.0, 21, 80], [0.0, 1.0, 108, 80], [0.0, 1.0, 60, 80]])
        np.testing.assert_array_equal(augment.transpose(notes, -6)[:, 2], [27, 102, 54])
        np.testing.assert_array_equal(augment.transpose(notes, 6)[:, 2], [27, 102, 66])

    def test_split_and_merge(self):
        rng = np.random.default_rng(0)
        notes = np.array([[0.0, 1.0, 60, 80], [1.1, 1.5, 60, 70]])
        merged = augment.merge_notes(notes, rng, 1.0)
        np.testing.assert_allclose(merged, [[0.0, 1.5, 60, 80]])
        split = augment.sort(augment.split_notes(np.array([[0.0, 1.0, 60, 80]]), rng, 1.0))
        self.assertEqual(len(split), 2)
        self.assertEqual(split[0, 1], split[1, 0])
        self.assertTrue(0.3 <= split[1, 0] <= 0.7 and split[1, 3] < 80)

    def test_window_keeps_notes_sorted_and_valid(self):
        rng = np.random.default_rng(1)
        onsets = np.sort(rng.uniform(0, 20, 300))
        notes = np.stack([onsets, onsets + rng.uniform(0.05, 1, 300), rng.integers(21, 109, 300),
                          rng.integers(20, 110, 300)], 1)
        for _ in range(5):
            n, s, b, d = augment.window(notes, np.zeros((0, 2)), np.arange(0, 20, 0.5), np.arange(0, 20, 2.0),
                                        rng, errors=1.0, rubato=0.2)
            self.assertTrue(np.all(np.diff(n[:, 0]) >= 0))
            self.assertTrue(np.all(n[:, 1] > n[:, 0]))
            self.assertTrue(np.all((n[:, 2] >= 21) & (n[:, 2] <= 108)))
            self.assertTrue(np.all((n[:, 3] >= 1) & (n[:, 3] <= 127)))


if __name__ == "__main__":
    unittest.main()
