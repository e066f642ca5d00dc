"""tools/convert/segments.py's own parts: the change of gain normalisation, and the onset F1 it reports."""
import unittest

from tools.train.testing import requires


class Segments(unittest.TestCase):
    def setUp(self):
        requires(self, "numpy", "torch", "onnx", "mir_eval", why="the segment-length measurement's helpers")

    def test_the_features_see_the_frames_at_the_target_gain(self):
        import torch
        from tools.convert import segments
        torch.manual_seed(0)
        frames, longer = torch.randn(2, 50, 64) * 0.3 + 0.01, torch.randn(2, 120, 64) * 0.1
        wrapped = segments.Renormalised(lambda x: x * 2.0)
        m, s = segments.statistics(frames)
        wrapped.own, wrapped.target = (m, s), segments.statistics(longer)
        m2, s2 = wrapped.target
        # What transkun hands the extractor (its own normalisation), seen as the longer segment's would be.
        got = wrapped((frames - m) / (s + 1e-8))
        torch.testing.assert_close(got, 2.0 * (frames - m2) / (s2 + 1e-8), rtol=1e-5, atol=1e-5)
        # Without a target the frames pass as they are.
        wrapped.target = None
        torch.testing.assert_close(wrapped(frames), 2.0 * frames)
        mean, deviation = segments.statistics(torch.tensor([[1.0, 3.0], [1.0, 3.0]]))
        self.assertAlmostEqual(float(mean), 2.0)
        self.assertAlmostEqual(float(deviation), (4 / 3) ** 0.5, places=6, msg="unbiased, as transkun's")

    def test_onset_f1_counts_onsets_within_50_ms_and_ignores_offsets(self):
        from tools.convert import segments
        reference = [(0.0, 0.5, 60), (1.0, 1.2, 64), (2.0, 3.0, 67)]
        # One onset 30 ms late with another offset, one 70 ms late, one at a wrong pitch; times below zero too.
        estimate = [(0.03, 2.0, 60), (1.07, 1.2, 64), (2.0, 3.0, 68), (-0.2, 0.1, 40)]
        self.assertAlmostEqual(segments.onset_f1(reference, estimate), 2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
        self.assertEqual(segments.onset_f1([], []), 1.0)
        self.assertEqual(segments.onset_f1(reference, []), 0.0)


if __name__ == "__main__":
    unittest.main()
