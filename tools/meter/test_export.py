"""The metrical model's exporter and learning-rate schedule (PyTorch, onnx and onnxruntime: the training venv, where
build.sh runs these tests with PIANOSCRIBE_TEST_DEPS=required; Debian's python3 skips them)."""
import argparse
import unittest

import numpy as np

from tools.train.testing import requires


class Export(unittest.TestCase):
    def setUp(self):
        requires(self, "torch", "onnxruntime", why="the exporter")

    def test_the_exported_graph_computes_what_the_network_does(self):
        import onnxruntime
        import torch

        from tools.meter import data, export, network
        torch.manual_seed(3)
        # With the bar-length head (train.py --bar-classes 3): left out of the exported graph.
        net = network.MeterNet(conv=8, hidden=8, layers=1, down_hidden=4, kernel=3, dropout=0.0, bar_classes=3).eval()
        graph = export.onnx_bytes(net)
        rng = np.random.default_rng(1)
        onsets = np.sort(rng.uniform(0, 20, 120))
        notes = np.stack([onsets, onsets + rng.uniform(0.05, 1, 120), rng.integers(30, 90, 120),
                          rng.integers(20, 110, 120)], 1)
        x = data.features(notes, np.array([[1.0, 3.0], [5.0, 9.0]]))
        session = onnxruntime.InferenceSession(graph)
        got = session.run(None, {"notes": x})
        with torch.no_grad():
            want = export.Exported(net)(torch.from_numpy(x))
        self.assertEqual([o.name for o in session.get_outputs()], ["beat", "downbeat", "beat_seconds"])
        for g, w in zip(got, want):
            self.assertEqual(g.shape, (120,))
            np.testing.assert_allclose(g, w.numpy(), atol=1e-5)
        # Any number of notes: the graph's axis is free.
        self.assertEqual(session.run(None, {"notes": x[:7]})[0].shape, (7,))

    def test_the_header_lists_the_inputs_and_their_constants(self):
        from tools.meter import data, export
        h = export.header({"weights": "fp32"}, 0.25)
        self.assertEqual(h["family"], "meter")
        self.assertEqual(h["features"], list(data.FEATURE_NAMES))
        self.assertEqual((h["chord_seconds"], h["interval_clip"], h["interval_floor"]),
                         (data.CHORD_SECONDS, data.INTERVAL_CLIP, data.INTERVAL_FLOOR))
        self.assertEqual(h["downbeat_share"], 0.25)


class Recover(unittest.TestCase):
    def setUp(self):
        requires(self, "torch", "onnx", why="tools/meter/recover.py")

    def test_the_weights_read_back_from_the_graph_are_the_networks(self):
        import onnx
        import torch

        from tools.meter import export, network, recover
        torch.manual_seed(5)
        config = {"conv": 8, "hidden": 6, "layers": 2, "down_hidden": 4, "kernel": 3, "dropout": 0.0}
        net = network.MeterNet(**config).eval()
        got = recover.state_dict(onnx.load_from_string(export.onnx_bytes(net)), config)
        want = net.state_dict()
        self.assertEqual(sorted(got), sorted(want))
        for k in want:
            self.assertTrue(torch.equal(got[k], want[k]), k)
        # Two networks exported as their mean are not one network's weights.
        with self.assertRaises(SystemExit):
            recover.state_dict(onnx.load_from_string(export.onnx_bytes(net, net)), config)


class LearningRate(unittest.TestCase):
    def setUp(self):
        requires(self, "torch", why="tools/meter/train.py")

    def test_cosine_decay_to_one_percent_then_flat(self):
        from tools.meter.train import learning_rate
        a = argparse.Namespace(lr=1e-3, decay_steps=100)
        self.assertAlmostEqual(learning_rate(a, 0), 1e-3)
        self.assertAlmostEqual(learning_rate(a, 50), 1e-3 * (0.01 + 0.99 * 0.5))
        self.assertAlmostEqual(learning_rate(a, 100), 1e-5)
        self.assertAlmostEqual(learning_rate(a, 500), 1e-5)
        self.assertEqual(learning_rate(argparse.Namespace(lr=2e-3, decay_steps=0), 77), 2e-3)


