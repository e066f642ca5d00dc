"""Dataset preparation: renders MAESTRO's performance MIDI to 16 kHz mono audio with several pianos, or takes a
user's own MAESTRO audio, into a cache that training reads. Resumable (finished files are kept; a file is
written under a temporary name and renamed when complete), with progress, and it prints where the cache is
and how big it is.

  python -m tools.train.prepare [--split train,validation] [--renderers fluidr3,musescore] [--hours H]
                                [--max-seconds S] [--cache DIR] [--midi DIR] [--maestro DIR] [--jobs N]
  python -m tools.train.prepare --maps-synth CHECKOUT [--maps-list FILE] [--cache DIR]

- --midi: MAESTRO's MIDI and CSV in its standard layout (default: ../shared/data/maestro-v2-midi).
- --maestro: a MAESTRO copy with audio (`<year>/<name>.wav|.flac` beside the `.midi`): its recordings are used
  instead of rendering (renderer name `maestro`).
- --renderers: SoundFonts played by fluidsynth (Debian `fluidsynth`, `fluid-soundfont-gm`,
  `musescore-general-soundfont`), sustain and soft pedal included as the MIDI has them; `salamander`: the
  Salamander Grand's samples played by sampler.py (`--samples DIR`, fetched once by
  `python -m tools.train.sampler fetch`), sustain included.
- --hours: stop after this much audio per split and renderer (pieces in the CSV's order), for small runs.
- --max-seconds: render only the first S seconds of each piece (quick experiments and the CI smoke test).
- --maps-synth: a checkout of github:jongwook/onsets-and-frames (its data/MAPS/flac and data/MAPS/tsv/matched):
  the MAPS recordings on sampled pianos that --maps-list names (default ../shared/data/maps-synth-train.txt,
  whose compositions no Disklavier recording plays) go into the cache as training pieces, one renderer per
  piano (`maps-AkPnBcht`, ...), labelled by their note tables. Nothing else from that repository is read.

Room, microphone, noise and gain variety is added per training example (augment.py), not here, so that every
epoch hears each piece differently.
"""
import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SAMPLE_RATE = 16000  # the Onsets & Frames front-end's (tools/oaf/frontend.py CONFIG)

SOUNDFONTS = {
    "fluidr3": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "musescore": "/usr/share/sounds/sf3/MuseScore_General_Full.sf3",
}


def default_cache():
    return os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pianoscribe", "train")


def read_csv(midi_dir):
    path = os.path.join(midi_dir, "maestro-v2.0.0-train-validation.csv")
    if not os.path.exists(path):
        names = [n for n in os.listdir(midi_dir) if n.endswith(".csv")] if os.path.isdir(midi_dir) else []
        if len(names) != 1:
            sys.exit(f"error: no MAESTRO CSV in {midi_dir}")
        path = os.path.join(midi_dir, names[0])
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plan(rows, splits, renderers, hours):
    """(split, renderer, row) to produce, in the CSV's order, at most `hours` of audio per split and renderer."""
    jobs = []
    for split in splits:
        for renderer in renderers:
            total = 0.0
            for row in rows:
                if row["split"] != split:
                    continue
                if hours is not None and total >= hours * 3600:
                    break
                jobs.append((split, renderer, row))
                total += float(row["duration"])
    return jobs


def output_path(cache, split, renderer, row, max_seconds=None):
    """Where a rendering lives in the cache; cut renderings (--max-seconds) apart from whole ones."""
    stem = os.path.splitext(row["midi_filename"])[0]
    folder = renderer + (f"-first{max_seconds:g}s" if max_seconds else "")
    return os.path.join(cache, folder, split, stem + ".flac")


def to_mono(audio, sr):
    """Mono float32 at SAMPLE_RATE (soxr's high-quality resampler)."""
    import soxr
    audio = audio.mean(axis=1) if audio.ndim == 2 else audio
    if sr != SAMPLE_RATE:
        audio = soxr.resample(audio, sr, SAMPLE_RATE, quality="HQ")
    return audio.astype(np.float32)


