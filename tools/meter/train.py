"""Trains the metrical model (tools/meter/network.py) on the prepared ASAP cache (tools/meter/data.py): random
windows of --notes performed notes from the training compositions, augmented (tools/meter/augment.py: tempo,
transposition, velocity, a transcription's errors), binary cross-entropy for the per-note beat and downbeat
targets and a smooth L1 loss on the ln inter-beat interval (with --period-bins, also cross-entropy over the
period bins), Adam, gradient clipping; with --ema D, validation and best.pt use an exponential moving average of
the weights (decay D per step), which evens out the step-to-step swings of the validation figures.

  python -m tools.meter.train --cache CACHE --out RUN [--steps N] [--hours H] [--batch 16] [--notes 500]
        [--lr 1e-3] [--decay-steps 0] [--clip 1] [--validate-every 200] [--checkpoint-every 50] [--threads 1]
        [--seed 0] [--ema 0] [--rubato 0] [--balance notes] [--period-bins 0] [--bar-classes 0]

The learning rate is --lr throughout, or with --decay-steps N falls along a half cosine from --lr at step 0 to
1 % of it at step N (and stays there): a function of the step alone, so that a resumed run follows it exactly.

RUN holds `checkpoint.pt` (written every --checkpoint-every steps and at the end, atomically: an interrupted run
resumes from it with the same model, optimiser, step and random state, and sees the batches the uninterrupted
run would have seen: each batch is drawn by a generator seeded with (seed, step)), `best.pt` (the best mean of
validation beat F and downbeat F so far, each averaged per composition first), and `log.csv` (step, losses,
learning rate, hours, seconds per step, validation scores). Validation: each validation performance whole
(compositions never trained on, from asap-train only), beats and downbeats decoded simply
(tools/meter/metrics.py: notes over 0.5, merged within 50 ms) and scored with mir_eval's F-measure (70 ms),
averaged over performances and (what chooses best.pt) over compositions; once on the clean performance MIDI and
once on a copy given a transcription's errors (fixed seed), which is logged and never chooses.
"""
import argparse
import copy
import csv
import os
import platform
import subprocess
import time

import numpy as np
import torch

from tools.meter import augment, data, metrics, network
from tools.train.runs import keep_log, save

HERE = os.path.dirname(os.path.abspath(__file__))


def example(cache, indices, weights, notes_per_window, rng, augmenting=True, rubato=0.0):
    """(features [n, F], targets [5, n]: beat, downbeat, ln ibi, mask, bar-length class or -1) for one window of
    a random performance
    (chosen in proportion to its notes); n <= notes_per_window (less only for a shorter performance)."""
    i = indices[rng.choice(len(indices), p=weights)]
    notes, sustain = cache.notes(i), cache.sustain(i)
    beats, downbeats = cache.beats(i), cache.downbeats(i)
    take = int(notes_per_window * 1.1) + 8  # room for the notes that augmentation drops
    start = int(rng.integers(0, max(len(notes) - take, 0) + 1))
    w = notes[start:start + take]
    t0 = w[0, 0]
    lo, hi = t0 - 1.0, w[-1, 0] + 1.0
    shift = np.array([t0, t0, 0, 0])
    sus = sustain[(sustain[:, 1] > lo) & (sustain[:, 0] < hi)] - t0
    b = beats[(beats > lo - 1.0) & (beats < hi + 1.0)] - t0
    d = downbeats[(downbeats > lo - 1.0) & (downbeats < hi + 1.0)] - t0
    w = w - shift
    if augmenting:
        w, sus, b, d = augment.window(w, sus, b, d, rng, rubato=rubato)
    w = w[:notes_per_window]
    x = data.features(w, sus)
    beat, down, ibi, mask = data.targets(w[:, 0], b, d)
    bar = data.bar_lengths(w[:, 0], b, d).astype(np.float32)
    # The last notes of a cut window may miss a note that the full sequence would have nearer a beat; their
    # targets still hold (within 50 ms of a beat, or nearest it within 70 ms among the window's notes).
    return x, np.stack([beat, down, ibi, mask, bar])


