"""The model bundle format (.pscb) that the engine reads (src/bundle.rs), in one place for every tool that
writes or reads bundles (tools/convert, tools/oaf, tools/train, the stamp tool): see bundle.py.

  from tools import pscb
  header, parts = pscb.read("models/oaf-small.pscb")
"""
from .bundle import (
    MAGIC,
    SCORE_KEYS,
    BundleError,
    decode,
    encode,
    machine_paths,
    provenance,
    read,
    rewrite,
    scores_from_eval,
    set_provenance,
    set_scores,
    summary,
    write,
)

__all__ = [
    "MAGIC",
    "SCORE_KEYS",
    "BundleError",
    "decode",
    "encode",
    "machine_paths",
    "provenance",
    "read",
    "rewrite",
    "scores_from_eval",
    "set_provenance",
    "set_scores",
    "summary",
    "write",
]
