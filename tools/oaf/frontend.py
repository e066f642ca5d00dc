"""The Onsets & Frames front-end in PyTorch, as ../shared/docs/onsets-and-frames.md specifies it and as the
engine computes it (src/features.rs, LogMel): 16 kHz mono, centred STFT frames (zero padding), periodic Hann
window of 2048, hop 512, power spectrum, 229 HTK mel bands from 30 to 8000 Hz with librosa's default (Slaney)
area normalisation, then 10 * log10(max(mel, amin)): librosa's power_to_db with ref 1 and no top_db (top_db
clips against the loudest value of the whole input, which a recording processed in windows does not know).

The numbers come from one dict, CONFIG, which export.py writes into the bundle's header. The mel filters are
computed here as librosa computes them (a unit test compares the two), so that training needs no librosa (a
lent GPU machine lacks it); librosa_log_mel, the check, uses librosa itself.
"""
import numpy as np
import torch

CONFIG = {
    "sample_rate": 16000,
    "window": 2048,
    "hop": 512,
    "mel": {"f_min": 30.0, "f_max": 8000.0, "n_mels": 229, "scale": "htk", "norm": "slaney"},
    "log": {"kind": "power_db", "amin": 1e-10},
}


def mel_filters(sample_rate, n_fft, n_mels, f_min, f_max):
    """[n_mels, n_fft / 2 + 1] triangular filters, equally spaced on the HTK mel scale, each scaled to unit area
    (Slaney's normalisation): librosa.filters.mel(htk=True, norm="slaney")."""
    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    edges = 700.0 * (10.0 ** (np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, bins)
    weights = np.zeros((n_mels, len(bins)), dtype=np.float32)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights


class LogMel(torch.nn.Module):
    def __init__(self, config=CONFIG):
        super().__init__()
        c = config
        self.n_fft, self.hop, self.amin = c["window"], c["hop"], c["log"]["amin"]
        fb = mel_filters(c["sample_rate"], c["window"], c["mel"]["n_mels"], c["mel"]["f_min"], c["mel"]["f_max"])
        self.register_buffer("filters", torch.from_numpy(fb))  # [n_mels, n_fft / 2 + 1]
        self.register_buffer("hann", torch.hann_window(self.n_fft, periodic=True))

    def forward(self, audio):
        """audio [batch, samples] (mono, at the configured rate) -> [batch, 1 + samples // hop, n_mels]."""
        spec = torch.stft(audio, self.n_fft, self.hop, window=self.hann, center=True, pad_mode="constant",
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2  # [B, F, T]
        mel = torch.matmul(self.filters, power)
        return (10.0 * torch.log10(torch.clamp(mel, min=self.amin))).transpose(1, 2)


def librosa_log_mel(audio, config=CONFIG):
    """The same features by librosa itself, for checks: [frames, n_mels]."""
    import librosa
    c = config
    mel = librosa.feature.melspectrogram(y=audio, sr=c["sample_rate"], n_fft=c["window"], hop_length=c["hop"],
                                         window="hann", center=True, pad_mode="constant", power=2.0,
                                         n_mels=c["mel"]["n_mels"], fmin=c["mel"]["f_min"],
                                         fmax=c["mel"]["f_max"], htk=True, norm="slaney")
    return librosa.power_to_db(mel, ref=1.0, amin=c["log"]["amin"], top_db=None).T.astype(np.float32)