def sampling_weights(entries, balance="notes"):
    """How often each entry's windows are drawn (summing to 1): in proportion to its notes, or with
    balance="composition" each composition alike (its share split among its entries by their notes), so that a
    composition played 20 times in the training set does not teach its metrical conventions 20 times over."""
    notes = np.array([e["notes"] for e in entries], np.float64)
    if balance == "composition":
        total = {}
        for e, n in zip(entries, notes):
            total[e["composition"]] = total.get(e["composition"], 0.0) + n
        notes = notes / np.array([total[e["composition"]] for e in entries])
    elif balance != "notes":
        raise ValueError(f"unknown balance {balance!r}: notes or composition")
    return notes / notes.sum()


def make_batch(cache, indices, weights, args, step):
    rng = np.random.default_rng([args.seed, step])
    items = [example(cache, indices, weights, args.notes, rng, rubato=args.rubato) for _ in range(args.batch)]
    n = max(len(x) for x, _ in items)
    x = np.zeros((len(items), n, data.FEATURES), np.float32)
    y = np.zeros((len(items), 5, n), np.float32)
    y[:, 4] = -1  # padding has no bar length
    for k, (xi, yi) in enumerate(items):
        x[k, :len(xi)] = xi
        y[k, :, :len(xi)] = yi
    return torch.from_numpy(x), torch.from_numpy(y)


