"""Draws a training run's log.csv (train.py) as an SVG a browser shows: the losses over steps (smoothed, log
scale) above, the validation note F1 (MAESTRO validation and maps-dev) below. No plotting library needed.

  python -m tools.train.plot RUN/log.csv [-o RUN/curve.svg] [--smooth 50]
"""
import argparse
import csv
import math
import os
import sys

LOSSES = [("onset", "#d62728"), ("offset", "#9467bd"), ("frame", "#1f77b4"), ("velocity", "#2ca02c")]
SCORES = [("valid_note_f1", "#7f7f7f", "validation note F1 (0.5)"),
          ("valid_note_f1_at_threshold", "#000000", "validation note F1 (best threshold)"),
          ("maps_note_f1", "#e6b800", "maps-dev (0.5)"),
          ("maps_note_f1_at_threshold", "#ff7f0e", "maps-dev (that threshold)")]
WIDTH, PANEL, LEFT, TOP = 720, 220, 60, 30


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"error: {path} has no steps yet")
    return rows


def smooth(values, n):
    """Running mean over the last n values (losses of single batches are noisy)."""
    out, acc = [], []
    for v in values:
        acc.append(v)
        if len(acc) > n:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def polyline(points, colour):
    return (f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')


def chart(rows, smoothing, losses, scores, loss_title, score_title, footer):
    """Two panels over the steps of `rows`: the losses `losses` ((column, colour, label)), smoothed, on a log
    scale above, and the validation scores `scores` ((column, colour, label), 0..1) below; `footer` lines under
    them. Shared by the training tools' plots (this one, tools/meter/plot.py)."""
    steps = [int(r["step"]) for r in rows]
    x0, x1 = steps[0], max(steps[-1], steps[0] + 1)
    inner = WIDTH - LEFT - 20

    def sx(step):
        return LEFT + (step - x0) / (x1 - x0) * inner

    height = 2 * PANEL + 3 * TOP + 16 + 14 * len(footer)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             'font-family="sans-serif" font-size="11">', '<rect width="100%" height="100%" fill="white"/>']
    # Losses, log scale.
    series = {k: smooth([float(r[k]) for r in rows], smoothing) for k, _, _ in losses}
    lo = math.log10(max(min(min(v) for v in series.values()), 1e-6))
    hi = math.log10(max(max(max(v) for v in series.values()), 1e-6))
    hi = max(hi, lo + 1e-3)

    def sy_loss(v):
        return TOP + (hi - math.log10(max(v, 1e-6))) / (hi - lo) * PANEL

    parts.append(f'<text x="{LEFT}" y="{TOP - 10}">{loss_title} (mean of {smoothing} steps, log scale)</text>')
    for k, colour, _ in losses:
        parts.append(polyline([(sx(s), sy_loss(v)) for s, v in zip(steps, series[k])], colour))
    for i, (_, colour, label) in enumerate(losses):
        parts.append(f'<text x="{LEFT + 10 + 140 * i}" y="{TOP + PANEL + 14}" fill="{colour}">{label}</text>')
    for v in (10 ** lo, 10 ** ((lo + hi) / 2), 10 ** hi):
        parts.append(f'<text x="4" y="{sy_loss(v) + 4:.1f}">{v:.3g}</text>')
    # Validation scores, 0..1.
    top2 = 2 * TOP + PANEL + 10

    def sy_score(v):
        return top2 + (1.0 - v) * PANEL

    parts.append(f'<text x="{LEFT}" y="{top2 - 8}">{score_title}</text>')
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{sy_score(v):.1f}" y2="{sy_score(v):.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="20" y="{sy_score(v) + 4:.1f}">{v:.2f}</text>')
    for i, (k, colour, label) in enumerate(scores):
        points = [(sx(int(r["step"])), sy_score(float(r[k]))) for r in rows if r.get(k) not in (None, "", "nan")]
        if points:
            parts.append(polyline(points, colour))
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in points]
        parts.append(f'<text x="{LEFT + 10 + 300 * (i % 2)}" y="{top2 + PANEL + 16 + 14 * (i // 2)}" '
                     f'fill="{colour}">{label}</text>')
    for i, line in enumerate(footer):
        parts.append(f'<text x="{LEFT}" y="{top2 + PANEL + 48 + 14 * i}">{line}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def svg(rows, smoothing):
    hours = float(rows[-1].get("wall_seconds") or 0) / 3600
    steps = f"step {rows[0]['step']} to {rows[-1]['step']}, {hours:.2f} h of training"
    return chart(rows, smoothing, [(k, c, k) for k, c in LOSSES], SCORES, "losses", "validation (mir_eval F1)",
                 [steps])


def command(draw, doc, argv=None):
    """The plot tools' command line: LOG [-o OUT] [--smooth N], drawn by `draw(rows, smoothing)`; OUT defaults to
    curve.svg beside the log."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("-o", "--out")
    ap.add_argument("--smooth", type=int, default=50)
    args = ap.parse_args(argv)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.log)), "curve.svg")
    with open(out, "w") as f:
        f.write(draw(read(args.log), max(args.smooth, 1)))
    print(out)


def main(argv=None):
    command(svg, __doc__, argv)


if __name__ == "__main__":
    main()
