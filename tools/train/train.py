"""Trains the Onsets & Frames network (tools/oaf/network.py) on the prepared cache (prepare.py), as
../shared/docs/onsets-and-frames.md specifies: 20 s examples cut where few notes sound, the spec's labels
(labels.py), acoustic augmentation per example (augment.py), binary cross-entropy for onsets, offsets and
frames, a velocity loss on labelled onsets only, Adam, gradient clipping, a decaying learning rate.

  python -m tools.train.train --out DIR [--size small|2018|2019] [--steps N] [--batch 8] [--device cpu|cuda]
        [--cache DIR] [--lr 6e-4] [--lr-decay 0.98 --lr-decay-steps 10000] [--clip 3] [--seconds 20]
        [--checkpoint-every 500] [--validate-every 2000] [--validation-pieces 4] [--seed 0] [--resume-from FILE]
        [--restart-schedule] [--workers N] [--hours H]

DIR holds `checkpoint.pt` (written every --checkpoint-every steps and at the end, atomically: an interrupted
run resumes from it with the same model, optimiser, schedule, step and random state), `best.pt` (the best
validation note F1 so far), and `log.csv` (step, losses, learning rate, validation scores) that a person or a
plotting tool can read. `--resume-from FILE` starts a new DIR from a state that the repository keeps
(tools/train/keep.py: the weights, step and schedule without Adam's moments), so that a run goes on elsewhere.
Export a checkpoint with tools/train/run.sh export --checkpoint DIR/best.pt
(tools/oaf/export.py).
"""
import argparse
import csv
import json
import os
import random
import time

import numpy as np
import torch

from tools.oaf import export, frontend, infer, network
from tools.train import augment, prepare
from tools.train import labels as L
from tools.train.runs import keep_log, save

HERE = os.path.dirname(os.path.abspath(__file__))

HOP_SECONDS = frontend.CONFIG["hop"] / frontend.CONFIG["sample_rate"]


class Pieces:
    """The cache's pieces of one split, with their notes read once."""

    def __init__(self, cache, split):
        with open(os.path.join(cache, "manifest.json")) as f:
            self.entries = [e for e in json.load(f) if e["split"] == split]
        if not self.entries:
            raise SystemExit(f"error: no {split} pieces in {cache}/manifest.json (run tools/train/prepare.py)")
        self.cache = cache
        self._notes = {}

    def notes(self, entry):
        if entry["midi"] not in self._notes:
            self._notes[entry["midi"]] = L.read_notes(entry["midi"])
        return self._notes[entry["midi"]]

    def audio(self, entry, start=0, frames=-1):
        import soundfile as sf
        audio, _ = sf.read(os.path.join(self.cache, entry["audio"]), start=start, frames=frames, dtype="float32")
        return audio


def quiet_start(notes, duration, seconds, rng, tries=8):
    """A window start where few notes sound across its two edges (the spec: cut where few notes are active)."""
    def crossing(t):
        return sum(1 for on, off, _, _ in notes if on < t < off)
    best = None
    for _ in range(tries):
        s = rng.uniform(0, max(duration - seconds, 0))
        score = crossing(s) + crossing(s + seconds)
        if best is None or score < best[0]:
            best = (score, s)
    return best[1]


def example(pieces, seconds, rng, augmenting=True):
    """One training example: augmented audio [samples] and its labels [frames, 88] x 4."""
    weights = [e["duration"] for e in pieces.entries]
    entry = rng.choices(pieces.entries, weights)[0]
    notes, sustain = pieces.notes(entry)
    sr = frontend.CONFIG["sample_rate"]
    # Varispeed (half the examples, +-2 %): `span` seconds of the piece become `seconds` of audio.
    speed = rng.uniform(0.98, 1.02) if augmenting and rng.random() < 0.5 else 1.0
    span = seconds * speed
    start = quiet_start(notes, entry["duration"], span, rng)
    n = int(seconds * sr)
    audio = pieces.audio(entry, int(start * sr), int(span * sr))
    if speed != 1.0:
        audio = augment.varispeed(audio, speed, sr)
    audio = np.pad(audio[:n], (0, max(n - len(audio), 0)))
    shifted = [(on - start, off - start, p, v) for on, off, p, v in notes if off > start and on < start + span]
    pedal = [(a - start, b - start) for a, b in sustain if b > start and a < start + span]
    shifted, pedal = augment.stretch_notes(shifted, pedal, tempo=speed)
    frames = 1 + n // frontend.CONFIG["hop"]
    lab = L.labels(shifted, pedal, frames, HOP_SECONDS)
    if augmenting:
        nrng = np.random.default_rng(rng.getrandbits(32))
        audio = augment.gain(audio, rng.uniform(-12, 6))
        if rng.random() < 0.5:
            audio = augment.room(audio, augment.room_impulse(sr, rng.uniform(0.2, 1.5), nrng), rng.uniform(0.1, 0.6))
        if rng.random() < 0.5:
            audio, _ = augment.colour(audio, sr, nrng)
        if rng.random() < 0.5:
            audio = augment.noise(audio, rng.uniform(10, 40), nrng, rng.choice(["white", "pink"]))
    return audio.astype(np.float32), lab


