"""What the training tools' runs share (tools/train/train.py, tools/meter/train.py): a log that matches its
checkpoint, and files written whole or not at all."""
import csv
import os


def keep_log(path, columns, step):
    """log.csv as it stood at the checkpoint: rows past `step` (from a run interrupted after its last
    checkpoint) are dropped, since the resumed run writes them again."""
    rows = []
    if os.path.exists(path):
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f)][1:]
    rows = [r for r in rows if r and int(r[0]) <= step]
    with open(path + ".part", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows)
    os.replace(path + ".part", path)


def save(path, state):
    """torch.save, atomically: an interrupted write leaves the previous checkpoint, not half of a new one."""
    import torch  # here, so that reading logs needs no PyTorch

    tmp = path + ".part"
    torch.save(state, tmp)
    os.replace(tmp, path)
