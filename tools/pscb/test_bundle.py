"""The bundle format's one reader and writer against the bundles in the repository (read and written again they
are the same bytes, so models/SHA256SUMS stays true), damaged bundles, the stamp tool, and what shipped headers
may say (no machine paths; the page's models carry their figures). Standard library only:

  python3 -m unittest discover -s tools -t . -p 'test_*.py'     (from the repository root)
"""
import contextlib
import glob
import io
import json
import os
import shutil
import tempfile
import unittest

from tools import pscb
from tools.pscb import stamp

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHIPPED = ["models/oaf-small.pscb", "models/transkun-v2.pscb", "tests/fixtures/oaf-tiny.pscb"]
TINY = os.path.join(ROOT, "tests/fixtures/oaf-tiny.pscb")


def bundles():
    """Every bundle in the repository's model and fixture folders, relative to the root."""
    found = [p for folder in ("models", "tests/fixtures") for p in glob.glob(os.path.join(ROOT, folder, "*.pscb"))]
    return sorted(os.path.relpath(p, ROOT) for p in found)


def raw(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


class RoundTrip(unittest.TestCase):
    def test_the_shipped_bundles_are_found(self):
        self.assertTrue(set(SHIPPED) <= set(bundles()), bundles())

    def test_read_and_written_again_is_the_same_bytes(self):
        with tempfile.TemporaryDirectory() as d:
            for path in bundles():
                with self.subTest(path):
                    header, parts = pscb.read(os.path.join(ROOT, path))
                    out = os.path.join(d, os.path.basename(path))
                    pscb.write(out, header, parts)
                    with open(out, "rb") as f:
                        self.assertEqual(f.read(), raw(path))

    def test_rewrite_changes_the_header_and_keeps_the_parts(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "tiny.pscb")
            pscb.rewrite(TINY, out, lambda h: pscb.set_provenance(h, "note", "a test"))
            header, parts = pscb.read(out)
            self.assertEqual(header["provenance"]["note"], "a test")
            self.assertEqual(parts, pscb.read(TINY)[1])

    def test_parts_are_listed_from_their_bytes(self):
        header, parts = pscb.decode(pscb.encode({"family": "x", "parts": "ignored"}, [("a", b"12"), ("b", b"")]))
        self.assertEqual(parts, [("a", b"12"), ("b", b"")])
        self.assertEqual([(p["name"], p["bytes"]) for p in header["parts"]], [("a", 2), ("b", 0)])


class Damage(unittest.TestCase):
    """What the engine refuses (src/bundle.rs), the reader refuses too, so no tool rewrites a damaged bundle
    with checksums that hide the damage."""

    def assert_refused(self, data, words):
        with self.assertRaises(pscb.BundleError) as e:
            pscb.decode(data)
        self.assertIn(words, str(e.exception))

    def test_a_flipped_byte_in_a_part(self):
        data = bytearray(raw(SHIPPED[2]))
        data[-1] ^= 1
        self.assert_refused(bytes(data), "checksum of part 'network'")

    def test_a_cut_off_file(self):
        data = raw(SHIPPED[2])
        self.assert_refused(data[:-1], "needs")
        self.assert_refused(data[:100], "header of")

    def test_bytes_after_the_last_part(self):
        self.assert_refused(raw(SHIPPED[2]) + b"\0", "1 unexpected bytes")

    def test_not_a_bundle(self):
        self.assert_refused(b"ONNX" + bytes(20), "not a pianoscribe model bundle")


class Stamp(unittest.TestCase):
    def run_stamp(self, *args):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            stamp.main(list(args))
        return err.getvalue()

    def test_scores_and_entries_go_into_provenance(self):
        report = {"mean": {k: {"f1": 0.123456} for k in pscb.SCORE_KEYS}, "pieces": {"a": {}, "b": {}}}
        with tempfile.TemporaryDirectory() as d:
            bundle, report_path = os.path.join(d, "b.pscb"), os.path.join(d, "eval.json")
            shutil.copy(TINY, bundle)
            with open(report_path, "w") as f:
                json.dump(report, f)
            self.run_stamp(bundle, bundle, "--set", "maps-dev", "--eval", report_path, "--note", "how",
                           "--set-provenance", "thresholds=a=b")
            header, parts = pscb.read(bundle)
        self.assertEqual(header["provenance"]["scores"]["maps-dev"],
                         {"pieces": 2, "note": 0.1235, "note_offset": 0.1235, "note_offset_velocity": 0.1235,
                          "frame": 0.1235, "measured": "how"})
        self.assertEqual(header["provenance"]["thresholds"], "a=b")
        self.assertEqual(parts, pscb.read(TINY)[1])

    def test_a_machine_path_is_warned_about(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "b.pscb")
            err = self.run_stamp(TINY, out, "--set-provenance", "thresholds=calibrated on /work/x/audio")
        self.assertIn("provenance.thresholds names a path", err)


class Provenance(unittest.TestCase):
    def test_machine_paths_are_recognised(self):
        for text in ["/work/trainrun/final/validation/audio", "C:\\Users\\me\\audio", "~/data", "D:/x",
                     "calibrated on 9 recording(s) of /work/trainrun/final/validation/audio for m.pscb",
                     "renders in /srv/data/validation", "x/home/y", "cache /tmp/z"]:
            self.assertTrue(pscb.machine_paths(text), text)
        for text in ["tools/convert/run.sh", "transkun/pretrained/2.0.pt", "MIT (transkun); see models/LICENSE",
                     "int8 (scale groups of 32), fp16 for nothing; f32 compute", "1/2 of the frames"]:
            self.assertFalse(pscb.machine_paths(text), text)
        self.assertEqual(pscb.machine_paths({"a": [1, {"/root/x": "y"}]}), [("header.a[1] (key)", "/root/x")])

    def test_no_header_names_a_path_on_some_machine(self):
        for path in bundles():
            with self.subTest(path):
                self.assertEqual(pscb.machine_paths(pscb.read(os.path.join(ROOT, path))[0]), [])

    def test_the_pages_models_carry_their_maps_dev_scores(self):
        """The page's picker and `pianoscribe info` show the figures from the bundle (models.json has none)."""
        with open(os.path.join(ROOT, "models", "models.json")) as f:
            listed = [m["file"] for m in json.load(f)["models"]]
        for name in listed:
            with self.subTest(name):
                scores = pscb.read(os.path.join(ROOT, "models", name))[0]["provenance"]["scores"]["maps-dev"]
                self.assertEqual(scores["pieces"], 6)
                self.assertTrue(all(0 < scores[k] <= 1 for k in pscb.SCORE_KEYS), scores)


if __name__ == "__main__":
    unittest.main()
