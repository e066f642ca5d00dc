//! Front-end: one segment of PCM at the model's rate (any number of channels) -> log-mel features
//! `[frame][mel bin][window]`, one variant per model family:
//! - Transkun: as transkun's `MelSpectrum` computes them (see docs in the model bundle): framing with
//!   half-window left padding, one gain normalisation per segment, a Hann window plus learned Gaussian windows,
//!   orthonormal rFFT power averaged over channels, an HTK mel filterbank, and a scaled log.
//! - Onsets & Frames ([`log_mel`]): librosa's log-mel spectrogram of the mono mix.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;

use crate::config::{FrontEndConfig, MelBands, ModelConfig};

mod log_mel;
pub use log_mel::LogMelFrontEnd;

/// The front-end of a model's family, built once per model.
pub enum FrontEnd {
    Transkun(TranskunFrontEnd),
    LogMel(LogMelFrontEnd),
}

impl FrontEnd {
    pub fn new(cfg: &ModelConfig) -> Self {
        match &cfg.front_end {
            FrontEndConfig::Transkun { .. } => FrontEnd::Transkun(TranskunFrontEnd::new(cfg)),
            FrontEndConfig::LogMel { .. } => FrontEnd::LogMel(LogMelFrontEnd::new(cfg)),
        }
    }

    /// `channels[c]` holds one segment of samples (all the same length). Returns the segment's features.
    pub fn process(&self, channels: &[Vec<f32>]) -> Features {
        match self {
            FrontEnd::Transkun(f) => f.process(channels),
            FrontEnd::LogMel(f) => f.process(channels),
        }
    }
}

/// Features of one segment, laid out `[frame][mel][window]` (the model's input `[1, T, n_mels, n_windows]`).
#[derive(Debug, Clone)]
pub struct Features {
    pub frames: usize,
    pub mels: usize,
    pub windows: usize,
    pub data: Vec<f32>,
}

impl Features {
    pub fn at(&self, frame: usize, mel: usize, window: usize) -> f32 {
        self.data[(frame * self.mels + mel) * self.windows + window]
    }
}

/// Sparse triangular filter: weights for a contiguous run of FFT bins.
#[derive(Debug, Clone)]
struct MelFilter {
    first_bin: usize,
    weights: Vec<f32>,
}

