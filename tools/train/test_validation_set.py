"""The part of a cache's validation renders that calibration reads (validation_set.chosen)."""
import unittest

from tools.train import validation_set


class Chosen(unittest.TestCase):
    def test_renderers_and_hours_pick_what_prepare_would_have_rendered(self):
        entries = [{"renderer": r, "duration": d, "audio": f"{r}{i}"}
                   for r in ("fluidr3", "musescore", "salamander") for i, d in enumerate([2000, 2000, 2000, 2000])]
        names = [e["audio"] for e in validation_set.chosen(entries, ["fluidr3", "salamander"], 1.5)]
        # like prepare's plan: pieces are added while the renderer's total is under 1.5 h (5400 s)
        self.assertEqual(names, ["fluidr30", "fluidr31", "fluidr32", "salamander0", "salamander1", "salamander2"])
        self.assertEqual(len(validation_set.chosen(entries, None, None)), 12)


if __name__ == "__main__":
    unittest.main()
