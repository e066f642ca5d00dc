"""The model bundle format (.pscb), read by the engine (src/bundle.rs): b"PSCBNDL1", the header's length as a
u32 little-endian, the header (JSON: the model's numbers, `family`, `provenance`, and `parts`: a name, size and
CRC-32 per part), then the parts' bytes in the header's order.

This is the one Python reader and writer of that layout, so that the converter, the exporter and the stamp
tool write the same bytes: a bundle read and written again is identical byte for byte (test_bundle.py checks
the shipped ones, which models/SHA256SUMS pins). Parts are (name, bytes) pairs in file order; `encode` and
`write` list them in the header themselves, so that sizes and checksums cannot disagree with the bytes.
"""
import hashlib
import json
import os
import re
import struct
import zlib

MAGIC = b"PSCBNDL1"
LENGTH = struct.Struct("<I")
START = len(MAGIC) + LENGTH.size

# Strings that name a place on some machine: an absolute path (POSIX, home or Windows drive), a machine's own
# folders anywhere in a sentence, or a sentence quoting an absolute path ("... of /data/validation").
MACHINE_PATH = re.compile(r"^(/|~/|[A-Za-z]:[\\/])|/(home|work|tmp|root|Users)/|\s(/|~/)[^\s/]+/")

SCORE_KEYS = ("note", "note_offset", "note_offset_velocity", "frame")


class BundleError(ValueError):
    """A file that is not a well-formed bundle (no magic, cut off, a bad checksum): the message says which."""


def header_json(header):
    """The header's bytes as every shipped bundle has them (sorted keys, one-space indent, ASCII): changing
    this changes the bytes of every bundle written from now on, and models/SHA256SUMS with them."""
    return json.dumps(header, indent=1, sort_keys=True, allow_nan=False).encode()


def encode(header, parts):
    """The bundle's bytes: `header` (its own `parts`, if any, replaced by what `parts` are) and `parts`, an
    iterable of (name, bytes) in file order."""
    parts = list(parts)
    header = dict(header)
    header["parts"] = [{"name": name, "bytes": len(blob), "crc32": zlib.crc32(blob)} for name, blob in parts]
    head = header_json(header)
    return b"".join([MAGIC, LENGTH.pack(len(head)), head] + [blob for _, blob in parts])


def decode(data):
    """(header dict, [(name, bytes)] in file order) of a bundle's bytes, checked as the engine checks them
    (magic, lengths, CRC-32 per part, nothing after the last part), so that a tool never rewrites a damaged
    bundle into one whose checksums hide the damage."""
    if len(data) < START or data[: len(MAGIC)] != MAGIC:
        raise BundleError(f"not a pianoscribe model bundle (it does not start with {MAGIC.decode()})")
    (length,) = LENGTH.unpack_from(data, len(MAGIC))
    if START + length > len(data):
        raise BundleError(f"the header of {length} bytes is cut off ({len(data)} bytes in all)")
    try:
        header = json.loads(data[START: START + length])
    except ValueError as e:
        raise BundleError(f"the header is not JSON: {e}") from None
    if not isinstance(header, dict) or not isinstance(header.get("parts"), list):
        raise BundleError("the header lists no parts")
    parts, offset = [], START + length
    for p in header["parts"]:
        try:
            name, size, crc = p["name"], p["bytes"], p["crc32"]
        except (KeyError, TypeError):
            raise BundleError(f"a part's entry lacks its name, bytes or crc32: {p!r}") from None
        blob = data[offset: offset + size]
        if len(blob) != size:
            raise BundleError(f"part '{name}' needs {size} bytes at offset {offset} but the file has {len(data)}")
        if zlib.crc32(blob) != crc:
            raise BundleError(f"checksum of part '{name}' is {zlib.crc32(blob):08x}, expected {crc:08x}")
        parts.append((name, blob))
        offset += size
    if offset != len(data):
        raise BundleError(f"{len(data) - offset} unexpected bytes after the last part")
    return header, parts


def read(path):
    """(header dict, [(name, bytes)]) of a bundle file; a BundleError names the file."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return decode(data)
    except BundleError as e:
        raise BundleError(f"{path}: {e}") from None


def write(path, header, parts):
    """Writes a bundle (see `encode`) and returns its bytes. The file is replaced in one step (written beside it,
    then renamed), so that rewriting a bundle in place, or a reader running meanwhile, never sees half a one."""
    data = encode(header, parts)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return data


def rewrite(src, dst, change):
    """Replaces a bundle's header and keeps its parts byte for byte: `change(header)` edits the header of `src`
    in place, the result goes to `dst` (which may be `src`). Returns the bytes written."""
    header, parts = read(src)
    change(header)
    return write(dst, header, parts)


def summary(path, data):
    """One line saying what was written, with the sha256 that models/SHA256SUMS would list."""
    return f"wrote {path}: {len(data) / 1e6:.2f} MB, sha256 {hashlib.sha256(data).hexdigest()}"


def provenance(header):
    """The header's provenance (made if missing): where the weights, the thresholds and the figures come from,
    which `pianoscribe info` prints."""
    return header.setdefault("provenance", {})


def set_provenance(header, key, value):
    """Sets one provenance entry, e.g. where the thresholds come from, worded for whoever reads the bundle."""
    provenance(header)[key] = value


def set_scores(header, name, entry):
    """Records scores measured on the set `name` (e.g. maps-dev) as provenance.scores[name]: the figures the
    page and `pianoscribe info` show come from the bundle itself, not from a copy beside it."""
    provenance(header).setdefault("scores", {})[name] = entry


def scores_from_eval(report, note=None):
    """A scores entry from a `pianoscribe eval --json` report: the number of pieces and the mean F1 of each
    measure, rounded to 4 places, and how they were measured when `note` says so."""
    mean = report["mean"]
    entry = {"pieces": len(report.get("pieces", {})), **{k: round(mean[k]["f1"], 4) for k in SCORE_KEYS}}
    if note:
        entry["measured"] = note
    return entry


def machine_paths(value, where="header"):
    """[(where, string)] for every string in a JSON value (keys included) that names a place on some machine
    (MACHINE_PATH): a shipped bundle must not carry one, as it says nothing to anyone else and leaks a path."""
    found = []
    if isinstance(value, str):
        if MACHINE_PATH.search(value):
            found.append((where, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            found += machine_paths(k, f"{where} (key)") + machine_paths(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += machine_paths(v, f"{where}[{i}]")
    return found
