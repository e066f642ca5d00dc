"""The training front-end's mel filters (frontend.mel_filters) against librosa's, which the engine's features
and the shipped bundles were checked against."""
import unittest

from tools.train.testing import requires


class MelFilters(unittest.TestCase):
    def test_the_filters_are_librosas(self):
        requires(self, "numpy", "torch", "librosa", why="comparing the mel filters with librosa's")
        import librosa
        import numpy as np
        from tools.oaf import frontend
        for sr, n_fft, n_mels, lo, hi in [(16000, 2048, 229, 30.0, 8000.0), (22050, 1024, 64, 0.0, 11025.0)]:
            ours = frontend.mel_filters(sr, n_fft, n_mels, lo, hi)
            ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=lo, fmax=hi, htk=True, norm="slaney")
            self.assertEqual(ours.shape, ref.shape)
            self.assertEqual(ours.dtype, ref.dtype)
            np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)


if __name__ == "__main__":
    unittest.main()
