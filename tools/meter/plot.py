"""Draws a metrical-model run's log.csv (tools/meter/train.py) as an SVG a browser shows: the losses over steps
(smoothed, log scale) above, the validation beat and downbeat F (clean performance MIDI, and with a
transcription's errors) below. No plotting library needed.

  python -m tools.meter.plot RUN/log.csv [-o RUN/curve.svg] [--smooth 50]
"""
from tools.train.plot import chart, command

LOSSES = [("beat", "#d62728"), ("downbeat", "#1f77b4"), ("ibi", "#2ca02c")]
SCORES = [("valid_beat_f", "#d62728", "validation beat F"),
          ("valid_downbeat_f", "#1f77b4", "validation downbeat F"),
          ("noisy_beat_f", "#ff9896", "with transcription errors: beat F"),
          ("noisy_downbeat_f", "#aec7e8", "with transcription errors: downbeat F")]


def svg(rows, smoothing):
    hours = float(rows[-1].get("hours") or 0)
    footer = [f"step {rows[0]['step']} to {rows[-1]['step']}, {hours:.2f} h of training"]
    scored = [r for r in rows if r.get("valid_beat_f")]
    if scored:
        r = scored[-1]
        footer.append(f"last validation (step {r['step']}): beat F {r['valid_beat_f']}, "
                      f"downbeat F {r['valid_downbeat_f']}")
    losses = [(k, c, "ln inter-beat interval" if k == "ibi" else k) for k, c in LOSSES]
    return chart(rows, smoothing, losses, SCORES, "training losses",
                 "validation, composition-disjoint part of asap-train (mir_eval F, 70 ms; notes over 0.5)", footer)


def main(argv=None):
    command(svg, __doc__, argv)


if __name__ == "__main__":
    main()