def make_batch(pieces, seconds, size, seed, step):
    """The batch of training step `step`: its examples drawn with a random generator seeded by (seed, step), so
    that a resumed run sees exactly the batches the uninterrupted one would have seen."""
    rng = random.Random(f"{seed}:{step}")
    batch = [example(pieces, seconds, rng) for _ in range(size)]
    return np.stack([b[0] for b in batch]), [np.stack([b[1][i] for b in batch]) for i in range(4)]


class Prefetch:
    """Makes the next batches in a thread while the network trains on this one (decoding, rendering the
    augmentation and labelling are numpy and soundfile work that leaves the interpreter lock)."""

    def __init__(self, make, first, last, depth=2):
        import queue
        import threading
        self.queue = queue.Queue(maxsize=depth)

        def run():
            for step in range(first, last + 1):
                try:
                    self.queue.put((make(step), None))
                except Exception as e:  # noqa: BLE001 (handed to the training loop, which raises it)
                    self.queue.put((None, e))
                    return
        threading.Thread(target=run, daemon=True).start()

    def next(self):
        batch, error = self.queue.get()
        if error is not None:
            raise error
        return batch

    def close(self):
        pass  # the thread is a daemon: it ends with the process


# What the worker processes of ParallelBatches make batches of, set before they are forked (a process pool
# pickles the function it runs, and a module-level one pickles by name).
_BATCH_ARGS = None


def _batch_of_step(step):
    return make_batch(*_BATCH_ARGS, step)


class ParallelBatches:
    """Prefetch's batches made by `workers` forked processes, for a GPU that trains faster than one core
    makes examples. Each batch is still a function of (seed, step) alone, so the run is the one a single
    thread would give; at most `depth` batches per worker wait, so memory stays bounded."""

    def __init__(self, pieces, seconds, size, seed, first, last, workers, depth=2):
        import collections
        import multiprocessing
        global _BATCH_ARGS
        _BATCH_ARGS = (pieces, seconds, size, seed)
        self.pool = multiprocessing.get_context("fork").Pool(workers)
        self.pending = collections.deque()
        self.steps = iter(range(first, last + 1))
        for _ in range(workers * depth):
            self._submit()

    def _submit(self):
        step = next(self.steps, None)
        if step is not None:
            self.pending.append(self.pool.apply_async(_batch_of_step, (step,)))

    def next(self):
        batch = self.pending.popleft().get()
        self._submit()
        return batch

    def close(self):
        self.pool.terminate()


def losses(outputs, targets):
    onset, offset, frame, velocity = outputs
    t_on, t_off, t_fr, t_vel = targets
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    vel = (t_on * (velocity - t_vel) ** 2).sum() / t_on.sum().clamp(min=1.0)
    return {"onset": bce(onset, t_on), "offset": bce(offset, t_off), "frame": bce(frame, t_fr), "velocity": vel}


def note_scores(ref, est):
    """mir_eval's note F1 without and with offsets, for notes (onset, offset, pitch, velocity)."""
    import mir_eval
    ri = np.array([[a, b] for a, b, _, _ in ref]).reshape(-1, 2)
    rp = np.array([440.0 * 2 ** ((p - 69) / 12) for _, _, p, _ in ref])
    ei = np.array([[a, b] for a, b, _, _ in est]).reshape(-1, 2)
    ep = np.array([440.0 * 2 ** ((p - 69) / 12) for _, _, p, _ in est])
    note = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, offset_ratio=None)[2]
    with_off = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep)[2]
    return note, with_off