class Sampling(unittest.TestCase):
    def setUp(self):
        requires(self, "torch", why="tools/meter/train.py")

    def test_notes_or_each_composition_alike(self):
        from tools.meter.train import sampling_weights
        entries = [{"composition": "a", "notes": 100}, {"composition": "a", "notes": 300},
                   {"composition": "b", "notes": 100}]
        np.testing.assert_allclose(sampling_weights(entries), [0.2, 0.6, 0.2])
        # Composition b, played once, is drawn as often as a's two performances together.
        np.testing.assert_allclose(sampling_weights(entries, "composition"), [0.125, 0.375, 0.5])
        with self.assertRaises(ValueError):
            sampling_weights(entries, "performance")


if __name__ == "__main__":
    unittest.main()


def synthetic_cache(folder, performances=3, seconds=40.0):
    """A cache as tools/meter/data.py writes it, of made-up performances: notes every 0.25 s with a bass note on
    every beat (0.5 s) and bars of four, so that training has something to learn."""
    import json
    import os

    from tools.meter import data
    rng = np.random.default_rng(7)
    notes, sustain, beats, downbeats, entries = [], [], [], [], []
    for k in range(performances):
        t = np.arange(0, seconds, 0.25) + rng.normal(0, 0.01, int(seconds / 0.25))
        n = np.stack([t, t + 0.2, 60 + rng.integers(0, 12, len(t)), rng.integers(40, 90, len(t))], 1)
        b = t[::2]
        bass = np.stack([b, b + 0.45, np.full(len(b), 40.0), np.full(len(b), 70.0)], 1)
        n = np.concatenate([n, bass])
        n = n[np.lexsort((n[:, 2], n[:, 0]))]
        notes.append(n)
        sustain.append(np.zeros((0, 2)))
        beats.append(b)
        downbeats.append(b[::4])
        entries.append({"midi": f"p{k}.mid", "split": "validation" if k == 0 else "train", "notes": len(n),
                        "composition": f"c{k}"})
    arrays = {}
    for name, parts, width in (("notes", notes, 4), ("sustain", sustain, 2), ("beats", beats, None),
                               ("downbeats", downbeats, None)):
        arrays[name], arrays[name + "_offsets"] = data.concat(parts, width)
    os.makedirs(folder, exist_ok=True)
    np.savez(os.path.join(folder, "asap.npz"), **arrays)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump({"data": "synthetic", "metadata_sha1": "none", "performances": entries,
                   "compositions_per_split": {"train": performances - 1, "validation": 1}}, f)


class Resume(unittest.TestCase):
    def setUp(self):
        requires(self, "torch", why="tools/meter/train.py")

    def test_a_resumed_run_trains_as_a_straight_one(self):
        import os
        import tempfile

        import torch

        from tools.meter import train
        with tempfile.TemporaryDirectory() as tmp:
            cache = os.path.join(tmp, "cache")
            synthetic_cache(cache)
            common = ["--cache", cache, "--batch", "2", "--notes", "60", "--conv", "8", "--hidden", "8",
                      "--down-hidden", "4", "--validate-every", "3", "--checkpoint-every", "1", "--decay-steps", "6",
                      "--bar-classes", "3", "--period-bins", "8", "--ema", "0.9"]  # the extra heads and the
            # weight average train and resume too
            train.main(common + ["--out", os.path.join(tmp, "straight"), "--steps", "6"])
            train.main(common + ["--out", os.path.join(tmp, "resumed"), "--steps", "3"])
            train.main(common + ["--out", os.path.join(tmp, "resumed"), "--steps", "6"])
            a = torch.load(os.path.join(tmp, "straight", "checkpoint.pt"), weights_only=False)
            b = torch.load(os.path.join(tmp, "resumed", "checkpoint.pt"), weights_only=False)
            self.assertEqual((a["step"], b["step"]), (6, 6))
            for part in ("model", "ema"):
                for k, v in a[part].items():
                    self.assertTrue(torch.equal(v, b[part][k]), (part, k))
            # The average is not the network: it moved more slowly.
            self.assertFalse(all(torch.equal(v, a["ema"][k]) for k, v in a["model"].items()))
            with open(os.path.join(tmp, "resumed", "log.csv")) as f:
                self.assertEqual(len(f.read().strip().splitlines()), 1 + 6)  # a header and one row per step