def truncate_midi(midi, seconds, out):
    """The first `seconds` of `midi` as a type-0 file at `out`: events up to then, and at `seconds` every
    sounding note released and the pedals lifted, so that the rendering ends where the labels do."""
    import mido
    ticks_per_second = 960  # 480 ticks per beat at 120 bpm
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])
    now, last, sounding = 0.0, 0, set()
    for msg in mido.MidiFile(midi):
        now += msg.time
        if now > seconds:
            break
        if msg.is_meta:
            continue
        tick = round(now * ticks_per_second)
        track.append(msg.copy(time=tick - last))
        last = tick
        if msg.type == "note_on" and msg.velocity > 0:
            sounding.add((msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            sounding.discard((msg.channel, msg.note))
    end = round(seconds * ticks_per_second)
    for i, (channel, note) in enumerate(sorted(sounding)):
        track.append(mido.Message("note_off", channel=channel, note=note, time=end - last if i == 0 else 0))
        last = end
    for control in (64, 66, 67):
        track.append(mido.Message("control_change", control=control, value=0, time=end - last))
        last = end
    out_file = mido.MidiFile(type=0, ticks_per_beat=480)
    out_file.tracks.append(track)
    out_file.save(out)


SAMPLER = "salamander"
# The sampler's pianos by sample folder, so that each sample is read once per run.
_pianos = {}


def render(midi, renderer, maestro=None, audio_filename=None, max_seconds=None, samples=None):
    """The piece's audio: rendered by fluidsynth with the renderer's SoundFont or by the sampler from the
    `samples` folder, or the user's recording (its first `max_seconds`, when given; `midi` is then already cut
    to them)."""
    import soundfile as sf
    if renderer == SAMPLER:
        from tools.train import labels, sampler
        notes, sustain = labels.read_midi(midi)
        end = max([off for _, off, _, _ in notes] + [up for _, up in sustain] + [0.0]) + 1.0  # and the last tail
        piano = _pianos.setdefault(samples, sampler.Piano(samples, SAMPLE_RATE))
        return piano.render(notes, sustain, min(end, max_seconds or math.inf))
    if renderer == "maestro":
        base = os.path.splitext(os.path.join(maestro, audio_filename))[0]
        for ext in (".wav", ".flac"):
            if os.path.exists(base + ext):
                audio, sr = sf.read(base + ext, dtype="float32", always_2d=True)
                audio = to_mono(audio, sr)
                return audio[: int(max_seconds * SAMPLE_RATE)] if max_seconds else audio
        raise FileNotFoundError(f"{base}.wav or .flac is not in the MAESTRO copy")
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "out.wav")
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(SAMPLE_RATE), "-F", wav,
                        SOUNDFONTS[renderer], midi], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    audio = to_mono(audio, sr)
    return audio[: int(max_seconds * SAMPLE_RATE)] if max_seconds else audio


def write_flac(path, audio):
    import soundfile as sf
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".part"
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > 0.99:  # keep clear of clipping; levels vary per example in training anyway
        audio = audio * (0.99 / peak)
    sf.write(tmp, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    os.replace(tmp, path)


def render_task(task):
    """Renders one cache file unless it is there (a finished file is kept): a process pool's unit of work.
    Returns the piece's duration, for the progress line."""
    out, midi, renderer, maestro, audio_filename, max_seconds, samples, duration = task
    if not os.path.exists(out):
        write_flac(out, render(midi, renderer, maestro, audio_filename, max_seconds, samples))
    return duration


def size_of(folder):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs) if os.path.isdir(folder) else 0


def merged(path, new, cache):
    """The manifest after this run: earlier runs' entries (other splits, renderers or pieces) whose audio is
    still in the cache, then this run's, so that preparing validation after train keeps train."""
    old = []
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
    ours = {e["audio"] for e in new}
    kept = [e for e in old if e["audio"] not in ours and os.path.exists(os.path.join(cache, e["audio"]))]
    return kept + new


