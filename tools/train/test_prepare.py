"""Dataset preparation: what gets rendered, and a rendered note sounds where the MIDI puts it."""
import json
import os
import shutil
import tempfile
import unittest

import numpy as np

from tools.train import prepare as P
from tools.train.testing import missing


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

    def test_truncated_midi_ends_every_note_and_pedal_at_the_cut(self):
        import mido
        with tempfile.TemporaryDirectory() as d:
            src = mido.MidiFile(ticks_per_beat=100)
            t = mido.MidiTrack()
            src.tracks.append(t)
            # 60 bpm: 100 ticks = 1 s. Note 60 from 1 s to 10 s, pedal down at 2 s, note 64 from 6 s to 7 s.
            t.append(mido.MetaMessage("set_tempo", tempo=1000000, time=0))
            t.append(mido.Message("note_on", note=60, velocity=70, time=100))
            t.append(mido.Message("control_change", control=64, value=127, time=100))
            t.append(mido.Message("note_on", note=64, velocity=50, time=400))
            t.append(mido.Message("note_off", note=64, time=100))
            t.append(mido.Message("note_off", note=60, time=300))
            src.save(os.path.join(d, "in.mid"))
            P.truncate_midi(os.path.join(d, "in.mid"), 5.0, os.path.join(d, "out.mid"))
            events, now = [], 0.0
            for msg in mido.MidiFile(os.path.join(d, "out.mid")):
                now += msg.time
                if not msg.is_meta:
                    events.append((round(now, 3), msg.type, getattr(msg, "note", None), getattr(msg, "value", None)))
            self.assertEqual(events, [(1.0, "note_on", 60, None), (2.0, "control_change", None, 127),
                                      (5.0, "note_off", 60, None), (5.0, "control_change", None, 0),
                                      (5.0, "control_change", None, 0), (5.0, "control_change", None, 0)])

    def test_a_later_run_keeps_the_earlier_runs_entries(self):
        with tempfile.TemporaryDirectory() as cache:
            for name in ("a", "b", "v"):
                os.makedirs(os.path.join(cache, "fluidr3"), exist_ok=True)
                open(os.path.join(cache, "fluidr3", name + ".flac"), "w").close()
            path = os.path.join(cache, "manifest.json")
            train = [{"split": "train", "audio": "fluidr3/a.flac"}, {"split": "train", "audio": "fluidr3/b.flac"},
                     {"split": "train", "audio": "fluidr3/gone.flac"}]
            with open(path, "w") as f:
                json.dump(train, f)
            validation = [{"split": "validation", "audio": "fluidr3/v.flac"}, {"split": "train", "audio": "fluidr3/b.flac",
                                                                               "new": True}]
            got = P.merged(path, validation, cache)
            # a kept, gone dropped (its audio is not in the cache), b replaced by this run's entry
            self.assertEqual(got, [train[0]] + validation)

    def test_maps_recordings_come_in_with_their_note_tables(self):
        try:
            import soundfile as sf
            import soxr  # noqa: F401
        except ImportError as e:
            missing(self, f"{e.name} is not installed")
        from tools.train import labels as L
        with tempfile.TemporaryDirectory() as d:
            checkout, cache = os.path.join(d, "repo"), os.path.join(d, "cache")
            os.makedirs(os.path.join(checkout, "data", "MAPS", "flac"))
            os.makedirs(os.path.join(checkout, "data", "MAPS", "tsv", "matched"))
            # One listed recording at 44.1 kHz stereo (mixed down and resampled), one that is not listed.
            for stem in ("MAPS_MUS-bach_846_AkPnBcht", "MAPS_MUS-other_SptkBGCl"):
                sf.write(os.path.join(checkout, "data", "MAPS", "flac", stem + ".flac"),
                         np.full((44100, 2), 0.25, np.float32), 44100)
                with open(os.path.join(checkout, "data", "MAPS", "tsv", "matched", stem + ".tsv"), "w") as f:
                    f.write("# onset,offset,note,velocity\n0.5\t0.9\t60.0\t64.0\n0.2\t0.4\t62.0\t50.0\n")
            listed = os.path.join(d, "list.txt")
            with open(listed, "w") as f:
                f.write("# comment\ndata/MAPS/flac/MAPS_MUS-bach_846_AkPnBcht.flac\n")
            P.main(["--maps-synth", checkout, "--maps-list", listed, "--cache", cache])
            with open(os.path.join(cache, "manifest.json")) as f:
                (entry,) = json.load(f)
            self.assertEqual((entry["split"], entry["renderer"]), ("train", "maps-AkPnBcht"))
            self.assertAlmostEqual(entry["duration"], 1.0, places=3)
            audio, rate = sf.read(os.path.join(cache, entry["audio"]))
            self.assertEqual((rate, audio.ndim, len(audio)), (P.SAMPLE_RATE, 1, P.SAMPLE_RATE))
            self.assertEqual(L.read_notes(entry["midi"]), ([(0.2, 0.4, 62, 50), (0.5, 0.9, 60, 64)], []))
            # The Disklavier recordings are refused, even when listed.
            with open(listed, "w") as f:
                f.write("data/MAPS/flac/MAPS_MUS-chpn-p19_ENSTDkCl.flac\n")
            with self.assertRaises(SystemExit):
                P.main(["--maps-synth", checkout, "--maps-list", listed, "--cache", cache])

    def test_a_rendered_note_sounds_where_the_midi_says(self):
        try:
            import mido
            import soundfile  # noqa: F401
            import soxr  # noqa: F401
        except ImportError as e:
            missing(self, f"{e.name} is not installed")
        if not shutil.which("fluidsynth") or not os.path.exists(P.SOUNDFONTS["fluidr3"]):
            missing(self, "fluidsynth or its SoundFont is not installed")
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
