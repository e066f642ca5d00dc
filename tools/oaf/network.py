"""The Onsets & Frames reference network (PyTorch), as ../shared/docs/onsets-and-frames.md specifies it.

Input: log-mel features [batch, frames, 229] (frontend.py). Outputs, each [batch, frames, 88]: onset, offset and
frame probabilities (sigmoid) and the velocity head's raw output (clipped to [0, 1] only when decoding, as the
spec says). The exporter (export.py) writes this module to ONNX unchanged; the training pipeline (tools/train)
trains it.
"""
import torch
from torch import nn

KEYS = 88
LOWEST_KEY = 21  # A0

# Channel counts: first two convolutions, third convolution, fully connected, LSTM units per direction.
SIZES = {
    # Hawthorne et al. 2019 (the MAESTRO paper): the spec's default.
    "2019": dict(conv=48, conv2=96, fc=768, lstm=256),
    # Hawthorne et al. 2018.
    "2018": dict(conv=32, conv2=64, fc=512, lstm=128),
    # Ours: small enough to train on a CPU in hours (tools/train), same shape.
    "small": dict(conv=16, conv2=32, fc=256, lstm=64),
    # For the engine's parity test only (a bundle of a few hundred KB in tests/fixtures).
    "tiny": dict(conv=4, conv2=8, fc=32, lstm=16),
}


class AcousticStack(nn.Module):
    """conv 3x3 + BN + ReLU, conv 3x3 + BN + ReLU, max-pool 1x2 over frequency, conv 3x3 + BN + ReLU, max-pool
    1x2, fully connected + BN: [batch, frames, mels] -> [batch, frames, fc]."""

    def __init__(self, n_mels, conv, conv2, fc):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(1, conv, 3, padding=1), nn.BatchNorm2d(conv), nn.ReLU(),
            nn.Conv2d(conv, conv, 3, padding=1), nn.BatchNorm2d(conv), nn.ReLU(),
            nn.MaxPool2d((1, 2)),
            nn.Conv2d(conv, conv2, 3, padding=1), nn.BatchNorm2d(conv2), nn.ReLU(),
            nn.MaxPool2d((1, 2)),
        )
        self.fc = nn.Linear(conv2 * (n_mels // 4), fc)
        self.fc_norm = nn.BatchNorm1d(fc)

    def forward(self, mel):
        x = self.convs(mel.unsqueeze(1))  # [B, C, T, F/4]
        x = x.permute(0, 2, 1, 3).flatten(2)  # [B, T, C * F/4]
        x = self.fc(x)
        return self.fc_norm(x.transpose(1, 2)).transpose(1, 2)


class BiLstm(nn.Module):
    def __init__(self, inputs, units):
        super().__init__()
        self.lstm = nn.LSTM(inputs, units, batch_first=True, bidirectional=True)

    def forward(self, x):
        return self.lstm(x)[0]


class OnsetsAndFrames(nn.Module):
    def __init__(self, size="2019", n_mels=229):
        super().__init__()
        s = SIZES[size]
        self.size = size
        stack = lambda: AcousticStack(n_mels, s["conv"], s["conv2"], s["fc"])
        self.onset_stack, self.offset_stack, self.frame_stack, self.velocity_stack = stack(), stack(), stack(), stack()
        self.onset_lstm, self.offset_lstm = BiLstm(s["fc"], s["lstm"]), BiLstm(s["fc"], s["lstm"])
        self.onset_out, self.offset_out = nn.Linear(2 * s["lstm"], KEYS), nn.Linear(2 * s["lstm"], KEYS)
        self.frame_pre = nn.Linear(s["fc"], KEYS)
        self.frame_lstm = BiLstm(3 * KEYS, s["lstm"])
        self.frame_out = nn.Linear(2 * s["lstm"], KEYS)
        self.velocity_out = nn.Linear(s["fc"], KEYS)

    def forward(self, mel):
        """Logits for onset, offset, frame and the velocity head's output."""
        onset = self.onset_out(self.onset_lstm(self.onset_stack(mel)))
        offset = self.offset_out(self.offset_lstm(self.offset_stack(mel)))
        pre = torch.sigmoid(self.frame_pre(self.frame_stack(mel)))
        # The frame head sees the onset and offset predictions, without training them (gradient stopped).
        combined = torch.cat([pre, torch.sigmoid(onset).detach(), torch.sigmoid(offset).detach()], dim=-1)
        frame = self.frame_out(self.frame_lstm(combined))
        velocity = self.velocity_out(self.velocity_stack(mel))
        return onset, offset, frame, velocity


class Probabilities(nn.Module):
    """What the engine runs: probabilities for onset, offset and frame, the velocity head as it is."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, mel):
        onset, offset, frame, velocity = self.net(mel)
        return torch.sigmoid(onset), torch.sigmoid(offset), torch.sigmoid(frame), velocity


def seeded(size="2019", seed=0, n_mels=229):
    """A network with fixed random weights (and batch-norm statistics that are not the identity), for parity
    tests of the engine before any training."""
    g = torch.Generator().manual_seed(seed)
    net = OnsetsAndFrames(size, n_mels)
    with torch.no_grad():
        for name, p in net.named_parameters():
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return net.eval()