def validation_sets(pieces, count, maps_dir, seconds=60.0):
    """(name, [(audio, reference notes)]): the first `seconds` of `count` MAESTRO validation pieces (what picks
    the best checkpoint), and the maps-dev recordings whole (real pianos; logged, never used to choose)."""
    sets = []
    maestro = []
    for entry in pieces.entries[:count]:
        audio = pieces.audio(entry, 0, int(seconds * frontend.CONFIG["sample_rate"]))
        notes, sustain = pieces.notes(entry)
        ref = [(a, min(b, seconds), p, v) for a, b, p, v in L.extend_with_sustain(notes, sustain) if a < seconds]
        if ref:
            maestro.append((audio, ref))
    sets.append(("validation", maestro))
    if maps_dir and os.path.isdir(maps_dir):
        import soundfile as sf
        maps = []
        for name in sorted(n for n in os.listdir(maps_dir) if n.endswith(".flac")):
            audio, sr = sf.read(os.path.join(maps_dir, name), dtype="float32", always_2d=True)
            if sr != frontend.CONFIG["sample_rate"]:
                raise SystemExit(f"error: {name} is at {sr} Hz; maps-dev is 16 kHz")
            ref = []
            with open(os.path.join(maps_dir, name[:-5] + ".tsv")) as f:
                for line in f:
                    cells = line.split()
                    try:
                        # maps-dev writes pitch and velocity as decimals ("70.000000")
                        ref.append((float(cells[0]), float(cells[1]), round(float(cells[2])), round(float(cells[3]))))
                    except (ValueError, IndexError):
                        continue  # a header or comment line
            maps.append((audio.mean(axis=1), ref))
        sets.append(("maps-dev", maps))
    return sets


THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


def validate(net, fe, sets, header):
    """{set: {onset threshold: (mean note F1, mean note-with-offset F1)}} over each validation set's pieces,
    for every threshold in THRESHOLDS (one network pass per piece; early in training the onset head is
    confident nowhere near 0.5, and `pianoscribe calibrate` sets the shipped thresholds anyway)."""
    net.eval()
    probs_net = network.Probabilities(net)
    out = {}
    for name, items in sets:
        scores = {th: [] for th in THRESHOLDS}
        for audio, ref in items:
            with torch.no_grad():
                onset, _, frame, velocity = infer.probabilities(probs_net, fe, audio, header)
            for th in THRESHOLDS:
                h = {**header, "thresholds": {"onset": [th] * network.KEYS, "frame": [min(th, 0.5)] * network.KEYS}}
                scores[th].append(note_scores(ref, infer.decode(onset, frame, velocity, h)))
        out[name] = {th: tuple(float(np.mean([s[i] for s in v])) if v else 0.0 for i in range(2))
                     for th, v in scores.items()}
    net.train()
    return out


def load_state(path, device="cpu"):
    """A run's checkpoint or a kept state (keep.py), or a clear error saying what the file is not."""
    if not os.path.isfile(path):
        raise SystemExit(f"error: {path} does not exist")
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as e:  # noqa: BLE001 (any unreadable file gets the same message)
        raise SystemExit(f"error: {path} is not a PyTorch file ({type(e).__name__})") from None
    missing = [k for k in ("model", "scheduler", "step", "size") if not isinstance(state, dict) or k not in state]
    if missing:
        raise SystemExit(f"error: {path} is not a checkpoint of tools/train/train.py nor a state kept by "
                         f"tools/train/run.sh keep (it lacks {', '.join(missing)}; best.pt holds weights only)")
    return state


def restore(state, net, opt, sched):
    """Loads a checkpoint's or a kept state's weights, schedule and random state into the run; returns (step,
    best validation score, elapsed seconds). Without the optimiser's state, Adam starts afresh at the
    schedule's learning rate."""
    net.load_state_dict(state["model"])
    sched.load_state_dict(state["scheduler"])
    if "optimizer" in state:
        opt.load_state_dict(state["optimizer"])
    else:
        for group, lr in zip(opt.param_groups, sched.get_last_lr()):
            group["lr"] = lr
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    return state["step"], state.get("best", -1.0), state.get("wall_seconds", 0.0)


