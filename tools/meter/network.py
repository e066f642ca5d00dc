"""The metrical model: a small CRNN over the note sequence (after PM2S, Liu et al. ISMIR 2022), per note a beat
and a downbeat logit and the ln of the local inter-beat interval.

  inputs [batch, notes, FEATURES] (tools/meter/data.features)
  -> two 1-d convolutions over the notes (kernel 9, ELU)                       local context: chords, runs
  -> a 2-layer bidirectional GRU                                               the whole sequence
  -> beat logit and ln inter-beat interval (linear), and (period_bins > 0) logits over beat-period bins
     (tools/meter/data.period_bin: PERIOD_BINS_PER_OCTAVE a doubling from PERIOD_LOWEST s): a distribution that
     can say "this period or twice it", where the regression settles between them
  -> a 1-layer bidirectional GRU over [GRU output, beat probability] -> downbeat logit
                                                                          and bar-length logits (bar_classes:
                                                                          tools/meter/data.BAR_LENGTHS beats)

Plain Conv1d / GRU / Linear layers, all of which ONNX exports and tract runs. Well under 1 M parameters
(`parameters()` counts them; the default is about 0.33 M).
"""
import torch
from torch import nn

from tools.meter.data import FEATURES

DEFAULT = {"conv": 64, "hidden": 96, "layers": 2, "down_hidden": 48, "kernel": 9, "dropout": 0.1, "bar_classes": 0,
           "period_bins": 0}


class MeterNet(nn.Module):
    # bar_classes 3 adds a head for the bar length (tools/meter/data.BAR_LENGTHS); 0, the default, has none: it was
    # tried (README, The learned model) and its per-performance bar length was no better than always 4.
    def __init__(self, conv=64, hidden=96, layers=2, down_hidden=48, kernel=9, dropout=0.1, bar_classes=0,
                 period_bins=0, features=FEATURES):
        super().__init__()
        self.config = {"conv": conv, "hidden": hidden, "layers": layers, "down_hidden": down_hidden,
                       "kernel": kernel, "dropout": dropout, "bar_classes": bar_classes, "period_bins": period_bins}
        self.conv = nn.Sequential(
            nn.Conv1d(features, conv, kernel, padding=kernel // 2), nn.ELU(), nn.Dropout(dropout),
            nn.Conv1d(conv, conv, kernel, padding=kernel // 2), nn.ELU(), nn.Dropout(dropout))
        self.gru = nn.GRU(conv, hidden, layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.beat = nn.Linear(2 * hidden, 1)
        self.ibi = nn.Linear(2 * hidden, 1)
        self.down_gru = nn.GRU(2 * hidden + 1, down_hidden, 1, batch_first=True, bidirectional=True)
        self.down = nn.Linear(2 * down_hidden, 1)
        self.bar = nn.Linear(2 * down_hidden, bar_classes) if bar_classes else None
        self.period = nn.Linear(2 * hidden, period_bins) if period_bins else None

    def forward(self, x):
        """x [B, N, FEATURES] -> (beat logits [B, N], downbeat logits [B, N], ln inter-beat interval [B, N],
        bar-length logits [B, N, bar_classes] or None, period-bin logits [B, N, period_bins] or None)."""
        h = self.conv(x.transpose(1, 2)).transpose(1, 2)
        h, _ = self.gru(h)
        beat = self.beat(h)
        d, _ = self.down_gru(torch.cat([h, torch.sigmoid(beat)], dim=2))
        bar = self.bar(d) if self.bar is not None else None
        period = self.period(h) if self.period is not None else None
        return beat.squeeze(2), self.down(d).squeeze(2), self.ibi(h).squeeze(2), bar, period


def parameters(net):
    return sum(p.numel() for p in net.parameters())