/// Transkun's front-end, built once per model; holds the FFT plan, the windows and the filterbank.
pub struct TranskunFrontEnd {
    window: usize,
    hop: usize,
    frames: usize,
    gain_eps: f64,
    log_eps: f32,
    windows: Vec<Vec<f32>>,
    filters: Vec<MelFilter>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl TranskunFrontEnd {
    /// Panics unless `cfg` is a Transkun configuration ([`FrontEnd::new`] picks the variant).
    pub fn new(cfg: &ModelConfig) -> Self {
        let FrontEndConfig::Transkun { mel, log_eps, gain_eps, gaussian_windows } = &cfg.front_end else {
            panic!("not a Transkun front-end")
        };
        let n = cfg.window;
        let mut windows = vec![hann_periodic(n)];
        for (&c, &s) in gaussian_windows.center_logits.iter().zip(&gaussian_windows.sigma_logits) {
            windows.push(gaussian_window(n, c, s));
        }
        TranskunFrontEnd {
            window: n,
            hop: cfg.hop,
            frames: cfg.frames_per_segment,
            gain_eps: *gain_eps,
            log_eps: *log_eps as f32,
            windows,
            filters: sparse_filters(mel, n, cfg.sample_rate),
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(n),
        }
    }

    /// `channels[c]` holds one segment of samples (all the same length). Returns the segment's features.
    pub fn process(&self, channels: &[Vec<f32>]) -> Features {
        let n = self.window;
        let n_win = self.windows.len();
        let n_mels = self.filters.len();
        let n_freqs = n / 2 + 1;
        let left = n / 2;
        let seg_len = channels.first().map_or(0, |c| c.len());
        // Sample at framed position p of frame t is x[t*hop + p - left], zero outside the signal.
        let sample = |x: &[f32], t: usize, p: usize| -> f32 {
            let i = (t * self.hop + p) as isize - left as isize;
            if i >= 0 && (i as usize) < seg_len {
                x[i as usize]
            } else {
                0.0
            }
        };

        // Gain normalisation: one mean and one unbiased std over all framed values of all channels. Each
        // sample appears in several overlapping frames; count it as often as it appears.
        let (mut sum, mut sum_sq, mut count) = (0f64, 0f64, 0f64);
        for x in channels {
            for t in 0..self.frames {
                for p in 0..n {
                    let v = sample(x, t, p) as f64;
                    sum += v;
                    sum_sq += v * v;
                }
                count += n as f64;
            }
        }
        let mean = sum / count;
        let var = ((sum_sq - sum * mean) / (count - 1.0)).max(0.0);
        let inv = 1.0 / (var.sqrt() + self.gain_eps);

        let mut power = vec![0f32; self.frames * n_win * n_freqs];
        let mut frame = vec![0f32; n];
        let mut input = self.fft.make_input_vec();
        let mut spectrum: Vec<Complex<f32>> = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let ortho = 1.0 / (n as f32).sqrt();
        let channel_weight = 1.0 / channels.len() as f32;
        for x in channels {
            for t in 0..self.frames {
                for (p, f) in frame.iter_mut().enumerate() {
                    *f = ((sample(x, t, p) as f64 - mean) * inv) as f32;
                }
                for (w, win) in self.windows.iter().enumerate() {
                    for ((i, f), wv) in input.iter_mut().zip(&frame).zip(win) {
                        *i = f * wv;
                    }
                    self.fft
                        .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                        .expect("buffer sizes come from the plan");
                    let out = &mut power[(t * n_win + w) * n_freqs..][..n_freqs];
                    for (o, c) in out.iter_mut().zip(&spectrum) {
                        let c = c * ortho;
                        *o += c.norm_sqr() * channel_weight;
                    }
                }
            }
        }

        let mut data = vec![0f32; self.frames * n_mels * n_win];
        let denom = -self.log_eps.ln();
        for t in 0..self.frames {
            for w in 0..n_win {
                let pw = &power[(t * n_win + w) * n_freqs..][..n_freqs];
                for (m, filt) in self.filters.iter().enumerate() {
                    let bins = &pw[filt.first_bin..filt.first_bin + filt.weights.len()];
                    let mel: f32 = bins.iter().zip(&filt.weights).map(|(p, w)| p * w).sum();
                    data[(t * n_mels + m) * n_win + w] = ((mel + self.log_eps).ln() - self.log_eps.ln()) / denom;
                }
            }
        }
        Features { frames: self.frames, mels: n_mels, windows: n_win, data }
    }
}

/// The filterbank of `mel` for an FFT of `n` points, each filter as its run of non-zero weights.
fn sparse_filters(mel: &MelBands, n: usize, sample_rate: u32) -> Vec<MelFilter> {
    mel_filterbank(n / 2 + 1, mel, sample_rate)
        .into_iter()
        .map(|col| {
            let first = col.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = col.iter().rposition(|&w| w > 0.0).unwrap_or(0);
            MelFilter { first_bin: first, weights: col[first..=last.max(first)].to_vec() }
        })
        .collect()
}

/// torch.hann_window(n) (periodic).
fn hann_periodic(n: usize) -> Vec<f32> {
    (0..n).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32).collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// transkun's learned Gaussian window: centre and width are sigmoids of the learned logits.
fn gaussian_window(n: usize, center_logit: f64, sigma_logit: f64) -> Vec<f32> {
    let center = n as f64 * sigmoid(center_logit);
    let width = sigmoid(sigma_logit) * n as f64 / 2.0;
    (0..n).map(|i| (-0.5 * ((i as f64 - center) / width).powi(2)).exp() as f32).collect()
}

fn hz_to_mel_htk(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz_htk(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate) (HTK scale, no norm), or
/// with `slaney_norm` librosa.filters.mel(htk=True) (each triangle scaled by 2 / its width in Hz).
/// Returns one column (a filter over all FFT bins) per mel band.
pub fn mel_filterbank(n_freqs: usize, mel: &MelBands, sample_rate: u32) -> Vec<Vec<f32>> {
    let MelBands { f_min, f_max, n_mels, slaney_norm } = *mel;
    let nyquist = (sample_rate / 2) as f64;
    let all_freqs: Vec<f64> = (0..n_freqs).map(|i| nyquist * i as f64 / (n_freqs - 1) as f64).collect();
    let (m_min, m_max) = (hz_to_mel_htk(f_min), hz_to_mel_htk(f_max));
    let f_pts: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz_htk(m_min + (m_max - m_min) * i as f64 / (n_mels + 1) as f64)).collect();
    (0..n_mels)
        .map(|m| {
            let (lo, mid, hi) = (f_pts[m], f_pts[m + 1], f_pts[m + 2]);
            let norm = if slaney_norm { 2.0 / (hi - lo) } else { 1.0 };
            all_freqs
                .iter()
                .map(|&f| {
                    let down = (f - lo) / (mid - lo);
                    let up = (hi - f) / (hi - mid);
                    (down.min(up).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filters_are_triangles_within_range() {
        let bands = MelBands { f_min: 30.0, f_max: 8000.0, n_mels: 229, slaney_norm: false };
        let fb = mel_filterbank(2049, &bands, 44100);
        assert_eq!(fb.len(), 229);
        for col in &fb {
            let peak = col.iter().cloned().fold(0f32, f32::max);
            assert!(peak > 0.0 && peak <= 1.0 + 1e-6);
        }
        // No energy above f_max: bin 2049 * 8000 / 22050 ~ 743.
        assert!(fb.iter().all(|c| c[760..].iter().all(|&w| w == 0.0)));
    }

    #[test]
    fn hann_is_periodic() {
        let w = hann_periodic(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-7);
        assert!((w[2] - 0.5).abs() < 1e-7 && (w[6] - 0.5).abs() < 1e-7);
    }
}