def describe_data(pieces):
    """What the training set is, for the bundle's provenance."""
    by = {}
    for e in pieces.entries:
        by.setdefault(e["renderer"], [0, 0.0])
        by[e["renderer"]][0] += 1
        by[e["renderer"]][1] += e["duration"] / 3600
    maestro = [f"{r}: {n} pieces, {h:.1f} h" for r, (n, h) in sorted(by.items()) if not r.startswith("maps-")]
    maps = [f"{r[5:]}: {n} pieces, {h:.1f} h" for r, (n, h) in sorted(by.items()) if r.startswith("maps-")]
    parts = []
    if maestro:
        parts.append("MAESTRO v2 train performance MIDI (" + "; ".join(maestro) + ")")
    if maps:
        parts.append("MAPS sampled pianos, the listed recordings (" + "; ".join(maps) + ")")
    return "; ".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default=prepare.default_cache())
    ap.add_argument("--size", choices=list(network.SIZES), default="small")
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--lr-decay", type=float, default=0.98)
    ap.add_argument("--lr-decay-steps", type=int, default=10000)
    ap.add_argument("--clip", type=float, default=3.0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--validate-every", type=int, default=2000)
    ap.add_argument("--validation-pieces", type=int, default=4)
    ap.add_argument("--maps", default=os.path.join(HERE, "..", "..", "..", "shared", "data", "maps-dev"),
                    help="real recordings with .tsv notes, scored at each validation and logged ('' for none)")
    ap.add_argument("--train-split", default="train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume-from", metavar="FILE",
                    help="without OUT/checkpoint.pt, go on from this kept state (tools/train/keep.py)")
    ap.add_argument("--restart-schedule", action="store_true",
                    help="with --resume-from: the learning rate starts again at --lr and decays by --lr-decay every "
                         "--lr-decay-steps steps from there, instead of going on with the kept schedule")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes that make the batches (default 1: a thread beside the training loop)")
    ap.add_argument("--hours", type=float,
                    help="stop after this many hours of this invocation (validating and checkpointing first), "
                         "so that a run fits a machine lent for a while; --steps still bounds it")
    args = ap.parse_args(argv)
    if args.workers < 1:
        raise SystemExit("error: --workers takes 1 or more")

    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 matrix products: the LSTMs' and fully connected layers'
    torch.manual_seed(args.seed)  # before the network, whose initial weights are drawn here
    net = network.OnsetsAndFrames(args.size).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=args.lr_decay_steps, gamma=args.lr_decay)
    step, best, wall = 0, -1.0, 0.0
    log_path = os.path.join(args.out, "log.csv")
    # A run resumes from its own checkpoint, or else from a state that the repository kept (tools/train/keep.py).
    source = ckpt_path if os.path.exists(ckpt_path) else args.resume_from
    state = {}
    if source:
        state = load_state(source, device)
        if state["size"] != args.size:
            raise SystemExit(f"error: {source} is a '{state['size']}' network; resume with --size {state['size']}")
        step, best, wall = restore(state, net, opt, sched)
        if source != ckpt_path and args.restart_schedule:
            # The kept weights go on under a schedule of this command's own (an annealing stretch, say).
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] = args.lr
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=args.lr_decay_steps, gamma=args.lr_decay)
        if source != ckpt_path:
            # best.pt is not kept, so the first validation here writes one (the kept weights may be past it).
            best = -1.0
            with open(log_path, "w") as f:
                f.write(state.get("log", ""))
        print(f"resumed from {source} at step {step}"
              + ("" if "optimizer" in state else " (Adam's moments start afresh: the kept state leaves them out)"))
    train = Pieces(args.cache, args.train_split)
    sets = validation_sets(Pieces(args.cache, "validation"), args.validation_pieces, args.maps)
    fe = frontend.LogMel().to(device)
    # The windows and default thresholds the exported bundle will have, so validation decodes as the engine does.
    header = export.header_for(args.size, export.SEGMENT_SECONDS, export.SEGMENT_HOP_SECONDS, {})
    columns = ["step", "onset", "offset", "frame", "velocity", "lr", "wall_seconds", "valid_note_f1",
               "valid_offset_f1", "maps_note_f1", "maps_offset_f1", "onset_threshold", "valid_note_f1_at_threshold",
               "maps_note_f1_at_threshold"]
    keep_log(log_path, columns, step)
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    provenance = {"trained_on": describe_data(train), "size": args.size, "training_code_commit": export.git_commit(),
                  "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
                  "batch": args.batch, "example_seconds": args.seconds}

    # What the latest validation said, for the checkpoint's provenance (an export of checkpoint.pt states it).
    latest = dict(state.get("latest", {}))

    def checkpoint():
        save(ckpt_path, {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                         "torch_rng": torch.get_rng_state(), "step": step, "best": best, "wall_seconds": elapsed(),
                         "size": args.size, "args": vars(args), "latest": latest,
                         "provenance": {**provenance, **latest, "steps": step,
                                        "training_hours": round(elapsed() / 3600, 2)}})

    net.train()
    started, seen = time.time(), 0

    def elapsed():
        return wall + time.time() - started

    if args.workers > 1:
        batches = ParallelBatches(train, args.seconds, args.batch, args.seed, step + 1, args.steps, args.workers)
    else:
        batches = Prefetch(lambda s: make_batch(train, args.seconds, args.batch, args.seed, s), step + 1, args.steps)
    last = args.steps
    while step < last:
        audio, targets = batches.next()
        audio = torch.from_numpy(audio).to(device)
        targets = [torch.from_numpy(t).to(device) for t in targets]
        with torch.no_grad():
            mel = fe(audio)
        parts = losses(net(mel), targets)
        loss = sum(parts.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), args.clip)
        opt.step()
        sched.step()
        step += 1
        seen += args.batch
        if args.hours is not None and time.time() - started >= args.hours * 3600:
            last = step  # this step ends the run as the last of --steps would: validated and checkpointed
        rate = seen / max(time.time() - started, 1e-9)
        eta = (args.steps - step) * args.batch / rate
        print(f"\rstep {step}/{args.steps}  loss {loss.item():.4f} (onset {parts['onset'].item():.4f}, frame "
              f"{parts['frame'].item():.4f})  {rate:.2f} examples/s, ETA {eta / 3600:.1f} h ", end="", flush=True)
        row = [step] + [round(parts[k].item(), 6) for k in ("onset", "offset", "frame", "velocity")]
        row += [sched.get_last_lr()[0], round(elapsed(), 1)]
        if step % args.validate_every == 0 or step == last:
            scores = validate(net, fe, sets, header)
            note, with_off = scores["validation"][0.5]
            # The onset threshold that does best on validation (never chosen on maps-dev, the report set).
            th = max(THRESHOLDS, key=lambda t: scores["validation"][t][0])
            chosen = scores["validation"][th][0]
            print(f"\n  validation: note F1 {note:.4f}, with offsets {with_off:.4f}; at onset threshold {th}: "
                  f"{chosen:.4f}", end="")
            row += [round(note, 4), round(with_off, 4)]
            maps = None
            if "maps-dev" in scores:
                maps = scores["maps-dev"]
                print(f"; maps-dev note F1 {maps[0.5][0]:.4f} (at {th}: {maps[th][0]:.4f})", end="")
                row += [round(maps[0.5][0], 4), round(maps[0.5][1], 4)]
            else:
                row += ["", ""]
            row += [th, round(chosen, 4), round(maps[th][0], 4) if maps else ""]
            print()
            latest.update({"steps": step, "examples": step * args.batch, "training_hours": round(elapsed() / 3600, 2),
                           "validation_note_f1": round(chosen, 4), "validation_onset_threshold": th,
                           **({"maps_dev_note_f1_during_training": round(maps[th][0], 4)} if maps else {})})
            if chosen > best:
                best = chosen
                save(os.path.join(args.out, "best.pt"), {"model": net.state_dict(), "size": args.size,
                                                          "provenance": {**provenance, **latest}})
        writer.writerow(row)
        log.flush()
        if step % args.checkpoint_every == 0 or step == last:
            checkpoint()
    batches.close()
    print()
    log.close()


if __name__ == "__main__":
    main()
