"""Draws a metrical-model run's log.csv (tools/meter/train.py) as an SVG a browser shows: the losses over steps
(smoothed, log scale) above, the validation beat and downbeat F (clean performance MIDI, and with a
transcription's errors) below. No plotting library needed.

  python -m tools.meter.plot RUN/log.csv [-o RUN/curve.svg] [--smooth 50]
"""
import argparse
import math
import os

from tools.train.plot import WIDTH, PANEL, LEFT, TOP, polyline, read, smooth

LOSSES = [("beat", "#d62728"), ("downbeat", "#1f77b4"), ("ibi", "#2ca02c")]
SCORES = [("valid_beat_f", "#d62728", "validation beat F"),
          ("valid_downbeat_f", "#1f77b4", "validation downbeat F"),
          ("noisy_beat_f", "#ff9896", "with transcription errors: beat F"),
          ("noisy_downbeat_f", "#aec7e8", "with transcription errors: downbeat F")]


def svg(rows, smoothing):
    steps = [int(r["step"]) for r in rows]
    x0, x1 = steps[0], max(steps[-1], steps[0] + 1)
    inner = WIDTH - LEFT - 20

    def sx(step):
        return LEFT + (step - x0) / (x1 - x0) * inner

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{2 * PANEL + 3 * TOP + 44}" '
             'font-family="sans-serif" font-size="11">', '<rect width="100%" height="100%" fill="white"/>']
    series = {k: smooth([float(r[k]) for r in rows], smoothing) for k, _ in LOSSES}
    lo = math.log10(max(min(min(v) for v in series.values()), 1e-6))
    hi = math.log10(max(max(max(v) for v in series.values()), 1e-6))
    hi = max(hi, lo + 1e-3)

    def sy_loss(v):
        return TOP + (hi - math.log10(max(v, 1e-6))) / (hi - lo) * PANEL

    parts.append(f'<text x="{LEFT}" y="{TOP - 10}">training losses (mean of {smoothing} steps, log scale)</text>')
    for k, colour in LOSSES:
        parts.append(polyline([(sx(s), sy_loss(v)) for s, v in zip(steps, series[k])], colour))
    for i, (k, colour) in enumerate(LOSSES):
        name = "ln inter-beat interval" if k == "ibi" else k
        parts.append(f'<text x="{LEFT + 10 + 140 * i}" y="{TOP + PANEL + 14}" fill="{colour}">{name}</text>')
    for v in (10 ** lo, 10 ** ((lo + hi) / 2), 10 ** hi):
        parts.append(f'<text x="4" y="{sy_loss(v) + 4:.1f}">{v:.3g}</text>')
    top2 = 2 * TOP + PANEL + 10

    def sy_f(v):
        return top2 + (1.0 - v) * PANEL

    parts.append(f'<text x="{LEFT}" y="{top2 - 8}">validation, composition-disjoint part of asap-train '
                 '(mir_eval F, 70 ms; notes over 0.5)</text>')
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{sy_f(v):.1f}" y2="{sy_f(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="20" y="{sy_f(v) + 4:.1f}">{v:.2f}</text>')
    for i, (k, colour, label) in enumerate(SCORES):
        points = [(sx(int(r["step"])), sy_f(float(r[k]))) for r in rows if r.get(k) not in (None, "", "nan")]
        if points:
            parts.append(polyline(points, colour))
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>' for x, y in points]
        parts.append(f'<text x="{LEFT + 10 + 300 * (i % 2)}" y="{top2 + PANEL + 16 + 14 * (i // 2)}" '
                     f'fill="{colour}">{label}</text>')
    hours = float(rows[-1].get("hours") or 0)
    scored = [r for r in rows if r.get("valid_beat_f")]
    tail = ""
    if scored:
        r = scored[-1]
        tail = f"; last validation (step {r['step']}): beat F {r['valid_beat_f']}, downbeat F {r['valid_downbeat_f']}"
    parts.append(f'<text x="{LEFT}" y="{top2 + PANEL + 62}">step {x0} to {steps[-1]}, {hours:.2f} h of '
                 f'training{tail}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("-o", "--out")
    ap.add_argument("--smooth", type=int, default=50)
    args = ap.parse_args(argv)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.log)), "curve.svg")
    with open(out, "w") as f:
        f.write(svg(read(args.log), max(args.smooth, 1)))
    print(out)


if __name__ == "__main__":
    main()