def losses(outputs, y):
    beat, down, ibi, bar, period = outputs
    mask = y[:, 3]
    count = mask.sum().clamp(min=1.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    sl1 = torch.nn.functional.smooth_l1_loss
    out = {"beat": (bce(beat, y[:, 0], reduction="none") * mask).sum() / count,
           "downbeat": (bce(down, y[:, 1], reduction="none") * mask).sum() / count,
           "ibi": (sl1(ibi, y[:, 2], reduction="none", beta=0.1) * mask).sum() / count,
           "bar": torch.zeros(()), "period": torch.zeros(())}
    known = y[:, 4] >= 0
    if bar is not None and known.any():
        out["bar"] = torch.nn.functional.cross_entropy(bar[known], y[:, 4][known].long())
    if period is not None and mask.any():
        k = torch.from_numpy(data.period_bin(np.exp(y[:, 2].numpy()), period.shape[2]))
        on = mask > 0
        out["period"] = torch.nn.functional.cross_entropy(period[on], k[on])
    return out


def probabilities(net, notes, sustain):
    """Per-note beat and downbeat probabilities, inter-beat interval (s), bar-length log-probabilities
    ([n, classes], or None) and period-bin log-probabilities ([n, bins], or None) of one whole performance."""
    x = torch.from_numpy(data.features(notes, sustain))[None]
    with torch.no_grad():
        beat, down, ibi, bar, period = net(x)
    bar = torch.log_softmax(bar[0], dim=1).numpy() if bar is not None else None
    period = torch.log_softmax(period[0], dim=1).numpy() if period is not None else None
    return torch.sigmoid(beat[0]).numpy(), torch.sigmoid(down[0]).numpy(), torch.exp(ibi[0]).numpy(), bar, period


def regressed_period(beat, seconds):
    """A performance's beat period (s) by the regression: the median of the per-note periods weighted by the
    notes' beat probabilities."""
    order = np.argsort(seconds)
    weight = np.cumsum(beat[order])
    return float(seconds[order][np.searchsorted(weight, 0.5 * weight[-1])])


def binned_period(log_probs):
    """A performance's beat period (s) by the period-bin head: the bin of the highest mean log-probability."""
    return float(data.bin_seconds(log_probs.shape[1])[int(np.argmax(log_probs.mean(axis=0)))])


def period_right(estimate, beats):
    """Whether a performance's beat period lies within 15 % of its annotated median inter-beat interval."""
    return abs(np.log(estimate / np.median(np.diff(beats)))) < np.log(1.15)


def piece_bar_length(log_probs):
    """The bar-length class of a whole performance: the highest mean log-probability over its notes."""
    return int(np.argmax(log_probs.mean(axis=0)))


def annotated_bar_length(notes, beats, downbeats):
    """The performance's most common bar-length class over its notes (-1 if none is known)."""
    c = data.bar_lengths(notes[:, 0], beats, downbeats)
    c = c[c >= 0]
    return int(np.bincount(c).argmax()) if len(c) else -1


def validation_sets(cache, indices, seed=12345):
    """[(name, [(notes, sustain, beats, downbeats, composition)])]: the validation performances as they are, and
    the same given a transcription's errors (drawn once, with a fixed seed: the same copy at every validation)."""
    clean, noisy = [], []
    for i in indices:
        notes, sustain, beats, downbeats = cache.notes(i), cache.sustain(i), cache.beats(i), cache.downbeats(i)
        composition = cache.entries[i]["composition"]
        clean.append((notes, sustain, beats, downbeats, composition))
        rng = np.random.default_rng([seed, i])
        n = augment.jitter(notes, rng, 0.015)
        n = augment.drop_soft(n, rng, 0.03)
        n = augment.extra_notes(n, rng, 0.02)
        n = augment.split_notes(n, rng, 0.01)
        n = augment.merge_notes(n, rng, 0.01)
        noisy.append((augment.sort(n), sustain, beats, downbeats, composition))
    return [("valid", clean), ("noisy", noisy)]


def validate(net, sets, threshold=0.5):
    """{set: (mean beat F, mean downbeat F, share of performances whose bar length is right or NaN without the
    head, share whose regressed period is right, share whose binned period is right or NaN without the head, beat F
    and downbeat F averaged per composition first)} over each set's performances (a period is right within 15 % of
    the annotated median inter-beat interval)."""
    was_training = net.training
    net.eval()
    out = {}
    for name, items in sets:
        fb, fd, right, regressed, binned = [], [], [], [], []
        for notes, sustain, beats, downbeats, _ in items:
            pb, pd, seconds, bar, period = probabilities(net, notes, sustain)
            fb.append(metrics.f_measure(beats, metrics.decode(notes[:, 0], pb, threshold))[2])
            fd.append(metrics.f_measure(downbeats, metrics.decode(notes[:, 0], pd, threshold))[2])
            truth = annotated_bar_length(notes, beats, downbeats)
            if bar is not None and truth >= 0:
                right.append(piece_bar_length(bar) == truth)
            if len(beats) >= 3:
                regressed.append(period_right(regressed_period(pb, seconds), beats))
                if period is not None:
                    binned.append(period_right(binned_period(period), beats))
        share = lambda v: float(np.mean(v)) if v else float("nan")
        pieces = [c for *_, c in items]
        out[name] = (float(np.mean(fb)), float(np.mean(fd)), share(right), share(regressed), share(binned),
                     metrics.per_composition(fb, pieces), metrics.per_composition(fd, pieces))
    net.train(was_training)
    return out


def git_commit():
    """HEAD of the repository, with "+changes" when tools/meter differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=HERE, capture_output=True,
                               text=True, check=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


COLUMNS = ["step", "loss", "beat", "downbeat", "ibi", "lr", "hours", "step_seconds", "examples_per_second",
           "valid_beat_f", "valid_downbeat_f", "noisy_beat_f", "noisy_downbeat_f", "validation_seconds", "bar",
           "valid_bar_right", "noisy_bar_right", "period", "valid_period_right", "noisy_period_right",
           "valid_binned_period_right", "noisy_binned_period_right", "valid_composition_beat_f",
           "valid_composition_downbeat_f"]


def learning_rate(args, step):
    """The rate for `step` (0-based): constant, or a half cosine down to 1 % over --decay-steps."""
    if args.decay_steps <= 0:
        return args.lr
    t = min(step / args.decay_steps, 1.0)
    return args.lr * (0.01 + 0.99 * 0.5 * (1.0 + np.cos(np.pi * t)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--hours", type=float, default=0.0, help="stop (with a checkpoint) after this much training")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--notes", type=int, default=500)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--decay-steps", type=int, default=0, help="cosine decay to 1%% of --lr by this step")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--ibi-weight", type=float, default=0.5)
    ap.add_argument("--bar-weight", type=float, default=0.5)
    ap.add_argument("--period-weight", type=float, default=0.5)
    ap.add_argument("--rubato", type=float, default=0.0,
                    help="warp each window's tempo by a smooth curve up to this depth (log; tools/meter/augment.warp)")
    ap.add_argument("--balance", choices=["notes", "composition"], default="notes",
                    help="draw windows in proportion to each performance's notes, or each composition alike")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="validate (and keep as best.pt) a moving average of the weights with this decay per step")
    ap.add_argument("--checkpoint-every", type=int, default=50)
    ap.add_argument("--validate-every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    for k, v in network.DEFAULT.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # once per process: a second run in the same process (the resume test) keeps it
        pass

    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    config = {k: getattr(args, k) for k in network.DEFAULT}
    torch.manual_seed(args.seed)  # before the network, whose initial weights are drawn here
    net = network.MeterNet(**config)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    # The averaged weights that validation sees (the network itself without --ema).
    ema = copy.deepcopy(net) if args.ema > 0 else net
    step, best, wall, latest = 0, -1.0, 0.0, {}
    if os.path.exists(ckpt_path):
        state = torch.load(ckpt_path, weights_only=False)
        if {"bar_classes": 0, "period_bins": 0, **state["config"]} != config:
            raise SystemExit(f"error: {ckpt_path} is a network {state['config']}; resume with the same options")
        net.load_state_dict(state["model"])
        if args.ema > 0:
            ema.load_state_dict(state.get("ema", state["model"]))
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        step, best, wall, latest = state["step"], state["best"], state["wall_seconds"], state.get("latest", {})
        print(f"resumed from {ckpt_path} at step {step}")

    cache = data.Cache(args.cache)
    train = cache.indices("train")
    weights = sampling_weights([cache.entries[i] for i in train], args.balance)
    valid = cache.indices("validation")
    sets = validation_sets(cache, valid)
    m = cache.manifest
    written = m.get("training_scores", 0)
    scores = f" and their {written} written scores' MIDI" if written else ""
    provenance = {
        "trained_on": f"ASAP performance MIDI from {m['data']} (metadata.csv sha1 {m['metadata_sha1']}): "
                      f"{len(train) - written} performances of {m['compositions_per_split']['train']} "
                      f"compositions{scores}; validated "
                      f"on {len(valid)} performances of {m['compositions_per_split']['validation']} other "
                      f"compositions of the same set (split by composer and title)",
        "training_code_commit": git_commit(), "torch": torch.__version__, "threads": args.threads,
        "device": cpu_name(), "parameters": network.parameters(net), "config": config, "batch": args.batch,
        "notes_per_window": args.notes, "features": list(data.FEATURE_NAMES),
        **({"weight_average": f"exponential, decay {args.ema} per step"} if args.ema > 0 else {}),
        **({"rubato": f"tempo warped by up to {args.rubato} (log)"} if args.rubato > 0 else {}),
        **({"balance": "each composition drawn alike"} if args.balance == "composition" else {})}
    print(f"{network.parameters(net)} parameters; {len(train) - written} training performances{scores}, "
          f"{len(valid)} validation")
    log_path = os.path.join(args.out, "log.csv")
    keep_log(log_path, COLUMNS, step)
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    started = time.time()

    def elapsed():
        return wall + time.time() - started

    def checkpoint():
        save(ckpt_path, {"model": net.state_dict(), "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                         **({"ema": ema.state_dict()} if args.ema > 0 else {}),
                         "step": step, "best": best, "wall_seconds": elapsed(), "config": config, "args": vars(args),
                         "latest": latest, "provenance": {**provenance, **latest, "steps": step,
                                                          "training_hours": round(elapsed() / 3600, 3)}})

    net.train()
    while step < args.steps and not (args.hours and elapsed() >= args.hours * 3600):
        t = time.time()
        lr = learning_rate(args, step)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = make_batch(cache, train, weights, args, step + 1)
        parts = losses(net(x), y)
        loss = (parts["beat"] + parts["downbeat"] + args.ibi_weight * parts["ibi"] + args.bar_weight * parts["bar"]
                + args.period_weight * parts["period"])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), args.clip)
        opt.step()
        if args.ema > 0:
            with torch.no_grad():
                for a, p in zip(ema.parameters(), net.parameters()):
                    a.mul_(args.ema).add_(p, alpha=1.0 - args.ema)
        step += 1
        dt = time.time() - t
        print(f"\rstep {step}  loss {loss.item():.4f} (beat {parts['beat'].item():.4f}, downbeat "
              f"{parts['downbeat'].item():.4f}, ibi {parts['ibi'].item():.4f}, bar {parts['bar'].item():.4f}, "
              f"period {parts['period'].item():.4f})  "
              f"{dt:.2f} s/step, "
              f"{args.batch / dt:.1f} examples/s ", end="", flush=True)
        row = {"step": step, "loss": round(loss.item(), 6), "lr": lr, "hours": round(elapsed() / 3600, 4),
               "step_seconds": round(dt, 3), "examples_per_second": round(args.batch / dt, 2)}
        row.update({k: round(parts[k].item(), 6) for k in ("beat", "downbeat", "ibi", "bar", "period")})
        last = step >= args.steps or (args.hours and elapsed() >= args.hours * 3600)
        if step % args.validate_every == 0 or last:
            t = time.time()
            scores = validate(ema, sets)
            vt = time.time() - t
            (vb, vd, vm, vp, vq, cb, cd), (nb, nd, nm, np_, nq, _, _) = scores["valid"], scores["noisy"]
            print(f"\n  validation ({vt:.0f} s): beat F {vb:.4f}, downbeat F {vd:.4f} (per composition {cb:.4f}, "
                  f"{cd:.4f}), bar length right {vm:.3f}, "
                  f"period right {vp:.3f} (bins {vq:.3f}); with transcription errors: beat F {nb:.4f}, downbeat F "
                  f"{nd:.4f}, bar length right {nm:.3f}, period right {np_:.3f} (bins {nq:.3f})")
            row.update({"valid_beat_f": round(vb, 4), "valid_downbeat_f": round(vd, 4), "noisy_beat_f": round(nb, 4),
                        "noisy_downbeat_f": round(nd, 4), "validation_seconds": round(vt, 1),
                        "valid_period_right": round(vp, 4), "noisy_period_right": round(np_, 4),
                        "valid_composition_beat_f": round(cb, 4), "valid_composition_downbeat_f": round(cd, 4)})
            latest = {"steps": step, "examples": step * args.batch, "training_hours": round(elapsed() / 3600, 3),
                      "validation_beat_f": round(vb, 4), "validation_downbeat_f": round(vd, 4),
                      "validation_per_composition_beat_f": round(cb, 4),
                      "validation_per_composition_downbeat_f": round(cd, 4),
                      "validation_with_errors_beat_f": round(nb, 4), "validation_with_errors_downbeat_f": round(nd, 4)}
            if not np.isnan(vq):
                row.update({"valid_binned_period_right": round(vq, 4), "noisy_binned_period_right": round(nq, 4)})
                latest.update({"validation_binned_period_right": round(vq, 4)})
            if not np.isnan(vm):
                row.update({"valid_bar_right": round(vm, 4), "noisy_bar_right": round(nm, 4)})
                latest.update({"validation_bar_length_right": round(vm, 4),
                               "validation_with_errors_bar_length_right": round(nm, 4)})
            # The best: beats, downbeats and (with the head) bar lengths weighed alike; each composition alike, since
            # the split holds one played 25 times (Chopin's op. 10 no. 1), whose metrical level would otherwise
            # choose alone.
            score = (cb + cd) / 2 if np.isnan(vm) else (cb + cd + vm) / 3
            if score > best:
                best = score
                save(os.path.join(args.out, "best.pt"), {"model": ema.state_dict(), "config": config,
                                                          "provenance": {**provenance, **latest}})
        row = [row.get(c, "") for c in COLUMNS]
        writer.writerow(row)
        log.flush()
        if step % args.checkpoint_every == 0 or last:
            checkpoint()
    print()
    log.close()


if __name__ == "__main__":
    main()
