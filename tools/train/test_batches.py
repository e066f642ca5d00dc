"""Training batches (train.make_batch) made by worker processes (train.ParallelBatches) are the ones one
thread makes: the run stays a function of the seed and the step, however many cores make its examples. And
a kept state goes on under a schedule of its own (train --restart-schedule)."""
import json
import os
import tempfile
import unittest

from tools.train.testing import requires


def write_cache(cache, splits=("train", "train")):
    """A cache of 6 s pieces of noise with ten labelled notes each, one per entry of `splits`."""
    import numpy as np
    import soundfile as sf
    rng = np.random.default_rng(0)
    entries = []
    for i, split in enumerate(splits):
        sf.write(os.path.join(cache, f"p{i}.flac"), 0.1 * rng.standard_normal(16000 * 6), 16000, subtype="PCM_16")
        table = os.path.join(cache, f"p{i}.tsv")
        with open(table, "w") as f:
            f.write("# onset\toffset\tnote\tvelocity\n")
            for k in range(10):
                f.write(f"{0.5 * k + 0.1 * i}\t{0.5 * k + 0.4}\t{60 + k}\t{40 + 5 * k}\n")
        entries.append({"split": split, "renderer": "test", "midi": table, "audio": f"p{i}.flac", "duration": 6.0})
    with open(os.path.join(cache, "manifest.json"), "w") as f:
        json.dump(entries, f)


class Batches(unittest.TestCase):
    def setUp(self):
        requires(self, "torch", "numpy", "soundfile", why="making training batches")

    def test_worker_processes_make_the_single_threads_batches_in_step_order(self):
        import numpy as np
        from tools.train import train
        with tempfile.TemporaryDirectory() as cache:
            write_cache(cache)
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

    def test_a_kept_state_goes_on_under_a_restarted_schedule(self):
        import csv
        import torch
        from tools.oaf import network
        from tools.train import keep, train
        with tempfile.TemporaryDirectory() as d:
            write_cache(d, ("train", "validation"))
            net = network.OnsetsAndFrames("tiny")
            opt = torch.optim.Adam(net.parameters(), lr=6e-4)
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
            for _ in range(25):
                sched.step()  # the kept run's learning rate is down to 1.5e-4 at step 25
            state = {"model": net.state_dict(), "scheduler": sched.state_dict(), "step": 25, "size": "tiny"}
            torch.save(keep.kept(state, ""), os.path.join(d, "kept.pt"))
            common = ["--cache", d, "--size", "tiny", "--batch", "1", "--seconds", "2", "--validate-every", "100",
                      "--validation-pieces", "1", "--maps", "", "--resume-from", os.path.join(d, "kept.pt")]
            for out, extra, steps in [("going", [], 27), ("restarted", ["--restart-schedule", "--lr", "1e-4",
                                                                         "--lr-decay", "0.5", "--lr-decay-steps",
                                                                         "2"], 30)]:
                train.main(["--out", os.path.join(d, out), "--steps", str(steps), *common, *extra])
                with open(os.path.join(d, out, "log.csv")) as f:
                    rows = list(csv.DictReader(f))
                lrs = [(int(r["step"]), float(r["lr"])) for r in rows]
                if not extra:
                    self.assertEqual(lrs, [(26, 1.5e-4), (27, 1.5e-4)])
                else:
                    # 1e-4 for two steps, then halved every two (the log holds the rate after each step)
                    self.assertEqual(lrs, [(26, 1e-4), (27, 5e-5), (28, 5e-5), (29, 2.5e-5), (30, 2.5e-5)])


if __name__ == "__main__":
    unittest.main()
