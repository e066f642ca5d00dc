"""Trains the Onsets & Frames network (tools/oaf/network.py) on the prepared cache (prepare.py), as
../shared/docs/onsets-and-frames.md specifies: 20 s examples cut where few notes sound, the spec's labels
(labels.py), acoustic augmentation per example (augment.py), binary cross-entropy for onsets, offsets and
frames, a velocity loss on labelled onsets only, Adam, gradient clipping, a decaying learning rate.

  python tools/train/train.py --out DIR [--size small|2018|2019] [--steps N] [--batch 8] [--device cpu|cuda]
        [--cache DIR] [--lr 6e-4] [--lr-decay 0.98 --lr-decay-steps 10000] [--clip 3] [--seconds 20]
        [--checkpoint-every 500] [--validate-every 2000] [--validation-pieces 4] [--seed 0]

DIR holds `checkpoint.pt` (written every --checkpoint-every steps and at the end, atomically: an interrupted
run resumes from it with the same model, optimiser, schedule, step and random state), `best.pt` (the best
validation note F1 so far), and `log.csv` (step, losses, learning rate, validation scores) that a person or a
plotting tool can read. Export a checkpoint with tools/oaf/export.py --checkpoint DIR/best.pt.
"""
import argparse
import csv
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "oaf"))
import augment  # noqa: E402
import frontend  # noqa: E402
import infer  # noqa: E402
import labels as L  # noqa: E402
import network  # noqa: E402
import prepare  # noqa: E402

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
            self._notes[entry["midi"]] = L.read_midi(entry["midi"])
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
    start = quiet_start(notes, entry["duration"], seconds, rng)
    n = int(seconds * sr)
    audio = pieces.audio(entry, int(start * sr), n)
    audio = np.pad(audio, (0, n - len(audio)))
    shifted = [(on - start, off - start, p, v) for on, off, p, v in notes if off > start and on < start + seconds]
    pedal = [(a - start, b - start) for a, b in sustain if b > start and a < start + seconds]
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


def losses(outputs, targets):
    onset, offset, frame, velocity = outputs
    t_on, t_off, t_fr, t_vel = targets
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    vel = (t_on * (velocity - t_vel) ** 2).sum() / t_on.sum().clamp(min=1.0)
    return {"onset": bce(onset, t_on), "offset": bce(offset, t_off), "frame": bce(frame, t_fr), "velocity": vel}


def validate(net, fe, pieces, header, count, seconds=60.0):
    """Mean note / +offset / frame F1 on the first `seconds` of `count` validation pieces (mir_eval)."""
    import mir_eval
    net.eval()
    scores = []
    probs_net = network.Probabilities(net)
    for entry in pieces.entries[:count]:
        audio = pieces.audio(entry, 0, int(seconds * frontend.CONFIG["sample_rate"]))
        with torch.no_grad():
            onset, _, frame, velocity = infer.probabilities(probs_net, fe, audio, header)
        est = infer.decode(onset, frame, velocity, header)
        notes, sustain = pieces.notes(entry)
        ref = [n for n in L.extend_with_sustain(notes, sustain) if n[0] < seconds]
        if not ref:
            continue
        ri = np.array([[a, min(b, seconds)] for a, b, _, _ in ref])
        rp = np.array([440.0 * 2 ** ((p - 69) / 12) for _, _, p, _ in ref])
        ei = np.array([[a, b] for a, b, _, _ in est]).reshape(-1, 2)
        ep = np.array([440.0 * 2 ** ((p - 69) / 12) for _, _, p, _ in est])
        note = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, offset_ratio=None)[2]
        with_off = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep)[2]
        scores.append((note, with_off))
    net.train()
    return tuple(float(np.mean([s[i] for s in scores])) if scores else 0.0 for i in range(2))


def save(path, state):
    tmp = path + ".part"
    torch.save(state, tmp)
    os.replace(tmp, path)


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
    ap.add_argument("--train-split", default="train")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    device = torch.device(args.device)
    net = network.OnsetsAndFrames(args.size).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=args.lr_decay_steps, gamma=args.lr_decay)
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    step, best = 0, -1.0
    if os.path.exists(ckpt_path):
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        if state["size"] != args.size:
            raise SystemExit(f"error: {ckpt_path} is a '{state['size']}' network; resume with --size {state['size']}")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        step, best = state["step"], state.get("best", -1.0)
        print(f"resumed from {ckpt_path} at step {step}")
    train = Pieces(args.cache, args.train_split)
    valid = Pieces(args.cache, "validation")
    fe = frontend.LogMel().to(device)
    header = {**frontend.CONFIG, "segment_seconds": 20.0, "segment_hop_seconds": 16.0,
              "thresholds": {"onset": [0.5] * network.KEYS, "frame": [0.5] * network.KEYS},
              "keys": {"lowest": network.LOWEST_KEY, "count": network.KEYS}, "velocity": {"scale": 80, "offset": 10}}
    header["frames_per_segment"] = 1 + math.ceil(20.0 * header["sample_rate"]) // header["hop"]
    log_path = os.path.join(args.out, "log.csv")
    new_log = not os.path.exists(log_path)
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "onset", "offset", "frame", "velocity", "lr", "valid_note_f1", "valid_offset_f1"])

    def checkpoint():
        save(ckpt_path, {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                         "rng": rng.getstate(), "torch_rng": torch.get_rng_state(), "step": step, "best": best,
                         "size": args.size, "args": vars(args)})

    net.train()
    started, seen = time.time(), 0
    while step < args.steps:
        batch = [example(train, args.seconds, rng) for _ in range(args.batch)]
        audio = torch.from_numpy(np.stack([b[0] for b in batch])).to(device)
        targets = [torch.from_numpy(np.stack([b[1][i] for b in batch])).to(device) for i in range(4)]
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
        rate = seen / max(time.time() - started, 1e-9)
        print(f"\rstep {step}/{args.steps}  loss {loss.item():.4f} (onset {parts['onset'].item():.4f}, frame "
              f"{parts['frame'].item():.4f})  {rate:.2f} examples/s ", end="", flush=True)
        row = [step] + [round(parts[k].item(), 6) for k in ("onset", "offset", "frame", "velocity")]
        row.append(sched.get_last_lr()[0])
        if step % args.validate_every == 0 or step == args.steps:
            note, with_off = validate(net, fe, valid, header, args.validation_pieces)
            print(f"\n  validation: note F1 {note:.4f}, with offsets {with_off:.4f}")
            row += [round(note, 4), round(with_off, 4)]
            if note > best:
                best = note
                save(os.path.join(args.out, "best.pt"), {"model": net.state_dict(), "size": args.size,
                                                          "provenance": {"steps": step, "validation_note_f1": note,
                                                                         "trained_on": args.cache}})
        writer.writerow(row)
        log.flush()
        if step % args.checkpoint_every == 0 or step == args.steps:
            checkpoint()
    print()
    log.close()


if __name__ == "__main__":
    main()