def maps_list(path):
    """The listed recordings' paths (relative to the checkout), in the list's order."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def maps_piano(stem):
    """The piano of a MAPS recording: the last part of its name (MAPS_MUS-bach_846_AkPnBcht -> AkPnBcht)."""
    return stem.rsplit("_", 1)[1]


def prepare_maps(checkout, listed, cache):
    """Copies the listed MAPS recordings (16 kHz mono FLAC; resampled and mixed down if not) and their note
    tables into the cache: the manifest entries, train split."""
    import soundfile as sf
    entries = []
    for i, rel in enumerate(listed):
        stem = os.path.splitext(os.path.basename(rel))[0]
        if not rel.startswith("data/MAPS/flac/") or "ENSTDk" in stem:
            sys.exit(f"error: {rel} is not a MAPS sampled-piano recording (the Disklavier ones are kept aside)")
        src = os.path.join(checkout, rel)
        table = os.path.join(checkout, "data", "MAPS", "tsv", "matched", stem + ".tsv")
        for path in (src, table):
            if not os.path.exists(path):
                sys.exit(f"error: {path} is missing: --maps-synth takes a checkout of github:jongwook/onsets-and-frames")
        piano = "maps-" + maps_piano(stem)
        out = os.path.join(cache, piano, "train", stem + ".flac")
        labels = out[: -len(".flac")] + ".tsv"
        if not os.path.exists(out):
            audio, rate = sf.read(src, dtype="float32")
            write_flac(out, to_mono(audio, rate))
        if not os.path.exists(labels):
            shutil.copyfile(table, labels + ".part")
            os.replace(labels + ".part", labels)
        entries.append({"split": "train", "renderer": piano, "midi": os.path.abspath(labels),
                        "audio": os.path.relpath(out, cache), "duration": sf.info(out).duration})
        print(f"\r[{i + 1}/{len(listed)}] {stem} ", end="", flush=True)
    print()
    return entries


def write_manifest(cache, entries):
    os.makedirs(cache, exist_ok=True)
    manifest = merged(os.path.join(cache, "manifest.json"), entries, cache)
    tmp = os.path.join(cache, "manifest.json.part")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=0)
    os.replace(tmp, os.path.join(cache, "manifest.json"))
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--midi", default=os.path.join(ROOT, "..", "shared", "data", "maestro-v2-midi"))
    ap.add_argument("--maestro", help="a MAESTRO copy with audio: use its recordings instead of rendering")
    ap.add_argument("--cache", default=default_cache())
    ap.add_argument("--split", default="train,validation")
    ap.add_argument("--renderers", default="fluidr3,musescore")
    ap.add_argument("--samples", help="the sampler's samples (default: python -m tools.train.sampler's folder)")
    ap.add_argument("--hours", type=float, help="at most this much audio per split and renderer")
    ap.add_argument("--max-seconds", type=float, help="render only the first S seconds of each piece")
    ap.add_argument("--jobs", type=int, default=1, help="pieces rendered at a time, one process each")
    ap.add_argument("--maps-synth", metavar="CHECKOUT",
                    help="add the listed MAPS sampled-piano recordings from a checkout of jongwook/onsets-and-frames")
    ap.add_argument("--maps-list", default=os.path.join(ROOT, "..", "shared", "data", "maps-synth-train.txt"))
    args = ap.parse_args(argv)
    if args.maps_synth:
        manifest = write_manifest(args.cache, prepare_maps(args.maps_synth, maps_list(args.maps_list), args.cache))
        print(f"cache: {args.cache}, {size_of(args.cache) / 1e9:.2f} GB; manifest.json lists {len(manifest)} files")
        return
    renderers = ["maestro"] if args.maestro else [r for r in args.renderers.split(",") if r]
    from tools.train import sampler
    samples = args.samples or sampler.default_dir()
    for r in renderers:
        if r != "maestro" and r != SAMPLER and r not in SOUNDFONTS:
            sys.exit(f"error: unknown renderer '{r}' (known: {', '.join([*SOUNDFONTS, SAMPLER])})")
        if r in SOUNDFONTS and not os.path.exists(SOUNDFONTS[r]):
            sys.exit(f"error: {SOUNDFONTS[r]} is missing (apt-get install fluid-soundfont-gm musescore-general-soundfont)")
        if r == SAMPLER and not os.path.isdir(samples):
            sys.exit(f"error: no samples in {samples} (python -m tools.train.sampler fetch --dir {samples})")
    if any(r in SOUNDFONTS for r in renderers) and not shutil.which("fluidsynth"):
        sys.exit("error: fluidsynth is missing (apt-get install fluidsynth)")
    rows = read_csv(args.midi)
    jobs = plan(rows, args.split.split(","), renderers, args.hours)
    total = sum(min(float(r["duration"]), args.max_seconds or math.inf) for _, _, r in jobs)
    print(f"cache: {args.cache} ({size_of(args.cache) / 1e9:.2f} GB now); {len(jobs)} files, {total / 3600:.1f} h of audio")
    manifest, tasks = [], []
    for split, renderer, row in jobs:
        out = output_path(args.cache, split, renderer, row, args.max_seconds)
        midi = os.path.join(args.midi, row["midi_filename"])
        duration = min(float(row["duration"]), args.max_seconds or math.inf)
        if args.max_seconds:
            # The labels come from the cut MIDI, which is exactly what was rendered (notes end at the cut).
            cut = out[: -len(".flac")] + ".mid"
            if not os.path.exists(cut):
                os.makedirs(os.path.dirname(cut), exist_ok=True)
                truncate_midi(midi, args.max_seconds, cut + ".part")
                os.replace(cut + ".part", cut)
            midi = cut
        tasks.append((out, midi, renderer, args.maestro, row["audio_filename"], args.max_seconds, samples, duration))
        manifest.append({"split": split, "renderer": renderer, "midi": os.path.abspath(midi),
                         "audio": os.path.relpath(out, args.cache), "duration": duration})
    done_s, started = 0.0, time.time()
    pool = None
    if args.jobs > 1:
        import multiprocessing
        pool = multiprocessing.get_context("fork").Pool(args.jobs)
    results = pool.imap_unordered(render_task, tasks) if pool else map(render_task, tasks)
    for i, duration in enumerate(results):
        done_s += duration
        rate = done_s / max(time.time() - started, 1e-9)
        eta = (total - done_s) / rate if rate > 0 else 0
        print(f"\r[{i + 1}/{len(jobs)}] {done_s / 3600:.2f} of {total / 3600:.2f} h, ETA {eta / 60:.0f} min ",
              end="", flush=True)
    if pool:
        pool.close()
    print()
    manifest = write_manifest(args.cache, manifest)
    print(f"cache: {args.cache}, {size_of(args.cache) / 1e9:.2f} GB; manifest.json lists {len(manifest)} files")


if __name__ == "__main__":
    main()
