"""The kept part of a run (keep.py) and a run restored from it (train.restore)."""
import os
import tempfile
import unittest

from tools.train.testing import requires


class Keep(unittest.TestCase):
    def setUp(self):
        requires(self, "torch", "numpy", why="keep and restore")

    def test_a_kept_run_restores_weights_step_and_schedule_without_adams_moments(self):
        import torch
        from tools.oaf import network
        from tools.train import keep, train

        def run():
            net = network.OnsetsAndFrames("tiny", n_mels=16)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            return net, opt, torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        torch.manual_seed(0)
        net, opt, sched = run()
        for _ in range(3):  # past one decay of the learning rate
            loss = sum(o.float().pow(2).mean() for o in net(torch.randn(2, 5, 16)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        state = {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                 "torch_rng": torch.get_rng_state(), "step": 3, "best": 0.5, "wall_seconds": 12.0, "size": "tiny"}
        log = "step,onset\n1,0.9\n2,0.8\n3,0.7\n4,0.6\n"  # step 4 was written after the checkpoint
        k = keep.kept(state, log)
        self.assertNotIn("optimizer", k)
        self.assertEqual(k["log"], "step,onset\n1,0.9\n2,0.8\n3,0.7\n")

        torch.manual_seed(1)
        net2, opt2, sched2 = run()
        self.assertEqual(train.restore(k, net2, opt2, sched2), (3, 0.5, 12.0))
        for (name, a), b in zip(net.state_dict().items(), net2.state_dict().values()):
            self.assertTrue(torch.equal(a, b), name)
        self.assertEqual(opt2.param_groups[0]["lr"], 5e-4)
        self.assertEqual(sched2.get_last_lr(), [5e-4])
        self.assertEqual(len(opt2.state), 0)
        # With the optimiser's state (a run's own checkpoint), Adam goes on where it was.
        net3, opt3, sched3 = run()
        train.restore(state, net3, opt3, sched3)
        self.assertEqual(len(opt3.state), len(opt.state))

    def test_parts_join_to_the_kept_state_in_fp32_and_a_missing_part_is_named(self):
        import torch
        from tools.oaf import network
        from tools.train import keep
        torch.manual_seed(0)
        net = network.OnsetsAndFrames("tiny", n_mels=16)
        state = {"model": net.state_dict(), "step": 7, "size": "tiny", "log": "step\n7\n"}
        with tempfile.TemporaryDirectory() as d:
            paths = keep.write_parts(state, d, 50_000)
            self.assertGreater(len(paths), 2)  # the tiny network's 124 k weights in fp16 need several parts
            self.assertTrue(all(os.path.getsize(p) <= 50_000 for p in paths))
            back = keep.join_parts(d)
            self.assertEqual((back["step"], back["size"], back["log"]), (7, "tiny", "step\n7\n"))
            for name, a in state["model"].items():
                b = back["model"][name]
                self.assertEqual(b.dtype, a.dtype, name)
                # fp16 keeps 11 significant bits
                self.assertTrue(torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-6), name)
            os.remove(paths[1])
            with self.assertRaises(SystemExit) as e:
                keep.join_parts(d)
            self.assertIn("a part is missing", str(e.exception))

    def test_what_is_not_a_run_state_gets_a_clear_error(self):
        import torch
        from tools.train import train
        with tempfile.TemporaryDirectory() as d:
            weights_only = os.path.join(d, "best.pt")
            torch.save({"model": {}, "size": "tiny"}, weights_only)
            garbage = os.path.join(d, "notes.txt")
            with open(garbage, "w") as f:
                f.write("not a checkpoint")
            for path, says in [(os.path.join(d, "missing.pt"), "does not exist"), (garbage, "not a PyTorch file"),
                               (weights_only, "lacks scheduler, step")]:
                with self.assertRaises(SystemExit) as e:
                    train.load_state(path)
                self.assertIn(says, str(e.exception))


if __name__ == "__main__":
    unittest.main()
