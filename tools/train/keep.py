"""The part of a training run that the repository keeps, so that the run goes on from where it stopped on
another machine (tools/train/run.sh train --resume-from FILE): the network's fp32 weights, the step, the
learning-rate schedule, the best validation score, the elapsed hours, the provenance and the log. Adam's
moments (two thirds of checkpoint.pt) are left out: a resumed run starts them afresh, which costs a few
hundred steps of the optimiser's warm-up, and the batches stay the uninterrupted run's (they are functions of
the seed and the step).

  python -m tools.train.keep RUN OUT.pt        (RUN/checkpoint.pt and RUN/log.csv -> OUT.pt)
"""
import argparse
import os

from tools.train.runs import save

# What a kept state holds; everything else in a checkpoint is dropped (its arguments too: they name this
# machine's folders).
KEPT = ("model", "scheduler", "torch_rng", "step", "best", "wall_seconds", "size", "latest", "provenance")


def kept(state, log_text):
    """The kept part of a checkpoint's `state`, with the run's log (the text of log.csv) up to its step."""
    out = {k: state[k] for k in KEPT if k in state}
    out["model"] = {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()}
    lines = log_text.splitlines(keepends=True)
    rows = [line for line in lines[1:] if line.strip() and int(line.split(",")[0]) <= state["step"]]
    out["log"] = "".join(lines[:1] + rows)
    return out


def main(argv=None):
    from tools.train.train import load_state
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a training run's folder (checkpoint.pt, log.csv)")
    ap.add_argument("out")
    args = ap.parse_args(argv)
    path = os.path.join(args.run, "checkpoint.pt")
    if not os.path.exists(path):
        raise SystemExit(f"error: {path} is missing: keep takes the folder of a run of tools/train/train.py")
    state = load_state(path)
    log_path = os.path.join(args.run, "log.csv")
    log_text = open(log_path).read() if os.path.exists(log_path) else ""
    save(args.out, kept(state, log_text))
    print(f"{args.out}: step {state['step']}, {os.path.getsize(args.out) / 1e6:.1f} MB "
          f"(from {os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
