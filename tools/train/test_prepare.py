"""Dataset preparation: what gets rendered, and a rendered note sounds where the MIDI puts it."""
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare as P  # noqa: E402


def row(split, name, seconds):
    return {"split": split, "midi_filename": f"2004/{name}.midi", "audio_filename": f"2004/{name}.wav",
            "duration": str(seconds)}


class Prepare(unittest.TestCase):
    def test_plan_stops_after_the_hours_per_split_and_renderer(self):
        rows = [row("train", "a", 1800), row("validation", "v", 600), row("train", "b", 1800), row("train", "c", 60)]
        jobs = P.plan(rows, ["train", "validation"], ["fluidr3", "musescore"], 0.5)
        got = [(s, r, x["midi_filename"]) for s, r, x in jobs]
        self.assertEqual(got, [("train", "fluidr3", "2004/a.midi"), ("train", "musescore", "2004/a.midi"),
                               ("validation", "fluidr3", "2004/v.midi"), ("validation", "musescore", "2004/v.midi")])
        self.assertEqual(len(P.plan(rows, ["train"], ["fluidr3"], None)), 3)
        self.assertTrue(P.output_path("/c", "train", "fluidr3", rows[0]).endswith("/c/fluidr3/train/2004/a.flac"))

    def test_a_rendered_note_sounds_where_the_midi_says(self):
        try:
            import mido
            import soundfile  # noqa: F401
            import soxr  # noqa: F401
        except ImportError as e:
            self.skipTest(f"{e.name} is not installed")
        if not shutil.which("fluidsynth") or not os.path.exists(P.SOUNDFONTS["fluidr3"]):
            self.skipTest("fluidsynth or its SoundFont is not installed")
        mid = mido.MidiFile(ticks_per_beat=480)
        tr = mido.MidiTrack()
        mid.tracks.append(tr)
        tr.append(mido.Message("note_on", note=69, velocity=100, time=960))  # 1.0 s at 120 bpm
        tr.append(mido.Message("note_off", note=69, velocity=0, time=480))  # 1.5 s
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "a.mid")
            mid.save(path)
            audio = P.render(path, "fluidr3")
        sr = P.SAMPLE_RATE
        before = np.abs(audio[: int(0.9 * sr)]).max()
        during = np.abs(audio[int(1.0 * sr):int(1.4 * sr)]).max()
        self.assertLess(before, 1e-3)
        self.assertGreater(during, 20 * max(before, 1e-5))


if __name__ == "__main__":
    unittest.main()
