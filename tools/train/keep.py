"""The part of a training run that the repository keeps, so that the run goes on from where it stopped on
another machine (tools/train/run.sh train --resume-from FILE): the network's fp32 weights, the step, the
learning-rate schedule, the best validation score, the elapsed hours, the provenance and the log. Adam's
moments (two thirds of checkpoint.pt) are left out: a resumed run starts them afresh, which costs a few
hundred steps of the optimiser's warm-up, and the batches stay the uninterrupted run's (they are functions of
the seed and the step).

  python -m tools.train.keep RUN OUT.pt        (RUN/checkpoint.pt and RUN/log.csv -> OUT.pt)
  python -m tools.train.keep RUN DIR --parts MB (the same with fp16 weights, as DIR/kept.pt.000, .001, ... of at
                                                 most MB megabytes each: what a lent GPU machine can send back)
  python -m tools.train.keep --join DIR OUT.pt  (those parts -> OUT.pt, fp32 again)
"""
import argparse
import io
import os

from tools.train.runs import save

# What a kept state holds; everything else in a checkpoint is dropped (its arguments too: they name this
# machine's folders).
KEPT = ("model", "scheduler", "torch_rng", "step", "best", "wall_seconds", "size", "latest", "provenance")


def weights_as(model, cast):
    """A state dict with `cast` (e.g. torch.Tensor.half) applied to its floating-point tensors only (the
    batch norms' counters stay integers)."""
    return {k: cast(v) if v.is_floating_point() else v for k, v in model.items()}


def kept(state, log_text):
    """The kept part of a checkpoint's `state`, with the run's log (the text of log.csv) up to its step."""
    import torch
    out = {k: state[k] for k in KEPT if k in state}
    out["model"] = weights_as(state["model"], torch.Tensor.float)
    lines = log_text.splitlines(keepends=True)
    rows = [line for line in lines[1:] if line.strip() and int(line.split(",")[0]) <= state["step"]]
    out["log"] = "".join(lines[:1] + rows)
    return out


PREFIX = "kept.pt."
PART = PREFIX + "{:03d}"


def write_parts(state, folder, part_bytes):
    """`state` with its weights in fp16, serialised and cut into files of at most `part_bytes` in `folder`
    (a GPU machine lent through the device tool sends back files of at most 16 MiB). Returns their paths."""
    import torch
    half = dict(state, model=weights_as(state["model"], torch.Tensor.half))
    buf = io.BytesIO()
    torch.save(half, buf)
    data = buf.getvalue()
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(0, len(data), part_bytes):
        path = os.path.join(folder, PART.format(len(paths)))
        with open(path + ".part", "wb") as f:
            f.write(data[i:i + part_bytes])
        os.replace(path + ".part", path)
        paths.append(path)
    return paths


def join_parts(folder):
    """The state that write_parts cut into `folder`, with fp32 weights; a clear error if a part is missing."""
    import torch
    names = sorted(n for n in os.listdir(folder) if n.startswith(PREFIX) and n[len(PREFIX):].isdigit())
    if not names:
        raise SystemExit(f"error: {folder} holds no {PART.format(0)}: it takes the parts that keep --parts wrote")
    expected = [PART.format(i) for i in range(len(names))]
    if names != expected:
        raise SystemExit(f"error: {folder} holds {', '.join(names)}: a part is missing (expected {expected})")
    data = bytearray()
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            data += f.read()
    try:
        state = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 (a cut or damaged transfer)
        raise SystemExit(f"error: the parts in {folder} do not make a PyTorch file ({type(e).__name__}): "
                         "one is cut short or damaged") from None
    state["model"] = weights_as(state["model"], torch.Tensor.float)
    return state


def main(argv=None):
    from tools.train.train import load_state
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a training run's folder (checkpoint.pt, log.csv); with --join, the parts' folder")
    ap.add_argument("out")
    ap.add_argument("--parts", type=float, metavar="MB", help="write fp16 parts of at most MB megabytes into OUT")
    ap.add_argument("--join", action="store_true", help="join the parts in RUN into OUT")
    args = ap.parse_args(argv)
    if args.join:
        state = join_parts(args.run)
        save(args.out, state)
        print(f"{args.out}: step {state['step']}, {os.path.getsize(args.out) / 1e6:.1f} MB")
        return
    path = os.path.join(args.run, "checkpoint.pt")
    if not os.path.exists(path):
        raise SystemExit(f"error: {path} is missing: keep takes the folder of a run of tools/train/train.py")
    state = load_state(path)
    log_path = os.path.join(args.run, "log.csv")
    log_text = open(log_path).read() if os.path.exists(log_path) else ""
    if args.parts:
        paths = write_parts(kept(state, log_text), args.out, int(args.parts * 1e6))
        print(f"{args.out}: step {state['step']} in {len(paths)} parts, "
              f"{sum(os.path.getsize(p) for p in paths) / 1e6:.1f} MB in all")
        return
    save(args.out, kept(state, log_text))
    print(f"{args.out}: step {state['step']}, {os.path.getsize(args.out) / 1e6:.1f} MB "
          f"(from {os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
