"""Training batches (train.make_batch) made by worker processes (train.ParallelBatches) are the ones one
thread makes: the run stays a function of the seed and the step, however many cores make its examples."""
import json
import os
import tempfile
import unittest

from tools.train.testing import requires


class Batches(unittest.TestCase):
    def setUp(self):
        requires(self, "torch", "numpy", "soundfile", why="making training batches")

    def test_worker_processes_make_the_single_threads_batches_in_step_order(self):
        import numpy as np
        import soundfile as sf
        from tools.train import train
        with tempfile.TemporaryDirectory() as cache:
            rng = np.random.default_rng(0)
            entries = []
            for i in range(2):
                sf.write(os.path.join(cache, f"p{i}.flac"), 0.1 * rng.standard_normal(16000 * 6), 16000,
                         subtype="PCM_16")
                table = os.path.join(cache, f"p{i}.tsv")
                with open(table, "w") as f:
                    f.write("# onset\toffset\tnote\tvelocity\n")
                    for k in range(10):
                        f.write(f"{0.5 * k + 0.1 * i}\t{0.5 * k + 0.4}\t{60 + k}\t{40 + 5 * k}\n")
                entries.append({"split": "train", "renderer": "test", "midi": table, "audio": f"p{i}.flac",
                                "duration": 6.0})
            with open(os.path.join(cache, "manifest.json"), "w") as f:
                json.dump(entries, f)
            pieces = train.Pieces(cache, "train")
            serial = [train.make_batch(pieces, 2.0, 3, 5, step) for step in range(4, 10)]
            parallel = train.ParallelBatches(pieces, 2.0, 3, 5, 4, 9, workers=2, depth=1)
            try:
                made = [parallel.next() for _ in range(6)]
            finally:
                parallel.close()
        for step, (a, b) in enumerate(zip(serial, made), start=4):
            self.assertTrue(np.array_equal(a[0], b[0]), f"audio of step {step}")
            for i in range(4):
                self.assertTrue(np.array_equal(a[1][i], b[1][i]), f"labels {i} of step {step}")
        self.assertFalse(np.array_equal(serial[0][0], serial[1][0]))  # the steps' batches differ


if __name__ == "__main__":
    unittest.main()
